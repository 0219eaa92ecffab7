// Package swarm holds the Swarm deployment's script (swarm.sh) and
// stack.yaml; these tests check that swarm.sh and the Consul scripts refuse
// a bad setting with exit 2 and one line naming the setting, the value and
// what is accepted, before they change anything. The deployments themselves
// are tested by the end-to-end suite (TestSwarm, and TestSwarmThreeNodes on
// the nodes of build/test/scripts/nodes.sh).
package swarm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grpc-lb/nginx-consul/build/routes"
	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

func TestSwarmScriptRefusesBadSettings(t *testing.T) {
	declaration, err := routes.Load(filepath.Join(testenv.RepoRoot(t), "build", "config", "services.conf"))
	if err != nil {
		t.Fatal(err)
	}
	declared := strings.Join(routes.ConsulServices(declaration), ", ")
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"REPLICAS=0"}, []string{"up"}, `REPLICAS="0" is invalid: accepted is a whole number from 1 to 9999`},
		{[]string{"REPLICAS=two"}, []string{"up"}, `REPLICAS="two" is invalid`},
		{[]string{"SWARM_STACK=Grpc LB"}, []string{"up"}, `SWARM_STACK="Grpc LB" is invalid: accepted is lower-case letters, digits, - and _`},
		{nil, []string{"scale"}, `swarm: N="" is invalid: accepted is a whole number from 1 up (N=5: five replicas)`},
		{nil, []string{"scale", "-1"}, `N="-1" is invalid`},
		{nil, []string{"scale", "0"}, `N="0" is invalid`},
		{nil, []string{"scale", "2", "no_such_service"}, `swarm: SERVICE="no_such_service" is invalid: accepted is a Consul service that build/config/services.conf declares: ` + declared},
		{nil, []string{"scale", "2", "hello-server"}, `SERVICE="hello-server" is invalid`},
		{nil, []string{"rollout"}, "usage: swarm.sh up | scale N [SERVICE] | down | ui"},
	} {
		testenv.RequireRefused(t, c.env, "build/swarm/swarm.sh", c.args, c.want)
	}
}

// The Consul scripts' Swarm settings (CONSUL_BIND_NETWORK, set by
// stack.yaml; CONSUL_SERVER_HEALTHY_WHEN) are refused at start, before
// Consul runs.
func TestConsulScriptsRefuseBadSwarmSettings(t *testing.T) {
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{"CONSUL_BIND_NETWORK=10.231.0.0"}, `CONSUL_BIND_NETWORK="10.231.0.0" is invalid: accepted is an IPv4 network in CIDR form`},
		{[]string{"CONSUL_BIND_NETWORK=10.231.0.0/33"}, `CONSUL_BIND_NETWORK="10.231.0.0/33" is invalid`},
		{[]string{"CONSUL_BIND_NETWORK=256.1.0.0/16"}, `CONSUL_BIND_NETWORK="256.1.0.0/16" is invalid`},
		{[]string{"CONSUL_BIND_NETWORK=eth0"}, `CONSUL_BIND_NETWORK="eth0" is invalid`},
		{[]string{"CONSUL_SERVER_HEALTHY_WHEN=elected"}, `CONSUL_SERVER_HEALTHY_WHEN="elected" is invalid: accepted is leader (the default) or answering`},
	} {
		testenv.RequireRefused(t, c.env, "build/config/consul/run-server.sh", nil, c.want)
	}
	// load-balancer: the node prefix run-agent.sh accepts without reading
	// the image's declaration of routes (a replica's prefix it checks there).
	testenv.RequireRefused(t, []string{"CONSUL_NODE_PREFIX=load-balancer", "CONSUL_BIND_NETWORK=10.231.0.0/8x"}, "build/config/consul/run-agent.sh", nil,
		`CONSUL_BIND_NETWORK="10.231.0.0/8x" is invalid`)
	// A server must know which one it is, to join the other two.
	host, _ := os.Hostname()
	if !strings.HasPrefix(host, "consul-server-") {
		testenv.RequireRefused(t, []string{"CONSUL_BIND_NETWORK=10.231.0.0/20"}, "build/config/consul/run-server.sh", nil,
			`the hostname "`+host+`" is invalid: accepted is consul-server-1, consul-server-2 or consul-server-3`)
	}
	status, out := testenv.RunScript(t, []string{"CONSUL_SERVER_HEALTHY_WHEN=elected"}, "build/config/consul/server-healthy.sh")
	if status == 0 || !strings.Contains(out, `CONSUL_SERVER_HEALTHY_WHEN="elected" is invalid: accepted is leader or answering`) {
		t.Errorf("server-healthy.sh with CONSUL_SERVER_HEALTHY_WHEN=elected: exit %d, %q; expected unhealthy with the accepted values", status, out)
	}
}

// The -bind flag names the overlay's subnet, for go-sockaddr to pick the
// task's address there.
func TestConsulBindFlag(t *testing.T) {
	cmd := exec.Command("sh", "-c", `. build/config/consul/bind-network.sh && consul_bind_flag`)
	cmd.Dir = testenv.RepoRoot(t)
	cmd.Env = append(os.Environ(), "CONSUL_BIND_NETWORK=10.231.0.0/20")
	out, err := cmd.CombinedOutput()
	want := `-bind={{ GetAllInterfaces | include "network" "10.231.0.0/20" | attr "address" }}`
	if err != nil || strings.TrimSpace(string(out)) != want {
		t.Errorf("consul_bind_flag: %v, %q; expected %q", err, out, want)
	}
	cmd = exec.Command("sh", "-c", `. build/config/consul/bind-network.sh && consul_bind_flag`)
	cmd.Dir = testenv.RepoRoot(t)
	cmd.Env = append(os.Environ(), "CONSUL_BIND_NETWORK=")
	if out, err := cmd.CombinedOutput(); err != nil || len(out) != 0 {
		t.Errorf("consul_bind_flag without CONSUL_BIND_NETWORK: %v, %q; expected no flag (compose: Consul's own choice)", err, out)
	}
}
