//go:build e2e

package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/stopbudget"
)

// restartState is what changes when anything restarts: each container's
// restart count (Docker's restart policy) and, in the containers that run
// supervisord, each program's pid (supervisord restarts a program that
// exits under a new pid).
type restartState map[string]string

// restartState reads it for every container of the deployment, keyed
// "<container name>" for the count and "<container name>/<program>" for pids.
func (d *Deployment) restartState() restartState {
	d.t.Helper()
	// The programs of each service's image, from its program files.
	tree, err := stopbudget.Load(d.root)
	if err != nil {
		d.t.Fatal(err)
	}
	state := restartState{}
	ids := strings.Fields(d.Compose(time.Minute, "ps", "-q"))
	// One line per container: "/name restarts entrypoint service".
	out := d.Docker(append([]string{"inspect", "--format",
		`{{.Name}} {{.RestartCount}} {{index .Config.Entrypoint 0}} {{index .Config.Labels "com.docker.compose.service"}}`}, ids...)...)
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		head := strings.Fields(strings.TrimPrefix(line, "/"))
		if len(head) != 4 {
			d.t.Fatalf("docker inspect: unexpected line %q", line)
		}
		name, service := head[0], head[3]
		state[name] = "restarts " + head[1]
		if head[2] != "/usr/local/bin/supervisord-entrypoint" {
			continue // a Consul server: consul itself, no supervisord
		}
		programs, err := tree.StopOrder(service, d.engine.name)
		if err != nil || len(programs) == 0 {
			d.t.Fatalf("container %s: the programs of service %q: %v", name, service, err)
		}
		for _, program := range programs {
			pid, _ := d.run(30*time.Second, "docker", "exec", name, "/usr/local/bin/supervisord", "ctl",
				"-s", "unix:///tmp/supervisord.sock", "pid", program.Name)
			state[name+"/"+program.Name] = "pid " + strings.TrimSpace(pid)
		}
	}
	return state
}

// sameRestartState names every container or program whose restart count or
// pid changed between two readings.
func sameRestartState(before, after restartState) error {
	var changed []string
	for _, key := range slices.Sorted(maps.Keys(before)) {
		if after[key] != before[key] {
			changed = append(changed, fmt.Sprintf("%s: %s before, %q after", key, before[key], after[key]))
		}
	}
	if len(before) == 0 {
		return fmt.Errorf("no container was read")
	}
	if len(changed) > 0 {
		return fmt.Errorf("restarted:\n  %s", strings.Join(changed, "\n  "))
	}
	return nil
}
