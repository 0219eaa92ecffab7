//go:build e2e

package e2e

import (
	"slices"
	"testing"
)

// The suite's checks, each shown to fail on what a broken deployment would
// show, and to pass on what a working one shows. They need no Docker.

const renderedTwo = `upstream hello_server {
    server 172.30.0.6:7777 max_fails=0;
    server 172.30.0.7:7777 max_fails=0;

    keepalive 64;
}
map "" $hello_server_upstream {
    default "172.30.0.6:7777 172.30.0.7:7777 ";
}`

const renderedNone = `upstream hello_server {
    # No passing replica.
    server 127.0.0.1:7777 down;
    keepalive 64;
}`

func TestCheckUpstreamMembership(t *testing.T) {
	two := renderedServers(renderedTwo)
	if want := []string{"172.30.0.6:7777", "172.30.0.7:7777"}; !slices.Equal(two, want) {
		t.Fatalf("renderedServers: expected %v, received %v", want, two)
	}
	if got := renderedServers(renderedNone); len(got) != 0 {
		t.Fatalf("renderedServers of the empty upstream: expected none (the down placeholder is no server), received %v", got)
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
	for line, want := range map[string]bool{
		"reload-nginx: reloaded nginx with 2 hello_server replica(s): 172.30.0.6:7777 172.30.0.8:7777": true,
		"reload-nginx: reloaded nginx with 0 hello_server replica(s): ":                                true,
		// The reload that still routes to the stopped replica does not count.
		"reload-nginx: reloaded nginx with 3 hello_server replica(s): 172.30.0.6:7777 172.30.0.7:7777 172.30.0.8:7777": false,
		// A longer address that starts the same is another replica.
		"reload-nginx: reloaded nginx with 1 hello_server replica(s): 172.30.0.7:77770":                         true,
		"reload-nginx: nginx -t rejected the rendered /etc/nginx/conf.d/load-balancer.conf":                     false,
		"reload-nginx: nginx is not running yet; it will start with 1 hello_server replica(s): 172.30.0.6:7777": false,
	} {
		if got := reloadWithout(line, stopped); got != want {
			t.Errorf("reloadWithout(%q): expected %v, received %v", line, want, got)
		}
	}
}

func TestCheckWorkersReplaced(t *testing.T) {
	if workersReplaced([]string{"40"}, []string{"40"}) == nil {
		t.Error("passed although the worker from before the reload still serves")
	}
	if workersReplaced([]string{"40"}, nil) == nil {
		t.Error("passed although no worker serves")
	}
	if err := workersReplaced([]string{"40"}, []string{"57"}); err != nil {
		t.Errorf("failed on a replaced worker: %v", err)
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
	listing := "1 /sbin/docker-init -- /usr/local/bin/entrypoint.sh \n" +
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
