//go:build e2e

package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// swarmStack is make swarm-up's stack (build/swarm/swarm.sh, SWARM_STACK).
const swarmStack = "grpclb-swarm"

// swarmSubnet is the overlay's subnet, where Consul binds (SWARM_SUBNET).
var swarmSubnet = netip.MustParsePrefix("10.231.0.0/20")

// TestSwarm follows the README's "More than one host" on a single-node
// swarm: make swarm-up, one call, scaling 2 -> 5 -> 2 under load, a rolling
// update of hello_server under load, then make swarm-down, which must leave
// nothing of the stack behind. The compose deployment is down before and
// after (they share port 5000).
func TestSwarm(t *testing.T) {
	c := composeUnderTest(t, newestComposeVersion(composeVersions(t)))
	d := NewDeployment(t, c)
	swarmBefore := d.Docker("info", "--format", "{{.Swarm.LocalNodeState}}")

	d.Step("swarm 0: start from nothing (make down, make swarm-down); this engine's swarm state is %q", swarmBefore)
	d.mustRun(5*time.Minute, "make", "down")
	d.mustRun(5*time.Minute, "make", "swarm-down")
	t.Cleanup(func() {
		if t.Failed() {
			d.dumpSwarmLogs()
		}
		if out, err := d.run(5*time.Minute, "make", "swarm-down"); err != nil {
			t.Errorf("make swarm-down during cleanup: %v\n%s", err, out)
		}
	})

	d.Step("swarm 0b: make swarm-up refuses while a container of the compose project runs (they share port 5000), and changes nothing")
	composeContainer := d.Docker("run", "-d", "--label", "com.docker.compose.project=grpclb", "--entrypoint", "sleep", image("base"), "600")
	out, err := d.run(10*time.Minute, "make", "swarm-up")
	d.Docker("rm", "-f", composeContainer)
	if want := "the compose deployment is running on this engine (it holds port 5000): make down first"; err == nil || !strings.Contains(out, want) {
		t.Fatalf("make swarm-up with the compose project running: %v; expected it to fail with %q:\n%s", err, want, out)
	}
	if state := d.Docker("info", "--format", "{{.Swarm.LocalNodeState}}"); state != swarmBefore {
		t.Fatalf("the refused make swarm-up changed this engine's swarm state from %q to %q", swarmBefore, state)
	}

	d.Step("swarm 1: make swarm-up, then one call through :5000")
	d.mustRun(30*time.Minute, "make", "swarm-up")
	hosts := d.swarmHostnames(t)
	if len(hosts) != 2 {
		t.Fatalf("after make swarm-up: %d running hello_server tasks, want 2: %v", len(hosts), hosts)
	}
	reply, err := d.Call()
	if err != nil {
		t.Fatalf("grpc_client -port=%s after make swarm-up: %v: %s", lbPort, err, reply)
	}
	if !slices.ContainsFunc(hosts, func(h string) bool { return reply == "Hello from "+h+"." }) {
		t.Fatalf("grpc_client -port=%s: expected Hello from one of %v, received %q", lbPort, hosts, reply)
	}
	d.routedTo(t, 30*time.Second, hosts)

	d.Step("swarm 2: three Consul servers, each bound to its address on the overlay (%s)", swarmSubnet)
	d.requireSwarmRaftPeers(t)

	d.Step("swarm 2b: only the load balancer publishes a port (5000, host mode); make swarm-ui forwards the Consul UI to 127.0.0.1")
	d.requireSwarmPorts(t)
	d.mustRun(2*time.Minute, "make", "swarm-ui")
	eventually(t, 30*time.Second, "the Consul UI through make swarm-ui", uiAnswers)
	ui := consulClient(t)
	eventually(t, 30*time.Second, "the UI token sees the 2 replicas passing", func() error {
		passing, err := passingHostnames(ui, "hello_server")
		if err != nil {
			return err
		}
		if want := slices.Sorted(slices.Values(hosts)); !slices.Equal(passing, want) {
			return fmt.Errorf("passing hello_server instances %v, want %v", passing, want)
		}
		return nil
	})

	d.Step("swarm 2c: consul-server-2 moved to a new task (a new address): it rejoins, three healthy servers")
	oldPeers := d.swarmRaftPeers(t)
	d.Docker("service", "update", "--detach=false", "--quiet", "--force", swarmStack+"_consul-server-2")
	waitConsulHealthy(t, ui, 90*time.Second)
	if newPeers := d.swarmRaftPeers(t); slices.Equal(oldPeers, newPeers) {
		fmt.Printf("consul-server-2's new task has its old address again: peers %v\n", newPeers)
	} else {
		fmt.Printf("raft peers before %v, after %v\n", oldPeers, newPeers)
	}

	d.Step("swarm 3: make swarm-scale N=5, N=2 under load: 0 failed calls")
	load := d.StartLoad(t, "-c=50", "-rate=2000")
	for _, n := range []int{5, 2} {
		d.mustRun(10*time.Minute, "make", "swarm-scale", fmt.Sprintf("N=%d", n))
		hosts = d.swarmHostnames(t)
		if len(hosts) != n {
			t.Fatalf("after make swarm-scale N=%d: %d running hello_server tasks: %v", n, len(hosts), hosts)
		}
		d.routedTo(t, 30*time.Second, hosts)
		fmt.Printf("scaled to %d: %v\n", n, hosts)
	}
	requireNoFailures(t, load.Stop(t), "swarm scaling under load")

	d.Step("swarm 3b: the stack's second service: make swarm-scale SERVICE=echo_server N=2; Echo calls reach both echo_server tasks; grpcurl list shows both services")
	d.mustRun(10*time.Minute, "make", "swarm-scale", "SERVICE="+echoService, "N=2")
	echoHosts := d.swarmServiceTaskField(t, echoService, "{{.Config.Hostname}}")
	if len(echoHosts) != 2 {
		t.Fatalf("after make swarm-scale SERVICE=echo_server N=2: %d running echo_server tasks: %v", len(echoHosts), echoHosts)
	}
	d.echoRoutedTo(t, 30*time.Second, echoHosts)
	fmt.Printf("echo_server scaled to 2: %v\n", echoHosts)
	out, err = d.run(30*time.Second, filepath.Join(d.root, "bin", "grpcurl"), "-plaintext", lbAddr, "list")
	fmt.Printf("$ bin/grpcurl -plaintext %s list\n%s", lbAddr, out)
	if err != nil || out != frontDoorServices {
		t.Fatalf("grpcurl list through the stack's :5000: expected %q, received %q (%v)", frontDoorServices, out, err)
	}

	d.Step("swarm 4: rolling update of hello_server to a new image tag under load: 0 failed calls")
	const newImage = "grpc-lb/hello-server:e2e-rolling-update"
	d.Docker("tag", "grpc-lb/hello-server:latest", newImage)
	t.Cleanup(func() { _, _ = d.run(time.Minute, "docker", "rmi", newImage) })
	before := hosts
	load = d.StartLoad(t, "-c=50", "-rate=2000")
	started := time.Now()
	d.Docker("service", "update", "--detach=false", "--quiet", "--no-resolve-image", "--image", newImage, swarmStack+"_hello_server")
	updated := time.Since(started)
	// The update returns once every new task runs; the old ones are still
	// draining then (deregistered, finishing their calls) for up to their
	// stop_grace_period.
	eventually(t, 45*time.Second, "only tasks of "+newImage+" run", func() error {
		if images := d.swarmTaskImages(t); len(images) != 1 || images[0] != newImage {
			return fmt.Errorf("the running tasks' images are %v", images)
		}
		return nil
	})
	drained := time.Since(started)
	hosts = d.swarmHostnames(t)
	if len(hosts) != len(before) {
		t.Errorf("after the rolling update %d tasks run, %d before: %v", len(hosts), len(before), hosts)
	}
	for _, h := range hosts {
		if slices.Contains(before, h) {
			t.Errorf("after the rolling update, task %s of the old image still runs (before: %v, after: %v)", h, before, hosts)
		}
	}
	d.routedTo(t, 30*time.Second, hosts)
	requireNoFailures(t, load.Stop(t), "swarm rolling update under load")
	fmt.Printf("rolling update of %d replicas: docker service update returned after %s, the old tasks were gone after %s: %v -> %v\n",
		len(hosts), updated.Round(time.Second), drained.Round(time.Second), before, hosts)

	d.Step("swarm 5: make swarm-down leaves nothing of the stack")
	d.mustRun(5*time.Minute, "make", "swarm-down")
	d.requireSwarmGone(t, swarmBefore)
}

// swarmNode is one daemon of build/test/scripts/nodes.sh (TestSwarmThreeNodes).
type swarmNode struct{ name, host, ip string }

func (n swarmNode) String() string { return n.name + "@" + n.ip }

// swarmHostnames are the hostnames of this node's running hello_server tasks.
func (d *Deployment) swarmHostnames(t *testing.T) []string {
	t.Helper()
	return d.swarmServiceTaskField(t, "hello_server", "{{.Config.Hostname}}")
}

// swarmTaskImages are the distinct images of the running hello_server tasks.
func (d *Deployment) swarmTaskImages(t *testing.T) []string {
	t.Helper()
	images := d.swarmServiceTaskField(t, "hello_server", "{{.Config.Image}}")
	slices.Sort(images)
	return slices.Compact(images)
}

// swarmServiceTaskField is format of each of this node's running tasks of
// the stack's service.
func (d *Deployment) swarmServiceTaskField(t *testing.T, service, format string) []string {
	t.Helper()
	ids := strings.Fields(d.Docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name="+swarmStack+"_"+service))
	if len(ids) == 0 {
		return nil
	}
	out := d.Docker(append([]string{"inspect", "--format", "{{.State.Status}} " + format}, ids...)...)
	var values []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "running" {
			values = append(values, f[1])
		}
	}
	return values
}

// requireSwarmPorts checks that the only published port of the stack is
// the load balancer's 5000, in host mode: the Consul UI is on no address of
// the node (make swarm-ui forwards it to 127.0.0.1).
func (d *Deployment) requireSwarmPorts(t *testing.T) {
	t.Helper()
	for _, name := range strings.Fields(d.Docker("service", "ls", "--format", "{{.Name}}", "--filter", "label=com.docker.stack.namespace="+swarmStack)) {
		ports := d.Docker("service", "inspect", "--format", "{{range .Endpoint.Ports}}{{.PublishMode}}:{{.PublishedPort}}->{{.TargetPort}} {{end}}", name)
		want := ""
		if name == swarmStack+"_load-balancer" {
			want = "host:5000->5000"
		}
		if ports != want {
			t.Errorf("service %s publishes %q, expected %q", name, ports, want)
		}
	}
}

// swarmRaftPeers are the raft peers consul-server-1 reports, sorted.
func (d *Deployment) swarmRaftPeers(t *testing.T) []string {
	t.Helper()
	server := strings.Fields(d.Docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name="+swarmStack+"_consul-server-1"))
	if len(server) != 1 {
		t.Fatalf("consul-server-1: %d running tasks on this node, want 1", len(server))
	}
	var peers []string
	out := d.Docker("exec", server[0], "wget", "-q", "-T", "2", "-O", "-", "http://127.0.0.1:8500/v1/status/peers")
	if err := json.Unmarshal([]byte(out), &peers); err != nil {
		t.Fatalf("/v1/status/peers: %v: %s", err, out)
	}
	slices.Sort(peers)
	return peers
}

// requireSwarmRaftPeers checks that the raft configuration has three
// servers, each at an address on the overlay: a server that bound to
// docker_gwbridge instead could not be reached from another node.
// /v1/status/peers needs no ACL token.
func (d *Deployment) requireSwarmRaftPeers(t *testing.T) {
	t.Helper()
	server := strings.Fields(d.Docker("ps", "-q", "--filter", "label=com.docker.swarm.service.name="+swarmStack+"_consul-server-1"))
	if len(server) != 1 {
		t.Fatalf("consul-server-1: %d running tasks on this node, want 1", len(server))
	}
	var peers []string
	eventually(t, 60*time.Second, "three raft peers on the overlay", func() error {
		out, err := d.run(30*time.Second, "docker", "exec", server[0], "wget", "-q", "-T", "2", "-O", "-", "http://127.0.0.1:8500/v1/status/peers")
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		peers = nil
		if err := json.Unmarshal([]byte(out), &peers); err != nil {
			return fmt.Errorf("/v1/status/peers: %v: %s", err, out)
		}
		if len(peers) != 3 {
			return fmt.Errorf("raft peers %v, want 3", peers)
		}
		for _, p := range peers {
			addr, err := netip.ParseAddrPort(p)
			if err != nil || !swarmSubnet.Contains(addr.Addr()) {
				return fmt.Errorf("raft peer %q is not on the overlay %s", p, swarmSubnet)
			}
		}
		return nil
	})
	fmt.Printf("raft peers: %v\n", peers)
}

// requireSwarmGone checks that nothing labelled with the stack's namespace
// is left (services, containers, networks, volumes, secrets) and that the
// engine's swarm state is what it was before the test.
func (d *Deployment) requireSwarmGone(t *testing.T, swarmBefore string) {
	t.Helper()
	label := "label=com.docker.stack.namespace=" + swarmStack
	if state := d.Docker("info", "--format", "{{.Swarm.LocalNodeState}}"); state != swarmBefore {
		t.Errorf("after make swarm-down this engine's swarm state is %q, it was %q before make swarm-up", state, swarmBefore)
	}
	kinds := [][]string{{"ps", "-aq", "--filter", label}, {"network", "ls", "-q", "--filter", label}, {"volume", "ls", "-q", "--filter", label}}
	if d.Docker("info", "--format", "{{.Swarm.LocalNodeState}}") == "active" {
		kinds = append(kinds, []string{"service", "ls", "-q", "--filter", label}, []string{"secret", "ls", "-q", "--filter", label})
	}
	for _, args := range kinds {
		if left := d.Docker(args...); left != "" {
			t.Errorf("after make swarm-down, docker %s lists: %s", strings.Join(args, " "), strings.ReplaceAll(left, "\n", " "))
		}
	}
}

// dumpSwarmLogs prints the stack's tasks and every service's logs.
func (d *Deployment) dumpSwarmLogs() {
	out, _ := d.run(time.Minute, "docker", "stack", "ps", "--no-trunc", swarmStack)
	fmt.Printf("\n--- docker stack ps %s\n%s\n", swarmStack, out)
	names, err := d.run(time.Minute, "docker", "service", "ls", "--format", "{{.Name}}", "--filter", "label=com.docker.stack.namespace="+swarmStack)
	if err != nil {
		fmt.Printf("\n--- docker service ls: %v\n%s\n", err, names)
		return
	}
	for _, name := range strings.Fields(names) {
		out, _ := d.run(time.Minute, "docker", "service", "logs", "--no-task-ids", "--tail=200", name)
		fmt.Printf("\n--- docker service logs %s\n%s\n", name, out)
	}
}
