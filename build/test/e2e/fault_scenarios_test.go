//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// killReplica SIGKILLs a replica (its restart policy turned off, so it stays
// dead): calls in flight on it may fail, none started 5 s after the kill.
func killReplica(t *testing.T, d *Deployment) {
	consul := consulClient(t)
	victim := d.ContainerIDs("hello_server")[0]
	host := d.Docker("inspect", "--format", "{{.Config.Hostname}}", victim)
	d.Docker("update", "--restart=no", victim)
	load := d.StartLoad(t, "-c=50", "-rate=1000")
	time.Sleep(2 * time.Second)
	killedAt := time.Now()
	d.Docker("kill", "--signal=KILL", victim)
	eventually(t, 30*time.Second, "the killed replica leaves Consul's passing set", func() error {
		hosts, err := passingHostnames(consul, "hello_server")
		if err != nil {
			return err
		}
		if slices.Contains(hosts, host) {
			return fmt.Errorf("%s still passing: %v", host, hosts)
		}
		return nil
	})
	left := time.Since(killedAt)
	time.Sleep(5 * time.Second)
	s := load.Stop(t)
	late := failedStartedAfter(s, killedAt.Add(5*time.Second))
	fmt.Printf("SIGKILL: %d of %d calls failed (%v); it left Consul's passing set after %s; failures started more than 5 s after the kill: %d\n",
		s.Failed, s.Calls, s.Codes, left.Round(time.Millisecond), late)
	if late > 0 {
		t.Fatalf("expected no failed call started more than 5 s after the kill, received %d; failures: %v", late, s.Failures)
	}
	d.Docker("rm", "-f", victim)
	d.routedTo(t, 30*time.Second, d.ScaleTo(t, 3))
}

// oneConsulServerDown stops the raft leader, then a follower, under load.
// Each time the two others keep (or elect) a leader, a new replica is still
// discovered and routed, and no call fails.
func oneConsulServerDown(t *testing.T, d *Deployment) {
	for _, role := range []string{"leader", "follower"} {
		t.Run(role, func(t *testing.T) {
			sub := *d
			sub.t = t
			stopOneConsulServer(t, &sub, role)
		})
	}
}

func stopOneConsulServer(t *testing.T, d *Deployment, role string) {
	consul := consulClient(t) // one client for every wait: see consulClient
	// A server that was restarted (the leader, in the run before) may come
	// back at a new address; until raft has taken it in, stopping another
	// server would cost the quorum. One server may fail only once all three
	// are healthy again.
	waitConsulHealthy(t, consul, 2*time.Minute)
	servers := d.consulServers()
	leader := d.raftLeader(t, servers, "")
	victim := leader
	if role == "follower" {
		for name := range servers {
			if name != leader {
				victim = name
				break
			}
		}
	}
	fmt.Printf("raft leader %s; stopping the %s, %s\n", leader, role, victim)
	load := d.StartLoad(t, "-c=50", "-rate=1000")
	stopAt := time.Now()
	d.Docker("stop", servers[victim])
	stopped := time.Since(stopAt)
	remaining := maps.Clone(servers)
	delete(remaining, victim)
	newLeader := d.raftLeader(t, remaining, victim)
	elected := time.Since(stopAt)
	fmt.Printf("%s %s stopped in %s; leader among the other two: %s, %s after the stop began, %s after it had exited\n",
		role, victim, stopped.Round(time.Millisecond), newLeader, elected.Round(time.Millisecond), (elected - stopped).Round(time.Millisecond))
	if role == "follower" && newLeader != leader {
		t.Errorf("stopping the follower %s changed the leader from %s to %s", victim, leader, newLeader)
	}
	if role == "leader" && newLeader == leader {
		t.Errorf("the stopped leader %s is still reported as leader", leader)
	}
	// New replicas are still discovered with two servers of three.
	d.routedTo(t, 60*time.Second, d.ScaleTo(t, 4))
	requireNoFailures(t, load.Stop(t), "Consul "+role+" down")
	d.Docker("start", servers[victim])
	waitConsulHealthy(t, consul, 2*time.Minute)
	d.ScaleTo(t, 3)
}

// consulServers maps each Consul server's node name (its compose service
// and hostname) to its container.
func (d *Deployment) consulServers() map[string]string {
	servers := map[string]string{}
	for _, name := range []string{"consul-server-1", "consul-server-2", "consul-server-3"} {
		servers[name] = d.ContainerIDs(name)[0]
	}
	return servers
}

// raftPeers asks raft, through the server in container, who the peers are:
// node name to state (leader, follower). The request is forwarded to the
// leader, so an answer means a leader with a quorum behind it (a server's
// own -stale view can still name a leader that has lost its quorum).
func (d *Deployment) raftPeers(container string) (map[string]string, error) {
	// operator:read needs a token: the read-only UI token, handed over on
	// stdin so that it shows in no process list or docker inspect.
	cmd := exec.Command("docker", "exec", "-i", container, "/usr/local/bin/consul", "operator", "raft", "list-peers", "-token-file=/dev/stdin")
	cmd.Stdin = strings.NewReader(token(d.t, "ui"))
	out, err := runWithin(cmd, 30*time.Second, nil)
	if err != nil {
		return nil, fmt.Errorf("consul operator raft list-peers: %v: %s", err, out)
	}
	return parseRaftPeers(out), nil
}

// parseRaftPeers reads `consul operator raft list-peers`: a header, then
// "Node ID Address State Voter RaftProtocol" rows.
func parseRaftPeers(out string) map[string]string {
	peers := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[0] != "Node" {
			peers[f[0]] = f[3]
		}
	}
	return peers
}

// raftLeader waits (30 s at most) until one of servers reports a leader
// other than not, and returns its node name.
func (d *Deployment) raftLeader(t *testing.T, servers map[string]string, not string) string {
	t.Helper()
	var leader string
	eventually(t, 30*time.Second, "a raft leader other than "+not, func() error {
		var errs []error
		for _, container := range servers {
			peers, err := d.raftPeers(container)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for node, state := range peers {
				if state == "leader" && node != not {
					leader = node
					return nil
				}
			}
			errs = append(errs, fmt.Errorf("no leader in %v", peers))
		}
		return errors.Join(errs...)
	})
	return leader
}

func allConsulServersDown(t *testing.T, d *Deployment) {
	servers := []string{}
	for _, s := range []string{"consul-server-1", "consul-server-2", "consul-server-3"} {
		servers = append(servers, d.ContainerIDs(s)[0])
	}
	// The transparency checks, with their 2 minute idle stream (twice
	// nginx's default proxy timeouts), run through the outage too: the LB
	// must stay transparent while Consul is gone.
	transparencyResult := startTransparency(t)
	before := d.restartState()
	load := d.StartLoad(t, "-c=50", "-rate=1000")
	d.Docker(append([]string{"stop"}, servers...)...)
	fmt.Println("all three Consul servers stopped; holding for 1 minute")
	time.Sleep(time.Minute)
	d.Docker(append([]string{"start"}, servers...)...)
	started := time.Now()
	consul := consulClient(t) // one client for the whole wait, as above
	eventually(t, 2*time.Minute, "Consul has a leader again", func() error {
		leader, err := consul.Status().Leader()
		if err != nil || leader == "" {
			return fmt.Errorf("leader %q, err %v", leader, err)
		}
		return nil
	})
	fmt.Printf("Consul servers started again; a leader after %s\n", time.Since(started).Round(100*time.Millisecond))
	// Nothing restarted: no container (by its restart policy) and no
	// supervisord program in the replicas and the load balancer.
	if err := sameRestartState(before, d.restartState()); err != nil {
		t.Errorf("after the Consul outage: %v", err)
	}
	// Without restarting anything, scaling works again.
	d.routedTo(t, 2*time.Minute, d.ScaleTo(t, 4))
	fmt.Printf("a new replica routed %s after the servers started\n", time.Since(started).Round(100*time.Millisecond))
	requireNoFailures(t, load.Stop(t), "all Consul servers down for 1 minute")
	if err := transparencyResult(); err != nil {
		t.Errorf("the load balancer is not transparent:\n%v", err)
	}
	waitConsulHealthy(t, consul, 2*time.Minute)
	d.ScaleTo(t, 3)
}

// killLBProcesses SIGKILLs the engine's master and then consul-template
// inside the LB. Each must be back within 5 s: consul-template restarted by
// supervisord; nginx's master by run-nginx.sh (the program supervisord runs),
// which starts a new master next to the old workers and lets those finish;
// HAProxy's by supervisord (its workers exit with their master). Failed calls
// are counted and reported; none may start more than 5 s after the kill.
func killLBProcesses(t *testing.T, d *Deployment) {
	lb := d.ContainerIDs("load-balancer")[0]
	master := d.engine.name + " master"
	pidOf := func(name string) string {
		if name == master {
			return d.enginePID(lb)
		}
		return strings.Join(d.processes(lb, name), " ")
	}
	for _, proc := range []string{master, "/usr/local/bin/consul-template"} {
		before := pidOf(proc)
		if before == "" {
			t.Fatalf("no %q process in the load balancer", proc)
		}
		load := d.StartLoad(t, "-c=50", "-rate=1000")
		time.Sleep(time.Second)
		killedAt := time.Now()
		d.Docker("exec", lb, "sh", "-c", "kill -9 "+before)
		eventually(t, 5*time.Second, proc+" running again under a new pid", func() error {
			if now := pidOf(proc); now == "" || now == before {
				return fmt.Errorf("pid %q (killed %s)", now, before)
			}
			return nil
		})
		back := time.Since(killedAt)
		time.Sleep(6 * time.Second)
		s := load.Stop(t)
		late := failedStartedAfter(s, killedAt.Add(5*time.Second))
		fmt.Printf("kill -9 %s: back after %s; %d of %d calls failed (%v); failures started more than 5 s after the kill: %d\n",
			proc, back.Round(time.Millisecond), s.Failed, s.Calls, s.Codes, late)
		if late > 0 {
			t.Fatalf("kill -9 %s: expected no failed call started more than 5 s after the kill, received %d; the first failures: %v", proc, late, s.Failures[:min(len(s.Failures), 10)])
		}
	}
	// Both must serve and react to changes again.
	d.routedTo(t, 30*time.Second, d.ScaleTo(t, 4))
	d.ScaleTo(t, 3)
}

// deadInstance registers a hello_server instance at an address in the
// compose network where nothing answers, through a replica's own agent with
// the replicas' registrar token (nothing else may register hello_server, and
// consul-template reads only hello-server-* nodes) and with no check, so it
// counts as passing and nginx gets it; calls must route around it.
func deadInstance(t *testing.T, d *Deployment) {
	lb := d.ContainerIDs("load-balancer")[0]
	network := d.composeNetwork(t)
	cidr := d.Docker("network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", network)
	dead, err := lastHostAddress(cidr)
	if err != nil {
		t.Fatalf("compose network %s subnet %q: %v", network, cidr, err)
	}
	replica := d.ContainerIDs("hello_server")[0]
	d.registerInReplica(t, replica, "hello_server-dead", dead, 7777)
	load := d.StartLoad(t, "-c=50", "-rate=1000")
	// The claim is about calls while nginx routes to the dead address:
	// first, it must be in the upstream the running workers use.
	d.requireUpstream(lb, net.JoinHostPort(dead, "7777"), true, 30*time.Second)
	inUpstreamAt := time.Now()
	time.Sleep(20 * time.Second)
	s := load.Stop(t)
	late := failedStartedAfter(s, inUpstreamAt.Add(5*time.Second))
	fmt.Printf("dead instance at %s, in %s's upstream: %d of %d calls failed (%v), %d of them started more than 5 s after it was routed; p99 %.1f ms\n",
		dead, d.engine.name, s.Failed, s.Calls, s.Codes, late, s.P99Ms)
	if late > 0 {
		t.Fatalf("expected no failures 5 s after the dead instance was routed, received %d: %v", late, s.Failures)
	}
}

// registerInReplica registers a hello_server instance with no check through
// the replica's own agent and the replicas' registrar token, as a replica's
// registrar could; it is deregistered when the test ends.
func (d *Deployment) registerInReplica(t *testing.T, replica, id, address string, port int) {
	t.Helper()
	d.mustRun(30*time.Second, "docker", "exec", replica, "/usr/local/bin/consul", "services", "register",
		"-token-file="+registrarTokenFile, "-id="+id, "-name=hello_server", "-address="+address,
		fmt.Sprintf("-port=%d", port), "-meta=hostname="+id)
	t.Cleanup(func() {
		out, err := d.run(30*time.Second, "docker", "exec", replica, "/usr/local/bin/consul", "services", "deregister",
			"-token-file="+registrarTokenFile, "-id="+id)
		if err != nil {
			t.Errorf("deregistering %s: %v: %s", id, err, out)
		}
	})
}

// lastHostAddress is the highest usable address of an IPv4 subnet: inside
// the compose network, where docker assigns container addresses from the
// bottom up, so nothing answers there.
func lastHostAddress(cidr string) (string, error) {
	_, n, err := net.ParseCIDR(cidr)
	if err != nil {
		return "", err
	}
	ip := n.IP.To4()
	if ip == nil {
		return "", fmt.Errorf("not an IPv4 subnet")
	}
	last := make(net.IP, 4)
	for i := range ip {
		last[i] = ip[i] | ^n.Mask[i]
	}
	last[3]--
	return last.String(), nil
}

// badInstancesSkipped registers, with the replicas' own token, instances
// whose address or port must never reach nginx's config: an address that
// would inject a directive, one that is no IP address, and port 0. Each is
// left out of the upstream and logged; nginx keeps serving, no render is
// rejected, and the next scale change is still routed.
func badInstancesSkipped(t *testing.T, d *Deployment) {
	lb := d.ContainerIDs("load-balancer")[0]
	replica := d.ContainerIDs("hello_server")[0]
	templatePID := func() string { return strings.Join(d.processes(lb, "/usr/local/bin/consul-template"), " ") }
	before := templatePID()
	since := time.Now()
	load := d.StartLoad(t, "-c=50", "-rate=1000")
	bad := []struct {
		id, address string
		port        int
	}{
		{"bad-inject", "1.2.3.4;include /etc/passwd", 7777},
		{"bad-name", "not-an-ip", 7777},
		{"bad-port", d.ContainerIP(replica), 0},
	}
	for _, b := range bad {
		d.registerInReplica(t, replica, b.id, b.address, b.port)
	}
	for _, b := range bad {
		eventually(t, 30*time.Second, "the load balancer logs "+b.id+" as skipped", func() error {
			for _, l := range d.Logs(lb, since) {
				if strings.Contains(l.Text, d.engine.skippedPrefix()) && strings.Contains(l.Text, "id="+b.id+" ") {
					fmt.Printf("load balancer: %s\n", l.Text)
					return nil
				}
			}
			return fmt.Errorf("not logged yet")
		})
	}
	live := d.Docker("exec", lb, "cat", d.engine.rendered)
	for _, line := range strings.Split(live, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, raw := range []string{"1.2.3.4", "passwd", "not-an-ip", ":0 ", ":0;"} {
			if strings.Contains(line, raw) {
				t.Fatalf("the rendered %s has %q outside a comment: %q", d.engine.rendered, raw, line)
			}
		}
	}
	for _, l := range d.Logs(lb, since) {
		if strings.Contains(l.Text, d.engine.rejected) {
			t.Fatalf("a render was rejected: %s", l.Text)
		}
	}
	d.routedTo(t, 30*time.Second, d.ScaleTo(t, 4))
	d.ScaleTo(t, 3)
	requireNoFailures(t, load.Stop(t), "bad instances")
	if after := templatePID(); after != before || after == "" {
		t.Fatalf("consul-template pid: expected it to keep running as %s, received %q", before, after)
	}
}
