package lbbehaviour

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/protos"
)

// A declaration with bad lines (build/config/services.conf's format): each
// engine's template skips every bad line whole, lists it in a sanitised
// "# skipped declaration line" comment that its reloader logs, and routes
// the good lines. A gRPC service of a skipped line is not routed anywhere,
// so it is answered UNIMPLEMENTED, as one nobody declared; a declared
// Consul service with no instance answers UNAVAILABLE naming itself.
func TestDeclarationBadLinesAreSkipped(t *testing.T) {
	declaration := strings.Join([]string{
		"# a comment, then a blank line",
		"",
		"hello_server   protos.Ping\t# trailing comment",
		"echo_server protos.Echo",
		"Capital protos.Capital",                   // 5: capital letter
		"inject protos.Inject;include /etc/passwd", // 6: ';' and a path
		"grab protos.Ping",                         // 7: protos.Ping is hello_server's
		"hello_server protos.Other",                // 8: hello_server is declared
		"lonely",                                   // 9: no gRPC service
		`quote protos.Quote") global`,              // 10: quote and parenthesis
		"dash-name protos.Dash",                    // 11: '-' in the Consul service
		"long " + strings.Repeat("p.Long ", 200),   // 12: more than 1000 characters
		"method protos.Method/SayHello",            // 13: a path, not a service
	}, "\n") + "\n"
	path := filepath.Join(t.TempDir(), "services.conf")
	if err := os.WriteFile(path, []byte(declaration), 0o644); err != nil {
		t.Fatal(err)
	}
	skippedLines := map[int]string{
		5: "Capital protos.Capital", 6: "inject protos.Inject?include /etc/passwd", 7: "grab protos.Ping",
		8: "hello_server protos.Other", 9: "lonely", 10: "quote protos.Quote?? global",
		11: "dash-name protos.Dash", 12: "long p.Long p.Long", 13: "method protos.Method/SayHello",
	}
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			ping := testenv.StartPingServer(t, "declared-a")
			_, portText, _ := net.SplitHostPort(ping.Addr)
			port, err := strconv.Atoi(portText)
			if err != nil {
				t.Fatal(err)
			}
			c := testenv.StartConsul(t)
			c.RegisterHelloServer(t, testenv.Instance{Node: "replica-000", ID: "hello_server-000", Address: "127.0.0.1", Port: port, Check: "passing"})
			lb := e.StartLB(t, c, e.HostTemplateDeclaring(t, path))
			raw, err := os.ReadFile(lb.Servers)
			if err != nil {
				t.Fatal(err)
			}
			rendered := string(raw)
			for n, text := range skippedLines {
				want := "# skipped declaration line " + strconv.Itoa(n) + " (a Consul service and its gRPC services, each once): " + text
				if !strings.Contains(rendered, want) {
					t.Errorf("rendered file lacks %q:\n%s", want, rendered)
				}
			}
			if got := strings.Count(rendered, "# skipped declaration line "); got != len(skippedLines) {
				t.Errorf("rendered file: expected %d skipped declaration lines, found %d:\n%s", len(skippedLines), got, rendered)
			}
			for _, leaked := range []string{"/etc/passwd", "protos.Capital", "protos.Inject", "protos.Other", "protos.Quote", "protos.Dash", "p.Long", "protos.Method", "lonely"} {
				for _, l := range strings.Split(rendered, "\n") {
					if strings.Contains(l, leaked) && !strings.HasPrefix(l, "# skipped declaration line ") {
						t.Errorf("a rendered line outside the skipped comments holds %q: %q", leaked, l)
					}
				}
			}
			_, stderr := lb.Reload(t)
			if got := strings.Count(stderr, e.Reloader+": skipped declaration line "); got != len(skippedLines) {
				t.Errorf("%s logged %d skipped declaration lines, expected %d:\n%s", e.Reloader, got, len(skippedLines), stderr)
			}

			conn := testenv.Dial(t, lb.Addr)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			reply, err := protos.NewPingClient(conn).SayHello(ctx, &protos.PingMessage{})
			if err != nil || reply.GetGreeting() != "Hello from declared-a." {
				t.Errorf("protos.Ping/SayHello through %s: expected \"Hello from declared-a.\", received %v, %v", e.Name, reply, err)
			}
			for _, c := range []struct {
				method  string
				code    codes.Code
				message string
			}{
				{"/protos.Other/Call", codes.Unimplemented, "unknown service protos.Other"},
				{"/protos.Capital/Call", codes.Unimplemented, "unknown service protos.Capital"},
				{"/protos.Dash/Call", codes.Unimplemented, "unknown service protos.Dash"},
				{"/no.such.Service/Call", codes.Unimplemented, "unknown service no.such.Service"},
				{"/protos.Method/SayHello/extra", codes.Unimplemented, "malformed method name"},
				{"/protos.Echo/Unary", codes.Unavailable, "no healthy echo_server replica is available behind the load balancer for protos.Echo"},
			} {
				err := conn.Invoke(ctx, c.method, &emptypb.Empty{}, &emptypb.Empty{})
				if st := status.Convert(err); st.Code() != c.code || st.Message() != c.message {
					t.Errorf("%s through %s: expected %s %q, received %s %q", c.method, e.Name, c.code, c.message, st.Code(), st.Message())
				}
			}
		})
	}
}
