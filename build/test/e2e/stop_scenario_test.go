//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/grpc-lb/nginx-consul/build/test/stopbudget"
	"github.com/grpc-lb/nginx-consul/build/test/transparency"
	"github.com/grpc-lb/nginx-consul/grpc_client/loadclient"
	"github.com/grpc-lb/nginx-consul/protos"
)

// stopEveryKind stops one container of each kind with `docker stop` under
// load, one at a time: a replica, the load balancer, a Consul server. Each
// must exit 0 by itself (not docker's SIGKILL, exit 137) before the
// stop_grace_period docker-compose.yaml gives it; a supervisord container
// must stop its programs one after the other, in the order of their
// priorities (stopbudget's Tree.StopOrder, the entrypoint's rule). Each stop is timed and printed; each container is restored and
// healthy before the next.
func stopEveryKind(t *testing.T, d *Deployment) {
	tree, err := stopbudget.Load(repoRoot())
	if err != nil {
		t.Fatal(err)
	}

	// A replica: the drain keeps every call whole.
	replica := d.ContainerIDs("hello_server")[0]
	load := d.StartLoad(t, "-c=50", "-rate=1000")
	time.Sleep(2 * time.Second) // let the load reach every replica
	stopAndCheck(t, d, tree, "hello_server", replica)
	requireNoFailures(t, load.Stop(t), "docker stop of a replica")
	d.Docker("rm", replica)
	d.routedTo(t, time.Minute, d.ScaleTo(t, 3))

	// A replica of the second service, under Echo load: the same drain.
	d.echoRoutedTo(t, time.Minute, d.ScaleServiceTo(t, echoService, 2))
	echoReplica := d.ContainerIDs(echoService)[0]
	echoLoad := startEchoLoad(8)
	time.Sleep(2 * time.Second)
	stopAndCheck(t, d, tree, echoService, echoReplica)
	if s := echoLoad.stop(); s.calls == 0 || s.failed != 0 {
		t.Errorf("docker stop of an echo_server replica: expected some Echo calls and 0 failed, received %s", s)
	} else {
		fmt.Printf("docker stop of an echo_server replica: Echo %s\n", s)
	}
	d.Docker("rm", echoReplica)
	d.ScaleServiceTo(t, echoService, 1)

	// The load balancer: there is one, so calls fail once it is gone. Calls
	// in flight when nginx gets its QUIT must finish: a 4 s call started
	// before the stop must succeed.
	lb := d.ContainerIDs("load-balancer")[0]
	load = d.StartLoad(t, "-c=50", "-rate=1000")
	time.Sleep(2 * time.Second)
	longCall := startSlowCall(4 * time.Second)
	time.Sleep(500 * time.Millisecond) // the call is in nginx, waiting on a replica
	stopAt := stopAndCheck(t, d, tree, "load-balancer", lb)
	if err := <-longCall; err != nil {
		t.Errorf("a 4 s call started before the load balancer's docker stop failed (nginx's QUIT must let it finish): %v", err)
	}
	s := load.Stop(t)
	if before := failedStartedBefore(s, stopAt); before > 0 {
		t.Errorf("docker stop of the load balancer: %d calls started before the stop failed; expected 0 (calls in flight finish): %v",
			before, s.Failures[:min(5, len(s.Failures))])
	}
	fmt.Printf("docker stop of the load balancer: %d of %d calls failed (%v), none started before the stop; they fail once it is gone (single LB)\n",
		s.Failed, s.Calls, s.Codes)
	d.Docker("start", lb)
	waitContainerHealthy(t, d, lb, 2*time.Minute)
	d.routedTo(t, time.Minute, d.Hostnames())

	// A Consul server: it stops without leaving the raft configuration, and
	// nothing in the call path notices.
	server := d.ContainerIDs("consul-server-2")[0]
	consul := consulClient(t) // one client for every wait: see consulClient
	waitConsulHealthy(t, consul, 2*time.Minute)
	load = d.StartLoad(t, "-c=50", "-rate=1000")
	since := stopAndCheck(t, d, tree, "consul-server-2", server)
	firstLog(t, d.Logs(server, since.Add(-time.Second)), "run-consul-server: consul stopped on request without leaving the cluster")
	if peers, err := consul.Status().Peers(); err != nil || len(peers) != 3 {
		t.Errorf("raft peers while consul-server-2 is stopped: expected 3 (it must not leave), received %v (err %v)", peers, err)
	}
	requireNoFailures(t, load.Stop(t), "docker stop of a Consul server")
	d.Docker("start", server)
	waitContainerHealthy(t, d, server, 2*time.Minute)
	waitConsulHealthy(t, consul, 2*time.Minute)
}

// stopAndCheck runs `docker stop` with the service's grace period, then
// checks the exit code, the time and, for a supervisord container, the
// order in the entrypoint's log (the deployment's engine's, for the load
// balancer). It returns when the stop began.
func stopAndCheck(t *testing.T, d *Deployment, tree *stopbudget.Tree, service, id string) time.Time {
	t.Helper()
	svc := tree.Services[service]
	if svc.Grace == 0 {
		t.Fatalf("service %q: no stop_grace_period known", svc.Name)
	}
	stopAt := time.Now()
	d.Docker("stop", "--time="+strconv.Itoa(int(svc.Grace/time.Second)), id)
	took := time.Since(stopAt)
	state := strings.Fields(d.Docker("inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", id))
	fmt.Printf("docker stop %s: %v after %s (grace period %s)\n", svc.Name, state, took.Round(time.Millisecond), svc.Grace)
	if len(state) != 2 || state[0] != "exited" || state[1] != "0" {
		t.Errorf("docker stop %s: expected state \"exited 0\", received %q (137 means docker SIGKILLed it at the end of the grace period)", svc.Name, state)
	}
	if took >= svc.Grace {
		t.Errorf("docker stop %s took %s, not less than its grace period %s", svc.Name, took, svc.Grace)
	}
	if len(svc.Programs) > 0 {
		order, err := tree.StopOrder(service, d.engine.name)
		if err != nil {
			t.Fatalf("service %s: %v", service, err)
		}
		checkStopOrder(t, svc, order, d.Logs(id, stopAt.Add(-time.Second)))
	}
	return stopAt
}

var (
	stoppingLine = regexp.MustCompile(`entrypoint: stopping (\S+) \(pid \d+\)`)
	stoppedLine  = regexp.MustCompile(`entrypoint: (\S+) stopped after (\d+) ms`)
)

// checkStopOrder checks that the entrypoint stopped every program of the
// order, in that order, each after the one before had stopped, and prints
// how long each took.
func checkStopOrder(t *testing.T, svc stopbudget.Service, order []stopbudget.Program, logs []LogLine) {
	t.Helper()
	var events []string // "stopping X" and "stopped X", in log order
	var took []string
	for _, l := range logs {
		if m := stoppingLine.FindStringSubmatch(l.Text); m != nil {
			events = append(events, "stopping "+m[1])
		}
		if m := stoppedLine.FindStringSubmatch(l.Text); m != nil {
			events = append(events, "stopped "+m[1])
			took = append(took, m[1]+" "+m[2]+" ms")
		}
	}
	var want []string
	for _, p := range order {
		want = append(want, "stopping "+p.Name, "stopped "+p.Name)
	}
	fmt.Printf("  %s stop order: %s\n", svc.Name, strings.Join(took, ", "))
	if !slices.Equal(events, want) {
		var all strings.Builder
		for _, l := range logs {
			fmt.Fprintf(&all, "%s %s\n", l.At.Format("15:04:05.000"), l.Text)
		}
		t.Errorf("%s: expected the entrypoint to log, in order, %q (the priorities of the programs %s copies), received %q; the logs:\n%s",
			svc.Name, want, svc.Dockerfile, events, all.String())
	}
}

// startSlowCall makes one Echo call through the load balancer that the replica answers
// after delay, and returns its result when it ends.
func startSlowCall(delay time.Duration) <-chan error {
	done := make(chan error, 1)
	go func() {
		conn, err := transparency.Dial(lbAddr)
		if err != nil {
			done <- err
			return
		}
		defer conn.Close()
		ctx, cancel := context.WithTimeout(context.Background(), delay+30*time.Second)
		defer cancel()
		_, err = protos.NewEchoClient(conn).Unary(ctx, &protos.EchoRequest{RequestId: "slow", Delay: durationpb.New(delay)})
		if err != nil {
			err = fmt.Errorf("%s: %s", status.Code(err), status.Convert(err).Message())
		}
		done <- err
	}()
	return done
}

// failedStartedBefore counts the recorded failed calls that started before
// at. (The summary keeps the first 1000 failures; any left out started later.)
func failedStartedBefore(s loadclient.Summary, at time.Time) int {
	n := 0
	for _, f := range s.Failures {
		if time.UnixMilli(f.StartUnixMs).Before(at) {
			n++
		}
	}
	return n
}

// waitContainerHealthy waits until the container runs and its healthcheck
// passes.
func waitContainerHealthy(t *testing.T, d *Deployment, id string, deadline time.Duration) {
	t.Helper()
	eventually(t, deadline, "container "+id+" running and healthy", func() error {
		out, err := d.run(time.Minute, "docker", "inspect", "--format", "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}", id)
		if err != nil {
			return fmt.Errorf("docker inspect: %v: %s", err, out)
		}
		if got := strings.TrimSpace(out); got != "running healthy" {
			return fmt.Errorf("state %q", got)
		}
		return nil
	})
}
