package lbbehaviour

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/build/test/transparency"
	"github.com/grpc-lb/nginx-consul/grpc_server/pingserver"
	"github.com/grpc-lb/nginx-consul/protos"
)

// idle is the idle-stream check's quiet time here; the end-to-end suite
// uses 3m against the deployment.
const idle = 5 * time.Second

// flowControls are grpc_server's two -flow-control modes: the project's
// default (static windows) and grpc-go's own (dynamic, what a stock server
// runs). Checks through an engine run against both.
var flowControls = []string{pingserver.FlowControlStatic, pingserver.FlowControlDynamic}

// startEchoServers serves Ping and Echo (as with -echo) in-process, one
// server per hostname, and returns their addresses.
func startEchoServers(t *testing.T, hostnames ...string) []string {
	t.Helper()
	return startEchoServersFlow(t, pingserver.FlowControlStatic, hostnames...)
}

// startEchoServersFlow is startEchoServers with the given -flow-control.
func startEchoServersFlow(t *testing.T, flowControl string, hostnames ...string) []string {
	t.Helper()
	var addrs []string
	for _, h := range hostnames {
		lis, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := pingserver.Config{Port: lis.Addr().(*net.TCPAddr).Port, ShutdownTimeout: 5 * time.Second, Echo: true, FlowControl: flowControl}
		srv := pingserver.New(cfg, h, t.Logf)
		go func() { _ = srv.Serve(lis) }()
		t.Cleanup(srv.GRPC.Stop)
		addrs = append(addrs, lis.Addr().String())
	}
	return addrs
}

// runChecks runs every check against target, as transparency.Run does: the
// others in parallel, then the Alone ones in turn.
func runChecks(t *testing.T, target string) {
	conn, err := transparency.Dial(target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	run := func(t *testing.T, c transparency.Check) {
		if err := c.Run(context.Background(), conn); err != nil {
			t.Error(err)
		}
	}
	// A group's parallel subtests end before the group's t.Run returns.
	t.Run("together", func(t *testing.T) {
		for _, c := range transparency.Checks(idle) {
			if !c.Alone {
				t.Run(c.Name, func(t *testing.T) {
					t.Parallel()
					run(t, c)
				})
			}
		}
	})
	for _, c := range transparency.Checks(idle) {
		if c.Alone {
			t.Run(c.Name, func(t *testing.T) { run(t, c) })
		}
	}
}

// Control: straight to a server, every check passes, so a failure through
// nginx is nginx's.
func TestChecksDirect(t *testing.T) {
	runChecks(t, startEchoServers(t, "echo-a")[0])
}

// Each engine's production config (nginx.conf; haproxy.cfg, HAProxy 3.0
// from Debian trixie) passes gRPC through unchanged, to replicas with
// either flow control.
func TestChecksThroughProduction(t *testing.T) {
	for _, e := range testenv.Engines() {
		for _, flow := range flowControls {
			t.Run(e.Name+"/flow-control="+flow, func(t *testing.T) {
				lb := e.Start(t, startEchoServersFlow(t, flow, "echo-a", "echo-b"))
				runChecks(t, lb.Addr)
			})
		}
	}
}

// With no replica, a call through either engine gets the config's own
// UNAVAILABLE status rather than an HTTP error, and the health endpoint
// still answers.
func TestNoReplicaThroughProduction(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			lb := e.Start(t, nil)
			conn, err := transparency.Dial(lb.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			client := protos.NewEchoClient(conn)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			want := noReplicaMessage("echo_server") + " for protos.Echo"
			_, err = client.Unary(ctx, &protos.EchoRequest{})
			if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != want {
				t.Errorf("Unary with no replica: expected Unavailable %q, received %s %q", want, st.Code(), st.Message())
			}
			stream, err := client.Bidi(ctx)
			if err == nil {
				_, err = stream.Recv()
			}
			if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != want {
				t.Errorf("Bidi with no replica: expected Unavailable %q, received %s %q", want, st.Code(), st.Message())
			}

			resp, err := http.Get("http://" + lb.HealthAddr + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
				t.Errorf("GET /healthz with no replica: expected 200 %q, received %d %q", "ok\n", resp.StatusCode, body)
			}
		})
	}
}

// The checks can fail: nginx with its defaults (testenv.StartNginx) limits
// request bodies to 1 MiB, and the large-message check reports it.
func TestChecksCatchNginxDefaults(t *testing.T) {
	conn, err := transparency.Dial(testenv.StartNginx(t, startEchoServers(t, "echo-a")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	err = transparency.LargeMessages(context.Background(), conn)
	if err == nil || !strings.Contains(err.Error(), "unary") {
		t.Errorf("LargeMessages through nginx with a 1 MiB body limit: expected an error for the unary call, received %v", err)
	}
}
