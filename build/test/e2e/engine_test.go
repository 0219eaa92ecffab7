//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/supervisorconf"
	"github.com/grpc-lb/nginx-consul/build/test/ghzload"
)

// engine is what differs between the load balancer's engines (LB_ENGINE):
// where the render goes, what the reload script logs, how a reload is
// started and how its new workers are told from the old ones. Every scenario
// runs against each engine through this; nothing else in the suite names
// one. An engine is a folder of build/config/lb/ (repoEngines), and each
// must have its entry in engines (TestCheckEveryEngineHasAnEntry).
type engine struct {
	// name is LB_ENGINE's value.
	name string
	// rendered is the file consul-template renders.
	rendered string
	// reloadScript is the log prefix of the command consul-template runs
	// after each render (reload-nginx.sh; haproxy-reload, which logs as
	// reload-haproxy): it logs "<prefix>: skipped hello_server instance ..."
	// and rejections, and routedLog, then the servers in force.
	reloadScript string
	// routedLog starts the reload script's line for a change that took
	// effect: "reload-nginx: reloaded nginx with " (a reload), or
	// "reload-haproxy: haproxy routes to " (the Runtime API, or a reload
	// when that failed), then "N hello_server replica(s): A B ...".
	routedLog string
	// rejected is the reload script's log when the engine's config check
	// refuses a render.
	rejected string
	// masterPID is a shell command printing the running master's pid.
	masterPID string
	// parseRendered lists the servers of a rendered file, as address:port.
	parseRendered func(conf string) []string
	// reload is the command (run as app in the load balancer) that reloads
	// the engine with the rendered file as it is: a real reload, new workers
	// (HAProxy's haproxy-reload changes servers without one).
	reload []string
	// markUpstream is a sed script that adds marker (or, with "", removes
	// it) to the servers the running config reports on :8080/upstream; the
	// reload that follows must make the marker appear there.
	markUpstream func(marker string) string
	// workers lists the engine's workers that take new connections in the
	// load balancer lb: nginxWorkers or masterChildren.
	workers func(d *Deployment, lb string) []string
	// replaced checks that a reload took effect, from the workers before
	// and after it: everyWorkerNew or aWorkerNew.
	replaced func(name string, before, after []string) error
	// scaleFailures are the errors a client that does not retry may see
	// while replicas come and go (ghz's, in scalingUnderGhz); any other
	// failed call fails the scenario, and with none listed every call must
	// pass.
	scaleFailures []string
}

var engines = map[string]engine{
	"nginx": {
		name:          "nginx",
		rendered:      "/tmp/nginx/load-balancer.conf",
		reloadScript:  "reload-nginx",
		routedLog:     "reload-nginx: reloaded nginx with ",
		rejected:      "nginx -t rejected",
		masterPID:     "cat /tmp/nginx/nginx.pid",
		parseRendered: nginxServers,
		reload:        []string{"nginx", "-e", "stderr", "-c", "/etc/lb/nginx/nginx.conf", "-s", "reload"},
		markUpstream: func(marker string) string {
			return `s/^\( *"\/upstream" "[^"]*\) *reload-check *";/\1";/; s/^\( *"\/upstream" "[^"]*\)";/\1 ` + marker + `";/`
		},
		workers:  nginxWorkers,
		replaced: everyWorkerNew,
		// A call the GOAWAY of a reload refused ("the connection is
		// draining"), or one still on its way when the old worker closed
		// the connection after it ("transport is closing": the close's RST
		// can discard the unread GOAWAY).
		scaleFailures: []string{ghzload.DrainingMessage, closingMessage},
	},
	"haproxy": {
		name:          "haproxy",
		rendered:      "/tmp/haproxy/load-balancer.cfg",
		reloadScript:  "reload-haproxy",
		routedLog:     "reload-haproxy: haproxy routes to ",
		rejected:      "haproxy -c rejected",
		masterPID:     "cat /tmp/haproxy/haproxy.pid",
		parseRendered: haproxyServers,
		reload:        []string{"sh", "-c", "kill -USR2 $(cat /tmp/haproxy/haproxy.pid)"},
		markUpstream: func(marker string) string {
			if marker != "" {
				marker += " "
			}
			return `s/reload-check //; s/^\( *set-var proc.hello_server_upstream str("[^"]*\)")/\1` + marker + `")/`
		},
		workers:  masterChildren,
		replaced: aWorkerNew,
		// None: haproxy-reload moves the servers through the Runtime API,
		// and a reload soft-stops the old worker, which closes its
		// connections only once they are idle.
		scaleFailures: nil,
	},
}

// repoEngines are the repository's engines, the folders of build/config/lb/
// that hold a supervisord.conf, the default first.
func repoEngines(t *testing.T) []string {
	t.Helper()
	names, err := supervisorconf.RepoEngines(repoRoot())
	if err != nil || len(names) == 0 {
		t.Fatalf("the engines of %s: %v, %v", supervisorconf.RepoEnginesDir, names, err)
	}
	return names
}

// acceptedEngines is how make's lb-engine-setting names the values of
// LB_ENGINE it accepts: "nginx (the default) or haproxy", or with more
// engines "nginx (the default), a or b".
func acceptedEngines(t *testing.T) string {
	t.Helper()
	names := repoEngines(t)
	if names[0] != supervisorconf.DefaultEngine {
		t.Fatalf("the engines of %s, %v, do not include the default, %s", supervisorconf.RepoEnginesDir, names, supervisorconf.DefaultEngine)
	}
	accepted := names[0] + " (the default)"
	for i, n := range names[1:] {
		if i == len(names)-2 {
			accepted += " or " + n
		} else {
			accepted += ", " + n
		}
	}
	return accepted
}

// enginesUnderTest are the engines the suite runs its scenarios against:
// E2E_ENGINES, a space-separated list, default every engine of the
// repository, the default engine first.
func enginesUnderTest(t *testing.T) []engine {
	t.Helper()
	all := repoEngines(t)
	raw, set := os.LookupEnv("E2E_ENGINES")
	if !set {
		raw = strings.Join(all, " ")
	}
	invalid := func() {
		t.Fatalf("E2E_ENGINES=%q is invalid: accepted is a space-separated list of the engines (%s), each at most once", raw, strings.Join(all, " "))
	}
	var out []engine
	for _, n := range strings.Fields(raw) {
		e, ok := engines[n]
		if !ok && slices.Contains(all, n) {
			t.Fatalf("engine %s (build/config/lb/%s/) has no entry in the engines table (engine_test.go)", n, n)
		}
		if !ok || !slices.Contains(all, n) || slices.ContainsFunc(out, func(o engine) bool { return o.name == n }) {
			invalid()
		}
		out = append(out, e)
	}
	if len(out) == 0 {
		invalid()
	}
	return out
}

// reloadedPrefix starts the reload script's log line of a change of
// servers that took effect.
func (e engine) reloadedPrefix() string {
	return e.routedLog
}

// skippedPrefix starts the reload script's log line of an instance the
// template left out.
func (e engine) skippedPrefix() string {
	return e.reloadScript + ": skipped hello_server instance"
}

// reloadWithout tells whether a log line is the reload script's report of a
// reload whose servers do not include addr
// ("reload-nginx: reloaded nginx with N hello_server replica(s): A B ...").
func (e engine) reloadWithout(line, addr string) bool {
	_, servers, ok := strings.Cut(line, e.reloadedPrefix())
	if !ok {
		return false
	}
	_, list, ok := strings.Cut(servers, "replica(s):")
	return ok && !slices.Contains(strings.Fields(list), addr)
}

// nginxServers parses the `server ADDRESS:PORT max_fails=...;` lines of a
// rendered load-balancer.conf; the "down" placeholder of an empty upstream
// is not a server.
func nginxServers(conf string) []string {
	var servers []string
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "server" && strings.HasPrefix(f[2], "max_fails=") {
			servers = append(servers, f[1])
		}
	}
	slices.Sort(servers)
	return servers
}

// haproxyServers parses the `server replica-N ADDRESS:PORT` lines of a
// rendered load-balancer.cfg; free slots (`... disabled`) are no server.
func haproxyServers(conf string) []string {
	var servers []string
	for _, line := range strings.Split(conf, "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[0] == "server" && strings.HasPrefix(f[1], "replica-") {
			servers = append(servers, f[2])
		}
	}
	slices.Sort(servers)
	return servers
}

// children lists the pids whose parent is pid, from a "pid ppid" listing.
func children(listing, pid string) []string {
	var out []string
	for _, line := range strings.Split(listing, "\n") {
		f := strings.Fields(line)
		if len(f) == 2 && f[1] == pid {
			out = append(out, f[0])
		}
	}
	slices.Sort(out)
	return out
}

// engineWorkers lists the engine's workers that take new connections.
func (d *Deployment) engineWorkers(lb string) []string {
	return d.engine.workers(d, lb)
}

// workersReplaced checks that a reload took effect (engine.replaced).
func (e engine) workersReplaced(before, after []string) error {
	if len(after) == 0 {
		return fmt.Errorf("no %s worker is serving", e.name)
	}
	return e.replaced(e.name, before, after)
}

// nginxWorkers are nginx's workers that take new connections: an old
// worker renames itself "nginx: worker process is shutting down".
func nginxWorkers(d *Deployment, lb string) []string {
	all := d.processes(lb, "nginx: worker process")
	leaving := d.processes(lb, "nginx: worker process is shutting down")
	return slices.DeleteFunc(all, func(pid string) bool { return slices.Contains(leaving, pid) })
}

// masterChildren are all the children of the engine's master, for an
// engine whose old workers keep their name (HAProxy's): a reload shows as a
// child that was not there.
func masterChildren(d *Deployment, lb string) []string {
	master := d.enginePID(lb)
	out, err := d.run(time.Minute, "docker", "exec", lb, "sh", "-c",
		`for s in /proc/[0-9]*/stat; do read -r l < $s 2>/dev/null || continue; set -- ${l##*) }; echo "${l%% *} $2"; done`)
	if err != nil {
		d.t.Fatalf("listing the processes of %s: %v\n%s", lb, err, out)
	}
	return children(out, master)
}

// everyWorkerNew: none of the workers that served before still serves
// (nginxWorkers leaves the old ones out).
func everyWorkerNew(name string, before, after []string) error {
	for _, pid := range after {
		if slices.Contains(before, pid) {
			return fmt.Errorf("%s worker %s from before the reload still serves (before %v, now %v)", name, pid, before, after)
		}
	}
	return nil
}

// aWorkerNew: the master has a worker it did not have before (masterChildren
// lists the old ones too, as they finish).
func aWorkerNew(name string, before, after []string) error {
	for _, pid := range after {
		if !slices.Contains(before, pid) {
			return nil
		}
	}
	return fmt.Errorf("no new %s worker (before %v, now %v)", name, before, after)
}

// enginePID is the engine master's pid, or "" when none runs.
func (d *Deployment) enginePID(lb string) string {
	out, err := d.run(time.Minute, "docker", "exec", lb, "sh", "-c",
		`p=$(`+d.engine.masterPID+` 2>/dev/null) && [ -n "$p" ] && [ -d /proc/$p ] && ! grep -q '^State:.*Z' /proc/$p/status && echo $p`)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(out)
}

// requireEngine checks that the load balancer runs d's engine and not the
// other: the engine's master runs, the other's program is not configured,
// and the entrypoint logged the choice.
func (d *Deployment) requireEngine(t *testing.T) {
	t.Helper()
	lb := d.ContainerIDs("load-balancer")[0]
	if pid := d.enginePID(lb); pid == "" {
		t.Fatalf("LB_ENGINE=%s: no %s master runs in the load balancer", d.engine.name, d.engine.name)
	}
	for name := range engines {
		running := len(d.processes(lb, name)) > 0 || len(d.processes(lb, "/usr/sbin/"+name)) > 0
		if running != (name == d.engine.name) {
			t.Fatalf("LB_ENGINE=%s: %s running in the load balancer: expected %v, received %v", d.engine.name, name, name == d.engine.name, running)
		}
	}
	logged := false
	for _, l := range d.Logs(lb, time.Unix(0, 0)) {
		logged = logged || strings.Contains(l.Text, "entrypoint: LB_ENGINE="+d.engine.name)
	}
	if !logged {
		t.Fatalf("the load balancer did not log \"entrypoint: LB_ENGINE=%s\"", d.engine.name)
	}
	fmt.Printf("the load balancer runs %s (master pid %s)\n", d.engine.name, d.enginePID(lb))
}
