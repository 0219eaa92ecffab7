package stopbudget

import (
	"context"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/grpc_server/pingserver"
	"github.com/grpc-lb/nginx-consul/protos"
)

// startEchoReplica serves Ping and Echo in-process on loopback.
func startEchoReplica(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := pingserver.New(pingserver.Config{Echo: true, ShutdownTimeout: time.Second}, "echo-a", t.Logf)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.GRPC.Stop)
	return lis.Addr().String()
}

// openLongStream opens a bidi stream through addr and waits for its first
// reply, so the stream is in flight in nginx's worker; it stays open until
// the test ends.
func openLongStream(t *testing.T, addr string) protos.Echo_BidiClient {
	t.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	stream, err := protos.NewEchoClient(conn).Bidi(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&protos.EchoRequest{RequestId: "long"}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("first reply on the long stream through nginx: %v", err)
	}
	return stream
}

// groupNginx lists the live nginx processes of process group pgid.
func groupNginx(pgid int) []testenv.GroupProcess {
	var out []testenv.GroupProcess
	for _, p := range testenv.ProcessGroup(pgid) {
		if p.Command == "nginx" {
			out = append(out, p)
		}
	}
	return out
}

// stopNginx sends supervisord's stop signal to run-nginx.sh (only to it, as
// supervisord does without stopasgroup), waits for the script's exit and
// returns how long it took.
func stopNginx(t *testing.T, n *testenv.ProdNginx, budget time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	n.Signal(t, syscall.SIGQUIT)
	n.Wait(t, budget+5*time.Second)
	return time.Since(start)
}

// A stream that outlives the drain: run-nginx.sh lets it run for
// stop_drain_secs, then stops nginx fast, and within nginx's stopwaitsecs no
// nginx process of the group is left.
func TestRunNginxEndsItsGroupDespiteALongStream(t *testing.T) {
	t.Parallel()
	tree := loadRepository(t)
	budget := tree.Programs["nginx"].StopWait
	n := testenv.StartRunNginx(t, []string{startEchoReplica(t)})
	stream := openLongStream(t, n.Addr)
	pgid := n.Cmd.Process.Pid
	if before := groupNginx(pgid); len(before) < 2 {
		t.Fatalf("expected nginx's master and worker in run-nginx.sh's group %d, found %v", pgid, before)
	}

	took := stopNginx(t, n, budget)
	t.Logf("run-nginx.sh stopped after %s holding a long stream (drain %s, stopwaitsecs %s)", took.Round(time.Millisecond), tree.NginxDrain, budget)
	if left := groupNginx(pgid); len(left) > 0 {
		t.Errorf("nginx processes left in the group after run-nginx.sh exited: %v", left)
	}
	if took < tree.NginxDrain {
		t.Errorf("run-nginx.sh exited after %s: the stream in flight was not given the drain of %s", took, tree.NginxDrain)
	}
	if took > budget {
		t.Errorf("run-nginx.sh took %s to stop, more than nginx's stopwaitsecs %s: supervisord would have SIGKILLed it", took, budget)
	}
	if out := n.Output(); !strings.Contains(out, "stopping nginx fast (TERM)") {
		t.Errorf("expected run-nginx.sh to log that it stopped nginx fast after the drain; output:\n%s", out)
	}
	if _, err := stream.Recv(); err == nil {
		t.Errorf("the long stream still answers after nginx stopped")
	}
}

// Without a call in flight, QUIT stops nginx at once: the drain is a bound,
// not a wait.
func TestRunNginxStopsAtOnceWhenIdle(t *testing.T) {
	t.Parallel()
	tree := loadRepository(t)
	n := testenv.StartRunNginx(t, []string{startEchoReplica(t)})
	pgid := n.Cmd.Process.Pid
	took := stopNginx(t, n, tree.Programs["nginx"].StopWait)
	t.Logf("run-nginx.sh stopped after %s with nothing in flight", took.Round(time.Millisecond))
	if took > 2*time.Second {
		t.Errorf("run-nginx.sh took %s to stop with nothing in flight, expected under 2s", took)
	}
	if left := groupNginx(pgid); len(left) > 0 {
		t.Errorf("nginx processes left in the group: %v", left)
	}
	if out := n.Output(); strings.Contains(out, "TERM") {
		t.Errorf("run-nginx.sh escalated to TERM with nothing in flight; output:\n%s", out)
	}
}

// The check above can fail: SIGKILL to run-nginx.sh alone, which is what
// supervisord did at stopwaitsecs before killasgroup, leaves nginx's master
// and worker running, and groupNginx finds them.
func TestGroupCheckFindsNginxLeftBehind(t *testing.T) {
	t.Parallel()
	n := testenv.StartRunNginx(t, []string{startEchoReplica(t)})
	openLongStream(t, n.Addr)
	pgid := n.Cmd.Process.Pid
	n.Signal(t, syscall.SIGKILL)
	// Not n.Wait: that also waits for the output pipe, which the nginx
	// processes left behind hold open.
	testenv.Eventually(t, 5*time.Second, "run-nginx.sh killed", func() error {
		for _, p := range testenv.ProcessGroup(pgid) {
			if p.PID == pgid {
				return fmt.Errorf("still running: %v", p)
			}
		}
		return nil
	})
	left := groupNginx(pgid)
	if len(left) == 0 {
		t.Fatalf("after SIGKILL of run-nginx.sh alone, expected nginx left in group %d, found none", pgid)
	}
	t.Logf("left behind, as expected: %v (the test's cleanup kills them)", left)
}
