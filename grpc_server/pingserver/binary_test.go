package pingserver_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/protos"
)

// startServer runs the real grpc_server binary on a free port and waits
// until it reports SERVING.
func startServer(t *testing.T, args ...string) (*testenv.Process, string, *grpc.ClientConn) {
	t.Helper()
	return startProgram(t, "./grpc_server", args...)
}

// startProgram runs the command built from pkg on a free port and waits
// until it reports SERVING.
func startProgram(t *testing.T, pkg string, args ...string) (*testenv.Process, string, *grpc.ClientConn) {
	t.Helper()
	port := strconv.Itoa(testenv.FreePort(t))
	p := testenv.Start(t, nil, testenv.Binary(t, pkg), append([]string{"-port=" + port}, args...)...)
	addr := net.JoinHostPort("127.0.0.1", port)
	// Wait for the port first: a gRPC connection that failed early would
	// back off for a second before trying again.
	testenv.Eventually(t, 10*time.Second, pkg+" listens on "+addr, func() error {
		if p.Exited() {
			t.Fatalf("%s exited early; output:\n%s", pkg, p.Output())
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
	conn := testenv.Dial(t, addr)
	testenv.Eventually(t, 10*time.Second, pkg+" reports SERVING", func() error {
		return wantHealth(conn, "", healthpb.HealthCheckResponse_SERVING)
	})
	return p, addr, conn
}

func wantHealth(conn *grpc.ClientConn, service string, want healthpb.HealthCheckResponse_ServingStatus) error {
	got, err := testenv.HealthStatus(conn, service)
	if err != nil {
		return fmt.Errorf("health of %q: %w", service, err)
	}
	if got != want {
		return fmt.Errorf("health of %q: got %s, want %s", service, got, want)
	}
	return nil
}

func sayHello(conn *grpc.ClientConn) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	reply, err := protos.NewPingClient(conn).SayHello(ctx, &protos.PingMessage{Greeting: "hi"})
	return reply.GetGreeting(), err
}

func TestBinaryServesAndDrainsOnSIGTERM(t *testing.T) {
	p, _, conn := startServer(t, "-drain=1s")
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, service := range []string{"", "protos.Ping"} {
		if err := wantHealth(conn, service, healthpb.HealthCheckResponse_SERVING); err != nil {
			t.Error(err)
		}
	}
	want := "Hello from " + hostname + "."
	if got, err := sayHello(conn); err != nil || got != want {
		t.Fatalf("SayHello: got %q error %v, want %q", got, err, want)
	}

	p.Signal(t, syscall.SIGTERM)
	sent := time.Now()
	testenv.Eventually(t, 900*time.Millisecond, "health NOT_SERVING after SIGTERM", func() error {
		return wantHealth(conn, "", healthpb.HealthCheckResponse_NOT_SERVING)
	})
	if err := wantHealth(conn, "protos.Ping", healthpb.HealthCheckResponse_NOT_SERVING); err != nil {
		t.Error(err)
	}
	// Still within the 1s drain: calls are answered.
	got, err := sayHello(conn)
	if err != nil || got != want {
		t.Errorf("SayHello %s after SIGTERM, during the drain: got %q error %v, want %q", time.Since(sent), got, err, want)
	}

	if code := p.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM: got %d, want 0", code)
	}
	if took := time.Since(sent); took < time.Second {
		t.Errorf("exited %s after SIGTERM, want no earlier than the 1s drain", took)
	}
	out := p.Output()
	last := -1
	for _, step := range []string{
		"received terminated",
		"shutdown 1/3: health NOT_SERVING",
		"shutdown 2/3: draining for 1s while still serving",
		"shutdown 3/3: graceful stop",
		"stopped: all calls in flight completed",
	} {
		i := strings.Index(out, step)
		if i < 0 || i < last {
			t.Errorf("output lacks %q after the previous step (index %d, previous %d); got:\n%s", step, i, last, out)
			continue
		}
		last = i
	}
}

func TestBinaryBadFlagExits2(t *testing.T) {
	for _, tc := range []struct{ arg, want string }{
		{"-port=0", "-port=0 is invalid: accepted is 1-65535"},
		{"-drain=6m", "-drain=6m0s is invalid: accepted is 0s to 5m"},
	} {
		p := testenv.Start(t, nil, testenv.Binary(t, "./grpc_server"), tc.arg)
		if code := p.Wait(t, 10*time.Second); code != 2 {
			t.Errorf("grpc_server %s: exit code got %d, want 2", tc.arg, code)
		}
		if out := p.Output(); !strings.Contains(out, "grpc_server: "+tc.want) {
			t.Errorf("grpc_server %s: output lacks %q; got:\n%s", tc.arg, "grpc_server: "+tc.want, out)
		}
	}
}
