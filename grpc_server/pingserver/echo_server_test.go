package pingserver_test

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/protos"
)

// echo_server, the deployment's second service, serves protos.Echo and its
// health, never protos.Ping: the load balancer routes each to its own
// replicas, and a replica must not answer for the other service.
func TestEchoServerServesEchoOnly(t *testing.T) {
	p, _, conn := startProgram(t, "./grpc_server/echo_server", "-drain=0s")
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, service := range []string{"", "protos.Echo"} {
		if err := wantHealth(conn, service, healthpb.HealthCheckResponse_SERVING); err != nil {
			t.Error(err)
		}
	}
	if _, err := testenv.HealthStatus(conn, "protos.Ping"); status.Code(err) != codes.NotFound {
		t.Errorf("health of protos.Ping: expected NotFound (echo_server does not serve it), received %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reply, err := protos.NewEchoClient(conn).Unary(ctx, &protos.EchoRequest{RequestId: "one"})
	if err != nil || reply.GetHostname() != hostname || reply.GetRequestId() != "one" {
		t.Errorf("Echo/Unary: expected request one answered by %q, received %v (err %v)", hostname, reply, err)
	}
	if _, err := protos.NewPingClient(conn).SayHello(ctx, &protos.PingMessage{Greeting: "hi"}); status.Code(err) != codes.Unimplemented {
		t.Errorf("Ping/SayHello to echo_server: expected Unimplemented, received %v", err)
	}
	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM: got %d, want 0", code)
	}
	drained := false
	for _, line := range strings.Split(p.Output(), "\n") {
		drained = drained || strings.HasPrefix(line, "echo_server: ") && strings.HasSuffix(line, " shutdown 1/3: health NOT_SERVING")
	}
	if !drained {
		t.Errorf("output lacks the drain's first step under echo_server's name; got:\n%s", p.Output())
	}
}

// echo_server has no -echo flag (it always serves Echo) and names itself in
// its errors.
func TestEchoServerBadFlagExits2(t *testing.T) {
	for _, tc := range []struct{ arg, want string }{
		{"-port=0", "echo_server: -port=0 is invalid: accepted is 1-65535"},
		{"-echo", "flag provided but not defined: -echo"},
		{"-flow-control=fast", `echo_server: -flow-control="fast" is invalid: accepted is static or dynamic`},
	} {
		p := testenv.Start(t, nil, testenv.Binary(t, "./grpc_server/echo_server"), tc.arg)
		if code := p.Wait(t, 10*time.Second); code != 2 {
			t.Errorf("echo_server %s: exit code got %d, want 2", tc.arg, code)
		}
		if out := p.Output(); !strings.Contains(out, tc.want) {
			t.Errorf("echo_server %s: output lacks %q; got:\n%s", tc.arg, tc.want, out)
		}
	}
}
