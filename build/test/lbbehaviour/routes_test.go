package lbbehaviour

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/build/test/transparency"
	"github.com/grpc-lb/nginx-consul/protos"
)

// routesDeclaration declares three Consul services (build/config/services.conf's
// format): two with replicas, each serving one of the project's gRPC
// services, and one with none.
const routesDeclaration = `# The routes of TestRoutesByGRPCService.
hello_server protos.Ping
echo_server  protos.Echo
idle_server  grpc.health.v1.Health
`

// registerService registers addrs as passing instances of service, on
// nodes <service>-0, <service>-1, ... in the order of the sorted addresses,
// so Consul's order (by node) is the order of HAProxy's sorted servers too.
// It returns the sorted addresses.
func registerService(t *testing.T, c *testenv.Consul, service string, addrs []string) []string {
	t.Helper()
	sorted := slices.Clone(addrs)
	slices.Sort(sorted)
	for i, a := range sorted {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			t.Fatal(err)
		}
		c.RegisterHelloServer(t, testenv.Instance{
			Service: service, Node: fmt.Sprintf("%s-%d", strings.ReplaceAll(service, "_", "-"), i),
			ID: fmt.Sprintf("%s-%d", service, i), Address: host, Port: p, Check: "passing",
		})
	}
	return sorted
}

// getPath is the status and body of an HTTP GET of path on addr.
func getPath(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// Each engine routes a call by its gRPC service, as the declaration says:
// to the replicas of the Consul service that serves it, and only to them
// (every replica here serves both protos.Ping and protos.Echo, so a call
// routed to the wrong Consul service would be answered, by a replica that
// names itself). A gRPC service no Consul service serves is UNIMPLEMENTED,
// as from a server that lacks it; a declared one with no replica is
// UNAVAILABLE, naming its Consul service. The reloader follows every
// service's replicas (HAProxy's through the Runtime API, without a
// reload), logs them per service, and /upstream/<service> lists each.
func TestRoutesByGRPCService(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			ec := engineChecks[e.Name]
			declaration := filepath.Join(t.TempDir(), "services.conf")
			if err := os.WriteFile(declaration, []byte(routesDeclaration), 0o644); err != nil {
				t.Fatal(err)
			}
			c := testenv.StartConsul(t)
			hello := registerService(t, c, "hello_server", startEchoServers(t, "hello-a", "hello-b"))
			echoAddrs := startEchoServers(t, "echo-a", "echo-b")
			registerService(t, c, "echo_server", echoAddrs[:1])
			lb := e.StartLB(t, c, e.HostTemplateDeclaring(t, declaration))

			// A second echo_server replica joins.
			echo := registerService(t, c, "echo_server", echoAddrs)
			lb.Render(t)
			if err := lb.CheckConfig(); err != nil {
				t.Fatalf("%s rejects the render: %v", e.Name, err)
			}
			stdout, stderr := lb.Reload(t)
			parts := fmt.Sprintf("2 echo_server replica(s): %s; 2 hello_server replica(s): %s; 0 idle_server replica(s): ",
				strings.Join(echo, " "), strings.Join(hello, " "))
			if want := fmt.Sprintf(ec.reloadedRoutes, parts); stdout != want {
				t.Errorf("%s stdout:\n  expected %q\n  received %q", e.Reloader, want, stdout)
			}
			if ec.strictStderr && stderr != "" {
				t.Errorf("%s stderr: expected nothing, received %q", e.Reloader, stderr)
			}

			for path, want := range map[string]string{
				"/upstream/echo_server":  strings.Join(echo, " ") + " \n",
				"/upstream/hello_server": strings.Join(hello, " ") + " \n",
				"/upstream/idle_server":  "\n",
				// The declaration's first service.
				"/upstream": strings.Join(hello, " ") + " \n",
			} {
				testenv.Eventually(t, 10*time.Second, e.Name+"'s "+path+" after the reload", func() error {
					if code, body := getPath(t, lb.HealthAddr, path); code != http.StatusOK || body != want {
						return fmt.Errorf("expected 200 %q, received %d %q", want, code, body)
					}
					return nil
				})
			}
			if code, body := getPath(t, lb.HealthAddr, "/upstream/no_such_server"); code != http.StatusNotFound {
				t.Errorf("GET /upstream/no_such_server: expected 404, received %d %q", code, body)
			}

			conn, err := transparency.Dial(lb.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()

			const calls = 20
			byReplica := map[string]int{}
			for i := 0; i < calls; i++ {
				reply, err := protos.NewPingClient(conn).SayHello(ctx, &protos.PingMessage{})
				if err != nil {
					t.Fatalf("protos.Ping call %d: %v", i, err)
				}
				byReplica["ping "+reply.GetGreeting()]++
				echoReply, err := protos.NewEchoClient(conn).Unary(ctx, &protos.EchoRequest{})
				if err != nil {
					t.Fatalf("protos.Echo call %d: %v", i, err)
				}
				byReplica["echo "+echoReply.GetHostname()]++
			}
			want := map[string]bool{
				"ping Hello from hello-a.": true, "ping Hello from hello-b.": true,
				"echo echo-a": true, "echo echo-b": true,
			}
			for got, n := range byReplica {
				if !want[got] {
					t.Errorf("%d calls went to the wrong replica (%q): answers by replica %v", n, got, byReplica)
				}
			}
			for w := range want {
				if byReplica[w] == 0 {
					t.Errorf("no call got %q: each of a service's replicas gets calls; answers by replica %v", w, byReplica)
				}
			}

			for _, c := range []struct {
				method string
				code   codes.Code
				msg    string
			}{
				{"/x.Y/Z", codes.Unimplemented, "unknown service x.Y"},
				{"/x-y.Z/M", codes.Unimplemented, "malformed method name"},
				{"/protos.Ping", codes.Unimplemented, "malformed method name"},
			} {
				err := conn.Invoke(ctx, c.method, &protos.PingMessage{}, &protos.PingMessage{})
				if st := status.Convert(err); st.Code() != c.code || st.Message() != c.msg {
					t.Errorf("call %s: expected %s %q, received %s %q", c.method, c.code, c.msg, st.Code(), st.Message())
				}
			}
			_, err = healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
			wantMsg := "no healthy idle_server replica is available behind the load balancer for grpc.health.v1.Health"
			if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != wantMsg {
				t.Errorf("grpc.health.v1.Health, whose idle_server has no replica: expected Unavailable %q, received %s %q", wantMsg, st.Code(), st.Message())
			}
			// The connection still serves after those answers.
			if _, err := protos.NewPingClient(conn).SayHello(ctx, &protos.PingMessage{}, grpc.WaitForReady(false)); err != nil {
				t.Errorf("protos.Ping after the refused calls: %v", err)
			}

			reflectionThroughEngine(t, lb, declaration)
		})
	}
}

// A new declaration of routes takes effect with the next render and reload
// (HAProxy's is a reload, since the Runtime API changes servers only), and
// changes of replicas after it are followed as before.
func TestNewDeclarationTakesEffect(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			ec := engineChecks[e.Name]
			declaration := filepath.Join(t.TempDir(), "services.conf")
			declare := func(text string) {
				t.Helper()
				if err := os.WriteFile(declaration, []byte(text), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			declare("hello_server protos.Ping\n")
			c := testenv.StartConsul(t)
			hello := registerService(t, c, "hello_server", startEchoServers(t, "hello-a"))
			echoAddrs := startEchoServers(t, "echo-a", "echo-b")
			echo := registerService(t, c, "echo_server", echoAddrs[:1])
			lb := e.StartLB(t, c, e.HostTemplateDeclaring(t, declaration))

			conn, err := transparency.Dial(lb.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			echoFrom := func() (string, error) {
				reply, err := protos.NewEchoClient(conn).Unary(ctx, &protos.EchoRequest{})
				return reply.GetHostname(), err
			}
			if host, err := echoFrom(); status.Code(err) != codes.Unimplemented {
				t.Fatalf("protos.Echo before it is declared: expected Unimplemented, received %q, %v", host, err)
			}

			declare("hello_server protos.Ping\necho_server protos.Echo\n")
			lb.Render(t)
			stdout, stderr := lb.Reload(t)
			parts := fmt.Sprintf("1 echo_server replica(s): %s; 1 hello_server replica(s): %s", echo[0], hello[0])
			if want := fmt.Sprintf(ec.redeclared, parts); stdout != want {
				t.Errorf("%s stdout after the new declaration:\n  expected %q\n  received %q", e.Reloader, want, stdout)
			}
			if ec.strictStderr && stderr != "" {
				t.Errorf("%s stderr: expected nothing, received %q", e.Reloader, stderr)
			}
			// The reload's new workers take the calls of new connections;
			// the old ones may still answer this one's until they stop.
			testenv.Eventually(t, 10*time.Second, "protos.Echo routed to echo_server after the new declaration", func() error {
				if host, err := echoFrom(); err != nil || host != "echo-a" {
					return fmt.Errorf("received %q, %v", host, err)
				}
				return nil
			})

			echo = registerService(t, c, "echo_server", echoAddrs)
			lb.Render(t)
			stdout, _ = lb.Reload(t)
			parts = fmt.Sprintf("2 echo_server replica(s): %s; 1 hello_server replica(s): %s", strings.Join(echo, " "), hello[0])
			if want := fmt.Sprintf(ec.reloadedRoutes, parts); stdout != want {
				t.Errorf("%s stdout after a replica joined:\n  expected %q\n  received %q", e.Reloader, want, stdout)
			}
			// nginx's old worker answers this connection's calls until it
			// has moved the client to the new one.
			testenv.Eventually(t, 10*time.Second, "protos.Echo calls spread over echo-a and echo-b after echo-b joined", func() error {
				seen := map[string]int{}
				for i := 0; i < 10; i++ {
					host, err := echoFrom()
					if err != nil {
						return fmt.Errorf("call %d: %v", i, err)
					}
					seen[host]++
				}
				if seen["echo-a"] == 0 || seen["echo-b"] == 0 || len(seen) != 2 {
					return fmt.Errorf("answers by replica: %v", seen)
				}
				return nil
			})
		})
	}
}

// reflectionListen is where every engine's config routes the reflection
// services: the load balancer's lb-reflection program (build/reflection).
const reflectionListen = "127.0.0.1:7780"

// reflectionThroughEngine runs the real lb-reflection beside the engine,
// as the load-balancer image does, and checks grpcurl through the engine's
// gRPC port: `list` is every declared gRPC service and the reflection
// services, and `describe` works for each declared service, from the
// replicas the engine routes to (its /upstream lists).
func reflectionThroughEngine(t *testing.T, lb *testenv.LB, declaration string) {
	t.Helper()
	p := testenv.Start(t, nil, testenv.Binary(t, "./build/reflection"),
		"-listen", reflectionListen, "-declaration", declaration, "-upstreams", "http://"+lb.HealthAddr+"/upstream/")
	testenv.Eventually(t, 10*time.Second, "lb-reflection answering", func() error {
		if !strings.Contains(p.Output(), "lb-reflection: answering reflection on "+reflectionListen) {
			return fmt.Errorf("output so far: %q", p.Output())
		}
		return nil
	})
	grpcurl := testenv.Tool(t, "grpcurl")
	out, err := exec.Command(grpcurl, "-plaintext", lb.Addr, "list").CombinedOutput()
	want := "grpc.health.v1.Health\ngrpc.reflection.v1.ServerReflection\ngrpc.reflection.v1alpha.ServerReflection\nprotos.Echo\nprotos.Ping\n"
	if err != nil || string(out) != want {
		t.Errorf("grpcurl list through %s: expected %q, received %q (%v)", lb.Engine.Name, want, out, err)
	}
	for symbol, want := range map[string]string{
		"protos.Echo":           "rpc Unary ( .protos.EchoRequest ) returns ( .protos.EchoReply );",
		"protos.Ping":           "rpc SayHello ( .protos.PingMessage ) returns ( .protos.PingMessage );",
		"grpc.health.v1.Health": "rpc Check ( .grpc.health.v1.HealthCheckRequest ) returns ( .grpc.health.v1.HealthCheckResponse );",
		"protos.EchoRequest":    "message EchoRequest {",
	} {
		out, err := exec.Command(grpcurl, "-plaintext", lb.Addr, "describe", symbol).CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Errorf("grpcurl describe %s through %s: expected %q, received %q (%v)", symbol, lb.Engine.Name, want, out, err)
		}
	}
	out, err = exec.Command(grpcurl, "-plaintext", lb.Addr, "describe", "no.Such").CombinedOutput()
	// NOT_FOUND, which grpcurl reports as such (build/reflection's tests
	// check the message that names each Consul service's answer).
	if err == nil || !strings.Contains(string(out), "Symbol not found: no.Such") {
		t.Errorf("grpcurl describe no.Such through %s: expected exit 1 and \"Symbol not found\", received %q (%v)", lb.Engine.Name, out, err)
	}
}
