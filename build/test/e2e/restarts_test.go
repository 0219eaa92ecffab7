//go:build e2e

package e2e

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
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
	state := restartState{}
	ids := strings.Fields(d.Compose(time.Minute, "ps", "-q"))
	// One block per container: "/name restarts entrypoint", then its
	// environment, a variable per line (none starts with "/").
	out := d.Docker(append([]string{"inspect", "--format",
		"{{.Name}} {{.RestartCount}} {{index .Config.Entrypoint 0}}\n{{range .Config.Env}}{{println .}}{{end}}"}, ids...)...)
	for _, block := range strings.Split(out, "\n/") {
		lines := strings.Split(strings.TrimPrefix(block, "/"), "\n")
		head := strings.Fields(lines[0])
		if len(head) != 3 {
			d.t.Fatalf("docker inspect: unexpected line %q", lines[0])
		}
		name := head[0]
		state[name] = "restarts " + head[1]
		if head[2] != "/usr/local/bin/supervisord-entrypoint" {
			continue // a Consul server: consul itself, no supervisord
		}
		for _, env := range lines[1:] {
			order, ok := strings.CutPrefix(env, "SUPERVISORD_STOP_ORDER=")
			if !ok {
				continue
			}
			for _, program := range strings.Fields(order) {
				pid, _ := d.run(30*time.Second, "docker", "exec", name, "/usr/local/bin/supervisord", "ctl",
					"-s", "unix:///tmp/supervisord.sock", "pid", program)
				state[name+"/"+program] = "pid " + strings.TrimSpace(pid)
			}
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
