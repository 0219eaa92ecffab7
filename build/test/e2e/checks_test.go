//go:build e2e

package e2e

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The suite's checks, each shown to fail on what a broken deployment would
// show, and to pass on what a working one shows. They need no Docker.

// Renders of the deployment's templates (build/config/lb/<engine>/
// load-balancer.tpl with build/config/services.conf), comments shortened.
const renderedTwo = `# upstream hello_server: 2 replica(s): 172.30.0.6:7777 172.30.0.7:7777
upstream hello_server {
    server 172.30.0.6:7777 max_fails=0;
    server 172.30.0.7:7777 max_fails=0;
    keepalive 1024;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
}
map $grpc_service $grpc_upstream {
    default "";
    "protos.Echo" hello_server;
    "protos.Ping" hello_server;
}
map $uri $upstream_servers {
    default "-";
    "/upstream/hello_server" "172.30.0.6:7777 172.30.0.7:7777 ";
    "/upstream" "172.30.0.6:7777 172.30.0.7:7777 ";
}
map "$grpc_upstream $upstream_status" $no_replica_message {
    default "no replica answered (upstream status $upstream_status)";
    "~^hello_server 504(, 504)*$" "2 hello_server replica(s) known; every try timed out (upstream status $upstream_status) for $grpc_service";
    "~^hello_server " "2 hello_server replica(s) known; every try failed (upstream status $upstream_status) for $grpc_service";
}`

const renderedNone = `# upstream hello_server: 0 replica(s): 
upstream hello_server {
    # No passing replica.
    server 127.0.0.1:7777 down;
    keepalive 1024;
}`

const renderedTwoHAProxy = `# skipped hello_server instance (not an IPv4 address with a port from 1 to 65535): id=bad node=n address=server 1.2.3.4:1 port=7777

backend hello_server from replicas
    server replica-1 172.30.0.6:7777
    server replica-2 172.30.0.7:7777
    server replica-3 127.0.0.1:1 disabled

frontend grpc from grpc
    bind "${GRPC_LISTEN}" proto h2
    http-request set-var(txn.route) str(hello_server) if { var(txn.grpc_service) -m str protos.Ping }
    use_backend hello_server if { var(txn.route) -m str hello_server }

global
    set-var proc.hello_server_upstream str("172.30.0.6:7777 172.30.0.7:7777 ")`

const renderedNoneHAProxy = `backend hello_server from replicas
    server replica-1 127.0.0.1:1 disabled

global
    set-var proc.hello_server_upstream str("")`

func TestCheckUpstreamMembership(t *testing.T) {
	two := nginxServers(renderedTwo)
	if want := []string{"172.30.0.6:7777", "172.30.0.7:7777"}; !slices.Equal(two, want) {
		t.Fatalf("nginxServers: expected %v, received %v", want, two)
	}
	if got := nginxServers(renderedNone); len(got) != 0 {
		t.Fatalf("nginxServers of the empty upstream: expected none (the down placeholder is no server), received %v", got)
	}
	if got := haproxyServers(renderedTwoHAProxy); !slices.Equal(got, two) {
		t.Fatalf("haproxyServers: expected %v (the skipped comment is no server), received %v", two, got)
	}
	if got := haproxyServers(renderedNoneHAProxy); len(got) != 0 {
		t.Fatalf("haproxyServers of no server: expected none, received %v", got)
	}
	// A stopped replica still rendered: the "gone" check must fail.
	if upstreamHas(two, "172.30.0.7:7777", false) == nil {
		t.Error("upstreamHas(want gone) passed although the address is still there")
	}
	if upstreamHas(two, "172.30.0.8:7777", true) == nil {
		t.Error("upstreamHas(want present) passed although the address is missing")
	}
	if err := upstreamHas(two, "172.30.0.8:7777", false); err != nil {
		t.Errorf("upstreamHas(want gone) failed on an upstream without it: %v", err)
	}
}

func TestCheckReloadWithout(t *testing.T) {
	const stopped = "172.30.0.7:7777"
	nginx, haproxy := engines["nginx"], engines["haproxy"]
	for line, want := range map[string]bool{
		"reload-haproxy: haproxy routes to 1 hello_server replica(s): 172.30.0.6:7777 (Runtime API, no reload)":                 true,
		"reload-haproxy: haproxy routes to 1 hello_server replica(s): 172.30.0.6:7777 (reloaded)":                               true,
		"reload-haproxy: haproxy routes to 2 hello_server replica(s): 172.30.0.6:7777 172.30.0.7:7777 (Runtime API, no reload)": false,
		"reload-haproxy: haproxy's master started no new worker within 10 s of the reload signal; the next render":              false,
		// The other engine's line is not this engine's reload.
		"reload-nginx: reloaded nginx with 1 hello_server replica(s): 172.30.0.6:7777": false,
	} {
		if got := haproxy.reloadWithout(line, stopped); got != want {
			t.Errorf("haproxy reloadWithout(%q): expected %v, received %v", line, want, got)
		}
	}
	for line, want := range map[string]bool{
		"reload-haproxy: haproxy routes to 1 hello_server replica(s): 172.30.0.6:7777 (Runtime API, no reload)": false,
		"reload-nginx: reloaded nginx with 2 hello_server replica(s): 172.30.0.6:7777 172.30.0.8:7777":          true,
		"reload-nginx: reloaded nginx with 0 hello_server replica(s): ":                                         true,
		// The reload that still routes to the stopped replica does not count.
		"reload-nginx: reloaded nginx with 3 hello_server replica(s): 172.30.0.6:7777 172.30.0.7:7777 172.30.0.8:7777": false,
		// A longer address that starts the same is another replica.
		"reload-nginx: reloaded nginx with 1 hello_server replica(s): 172.30.0.7:77770":                         true,
		"reload-nginx: nginx -t rejected the rendered /tmp/nginx/load-balancer.conf":                            false,
		"reload-nginx: nginx is not running yet; it will start with 1 hello_server replica(s): 172.30.0.6:7777": false,
	} {
		if got := nginx.reloadWithout(line, stopped); got != want {
			t.Errorf("nginx reloadWithout(%q): expected %v, received %v", line, want, got)
		}
	}
}

func TestCheckWorkersReplaced(t *testing.T) {
	nginx, haproxy := engines["nginx"], engines["haproxy"]
	if nginx.workersReplaced([]string{"40"}, []string{"40"}) == nil {
		t.Error("nginx: passed although the worker from before the reload still serves")
	}
	if nginx.workersReplaced([]string{"40"}, nil) == nil {
		t.Error("nginx: passed although no worker serves")
	}
	if err := nginx.workersReplaced([]string{"40"}, []string{"57"}); err != nil {
		t.Errorf("nginx: failed on a replaced worker: %v", err)
	}
	// HAProxy's old worker soft-stops under the same name: a new one must be there.
	if haproxy.workersReplaced([]string{"40"}, []string{"40"}) == nil {
		t.Error("haproxy: passed although the master has no new worker")
	}
	if haproxy.workersReplaced([]string{"40"}, nil) == nil {
		t.Error("haproxy: passed although no worker runs")
	}
	if err := haproxy.workersReplaced([]string{"40"}, []string{"40", "57"}); err != nil {
		t.Errorf("haproxy: failed on a new worker next to the soft-stopping one: %v", err)
	}
}

func TestCheckChildren(t *testing.T) {
	listing := "1 0\n7 1\n30 7\n31 7\n310 30\n"
	if got := children(listing, "7"); !slices.Equal(got, []string{"30", "31"}) {
		t.Errorf("children of 7: expected [30 31], received %v", got)
	}
	if got := children(listing, "99"); len(got) != 0 {
		t.Errorf("children of 99: expected none, received %v", got)
	}
}

// The sed scripts that mark the running config's servers must change each
// engine's rendered file, and remove the marker again.
func TestCheckMarkUpstream(t *testing.T) {
	for name, conf := range map[string]string{"nginx": renderedTwo, "haproxy": renderedTwoHAProxy} {
		e := engines[name]
		marked := sedRun(t, e.markUpstream("reload-check"), conf)
		// The line :8080/upstream reports: the servers, then the marker, one
		// quoted string (a line's last).
		ok := false
		for _, line := range strings.Split(marked, "\n") {
			if parts := strings.Split(line, `"`); len(parts) >= 3 {
				f := strings.Fields(parts[len(parts)-2])
				ok = ok || slices.Equal(f, []string{"172.30.0.6:7777", "172.30.0.7:7777", "reload-check"})
			}
		}
		if !ok {
			t.Errorf("%s: the marker is not after the servers in the quoted list:\n%s", name, marked)
		}
		if back := sedRun(t, e.markUpstream(""), marked); strings.Contains(back, "reload-check") {
			t.Errorf("%s: the marker was not removed:\n%s", name, back)
		}
	}
}

func sedRun(t *testing.T, script, in string) string {
	t.Helper()
	cmd := exec.Command("sed", script)
	cmd.Stdin = strings.NewReader(in)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sed %q: %v", script, err)
	}
	return string(out)
}

// make refuses an LB_ENGINE that names no engine folder with the message
// the README step checks (acceptedEngines), before anything is built.
func TestCheckMakeNamesTheEngines(t *testing.T) {
	cmd := exec.Command("make", "--no-print-directory", "lb-engine-setting")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "LB_ENGINE=no-such-engine")
	out, err := cmd.CombinedOutput()
	want := `make: LB_ENGINE="no-such-engine" is invalid: accepted is ` + acceptedEngines(t) + "\n"
	if !strings.HasPrefix(string(out), want) || err == nil {
		t.Errorf("LB_ENGINE=no-such-engine make lb-engine-setting: expected %q and a failure, received %v:\n%s", want, err, out)
	}
	for _, e := range append(repoEngines(t), "") {
		cmd := exec.Command("make", "--no-print-directory", "lb-engine-setting")
		cmd.Dir = repoRoot()
		cmd.Env = append(os.Environ(), "LB_ENGINE="+e)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("LB_ENGINE=%q make lb-engine-setting: %v:\n%s", e, err, out)
		}
	}
}

func TestCheckEnginesUnderTest(t *testing.T) {
	t.Setenv("E2E_ENGINES", "haproxy")
	if got := enginesUnderTest(t); len(got) != 1 || got[0].name != "haproxy" {
		t.Errorf("E2E_ENGINES=haproxy: received %v", got)
	}
	os.Unsetenv("E2E_ENGINES") // t.Setenv restores it
	var names []string
	for _, e := range enginesUnderTest(t) {
		names = append(names, e.name)
	}
	if want := repoEngines(t); !slices.Equal(names, want) || names[0] != "nginx" {
		t.Errorf("E2E_ENGINES unset: expected every engine folder, the default first, %v, received %v", want, names)
	}
}

// Every engine, a folder of build/config/lb/, has its entry in the engines
// table, and every entry is an engine's, with each of its facts.
func TestCheckEveryEngineHasAnEntry(t *testing.T) {
	folders := repoEngines(t)
	for _, name := range folders {
		e, ok := engines[name]
		if !ok {
			t.Errorf("engine %s (build/config/lb/%s/) has no entry in the engines table (engine_test.go): add one, with the facts the suite needs", name, name)
			continue
		}
		if e.name != name || e.rendered == "" || e.reloadScript == "" || e.routedLog == "" || e.rejected == "" ||
			e.masterPID == "" || e.parseRendered == nil || len(e.reload) == 0 || e.markUpstream == nil ||
			e.workers == nil || e.replaced == nil {
			t.Errorf("engines[%q] leaves a fact out (only scaleFailures may be empty): %+v", name, e)
		}
	}
	for name := range engines {
		if !slices.Contains(folders, name) {
			t.Errorf("engines[%q] names no engine folder of build/config/lb/ (one with a supervisord.conf)", name)
		}
	}
}

func TestCheckRaftPeers(t *testing.T) {
	out := `Node             ID                                    Address          State     Voter  RaftProtocol
consul-server-1  0c4cf6b5-6a2c-5e0a-9a4c-6a2a3e4f4b10  172.30.0.3:8300  follower  true   3
consul-server-2  1d5d07c6-7b3d-6f1b-ab5d-7b3b4f5a5c21  172.30.0.4:8300  leader    true   3
`
	peers := parseRaftPeers(out)
	if len(peers) != 2 || peers["consul-server-2"] != "leader" || peers["consul-server-1"] != "follower" {
		t.Fatalf("parseRaftPeers: received %v", peers)
	}
}

func TestCheckSameRestartState(t *testing.T) {
	before := restartState{"grpclb_hello_server_1": "restarts 0", "grpclb_hello_server_1/registrar": "pid 31"}
	if err := sameRestartState(before, restartState{"grpclb_hello_server_1": "restarts 0", "grpclb_hello_server_1/registrar": "pid 31"}); err != nil {
		t.Errorf("failed on an unchanged state: %v", err)
	}
	if sameRestartState(before, restartState{"grpclb_hello_server_1": "restarts 1", "grpclb_hello_server_1/registrar": "pid 31"}) == nil {
		t.Error("passed although the container restarted")
	}
	if sameRestartState(before, restartState{"grpclb_hello_server_1": "restarts 0", "grpclb_hello_server_1/registrar": "pid 88"}) == nil {
		t.Error("passed although supervisord restarted the registrar")
	}
	if sameRestartState(restartState{}, restartState{}) == nil {
		t.Error("passed although nothing was read")
	}
}

func TestCheckPidsWithPrefix(t *testing.T) {
	listing := "1 /sbin/docker-init -- /usr/local/bin/supervisord-entrypoint \n" +
		"40 nginx: worker process \n" +
		"41 nginx: worker process is shutting down \n" +
		"52 /usr/local/bin/consul-template -config=/etc/consul-template/consul-template.hcl \n"
	if got := pidsWithPrefix(listing, "nginx: worker process"); !slices.Equal(got, []string{"40", "41"}) {
		t.Errorf("nginx workers: received %v", got)
	}
	if got := pidsWithPrefix(listing, "/usr/local/bin/consul-template"); !slices.Equal(got, []string{"52"}) {
		t.Errorf("consul-template: received %v", got)
	}
	if got := pidsWithPrefix(listing, "nginx: master process"); len(got) != 0 {
		t.Errorf("no master in the listing, received %v", got)
	}
}

func TestCheckEstablishedTo(t *testing.T) {
	// A client agent at 10.231.0.12: connected to 10.231.0.5:8300 twice and
	// to 10.231.0.3:8300; a closed (06, TIME_WAIT) one to 10.231.0.4:8300;
	// one to 10.231.0.5:8301 (serf); its API listening on 127.0.0.1:8500.
	table := `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:2134 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0000000000000000 100 0 0 10 0
   1: 0C00E70A:A1B2 0500E70A:206C 01 00000000:00000000 02:000A7B2C 00000000     0        0 2 1 0000000000000000 20 4 30 10 -1
   2: 0C00E70A:A1B3 0500E70A:206C 01 00000000:00000000 02:000A7B2C 00000000     0        0 3 1 0000000000000000 20 4 30 10 -1
   3: 0C00E70A:A1B4 0300E70A:206C 01 00000000:00000000 02:000A7B2C 00000000     0        0 4 1 0000000000000000 20 4 30 10 -1
   4: 0C00E70A:A1B5 0400E70A:206C 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
   5: 0C00E70A:A1B6 0500E70A:206D 01 00000000:00000000 02:000A7B2C 00000000     0        0 5 1 0000000000000000 20 4 30 10 -1
`
	if got := establishedTo(table, 8300); !slices.Equal(got, []string{"10.231.0.3", "10.231.0.5"}) {
		t.Errorf("establishedTo(8300): received %v, want [10.231.0.3 10.231.0.5]", got)
	}
	if got := establishedTo(table, 8500); len(got) != 0 {
		t.Errorf("establishedTo(8500): received %v, want none (only a listener)", got)
	}
}
