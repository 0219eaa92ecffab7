package testenv

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Engine is one of the deployment's load-balancer engines (LB_ENGINE) as
// the tests run it: on loopback, with the deployment's own config, its
// servers rendered by the real consul-template from a real Consul. Engine
// tests are tables over Engines(), one subtest per Engine.Name.
type Engine struct {
	// Name is the engine's LB_ENGINE value and its folder under EnginesDir.
	Name string
	// Reloader names the program consul-template runs after a render, as
	// it prefixes its log lines ("reload-nginx", "reload-haproxy").
	Reloader string

	prodTemplate, hostTemplate func(testing.TB) string
	startLB                    func(t testing.TB, c *Consul, template string) *LB
	// routed matches a rendered server line routing addr.
	routed func(addr string) *regexp.Regexp
}

// Engines are the engines the host tests run: nginx (the default) and
// HAProxy. An engine folder of EnginesDir runs on the host only once it has
// an Engine here (build/config/lb/README.md, "Adding a third engine").
func Engines() []Engine { return []Engine{NginxEngine, HAProxyEngine} }

// NginxEngine is nginx with build/config/lb/nginx (ProdLoadBalancer),
// HAProxyEngine HAProxy with build/config/lb/haproxy (ProdHAProxy).
var (
	NginxEngine   = Engine{Name: "nginx", Reloader: "reload-nginx", prodTemplate: ProdTemplate, hostTemplate: HostTemplate, startLB: startNginxLB, routed: nginxRoutes}
	HAProxyEngine = Engine{Name: "haproxy", Reloader: "reload-haproxy", prodTemplate: ProdHAProxyTemplate, hostTemplate: HostHAProxyTemplate, startLB: startHAProxyLB, routed: haproxyRoutes}
)

func startNginxLB(t testing.TB, c *Consul, template string) *LB {
	t.Helper()
	return StartProdLoadBalancer(t, c, template).LB()
}

func startHAProxyLB(t testing.TB, c *Consul, template string) *LB {
	t.Helper()
	return StartProdHAProxyLB(t, c, template).LB()
}

// nginxRoutes matches the upstream's server line for addr, haproxyRoutes
// the backend's server slot for addr.
func nginxRoutes(addr string) *regexp.Regexp {
	return regexp.MustCompile(regexp.QuoteMeta("    server " + addr + " max_fails=0;\n"))
}

func haproxyRoutes(addr string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^    server replica-[0-9]+ ` + regexp.QuoteMeta(addr) + `$`)
}

// ProdTemplate is the engine's load-balancer.tpl as the deployment ships it.
func (e Engine) ProdTemplate(t testing.TB) string {
	t.Helper()
	return e.prodTemplate(t)
}

// ProdTemplateDeclaring is ProdTemplate reading its routes from
// declaration, a file in build/config/services.conf's format.
func (e Engine) ProdTemplateDeclaring(t testing.TB, declaration string) string {
	t.Helper()
	return EngineTemplate(t, e.Name, declaration, false)
}

// HostTemplate is the engine's load-balancer.tpl with the one change the
// host needs: 127.x.x.x may be routed (see HostTemplate).
func (e Engine) HostTemplate(t testing.TB) string {
	t.Helper()
	return e.hostTemplate(t)
}

// HostTemplateDeclaring is HostTemplate reading its routes from
// declaration, a file in build/config/services.conf's format.
func (e Engine) HostTemplateDeclaring(t testing.TB, declaration string) string {
	t.Helper()
	return EngineTemplate(t, e.Name, declaration, true)
}

// StartLB renders template from c's catalog with the real consul-template,
// then starts the engine on it on free loopback ports; Render and Reload
// then follow changes in the catalog. It stops the engine when the test
// ends.
func (e Engine) StartLB(t testing.TB, c *Consul, template string) *LB {
	t.Helper()
	lb := e.startLB(t, c, template)
	lb.Engine = e
	return lb
}

// Start registers upstreamAddrs (IPv4 host:port) as passing instances of
// every declared Consul service, in that order, in a Consul agent of its own, and starts the
// engine on the host's template rendered from it (StartLB). It fails the
// test if an address is not routed.
func (e Engine) Start(t testing.TB, upstreamAddrs []string) *LB {
	t.Helper()
	c := StartConsul(t)
	registerUpstreams(t, c, upstreamAddrs)
	lb := e.StartLB(t, c, e.HostTemplate(t))
	e.requireRouted(t, lb.Servers, upstreamAddrs)
	return lb
}

// LB is a load balancer of one Engine running on loopback.
type LB struct {
	Engine Engine
	// Addr is the gRPC listener (:5000 in the deployment), HealthAddr the
	// HTTP one with /healthz and /upstream (:8080).
	Addr, HealthAddr string
	*Process
	Consul *Consul
	// Dir holds the engine's config (Conf), the rendered servers (Servers,
	// nginx's upstream or HAProxy's backend), the pid file and the
	// reloader's last good copy.
	Dir, Conf, Servers string
	// Template is the load-balancer.tpl consul-template renders.
	Template string

	impl interface {
		Render(testing.TB) string
		Reload(testing.TB) (string, string)
		CheckConfig() error
	}
}

// Render runs bin/consul-template -once against the agent, as the
// container's consul-template does on every change, and returns the
// rendered servers.
func (lb *LB) Render(t testing.TB) string {
	t.Helper()
	return lb.impl.Render(t)
}

// Reload runs the engine's reloader (reload-nginx.sh, haproxy-reload) as
// consul-template runs it after a render, and returns what it printed on
// stdout and stderr. It always exits 0; any other exit fails the test.
func (lb *LB) Reload(t testing.TB) (stdout, stderr string) {
	t.Helper()
	return lb.impl.Reload(t)
}

// CheckConfig returns nil if the engine accepts its config and the
// rendered servers (nginx -t, haproxy -c), else the engine's complaint.
func (lb *LB) CheckConfig() error { return lb.impl.CheckConfig() }

// Upstream is the body of HealthAddr's /upstream: the servers the running
// workers route to, each followed by a space, then a newline.
func (lb *LB) Upstream() (string, error) { return getUpstream(lb.HealthAddr) }

// registerUpstreams registers addrs as passing instances of every Consul
// service the repository declares (hello_server, echo_server), on nodes
// replica-000, replica-001, ...: zero-padded, so Consul's order (by node)
// is addrs' order. The tests' replicas are grpc_server -echo, which serve
// every declared gRPC service (Ping, Echo, health, reflection).
func registerUpstreams(t testing.TB, c *Consul, addrs []string) {
	t.Helper()
	for _, service := range DeclaredServices(t) {
		for i, a := range addrs {
			host, port, err := net.SplitHostPort(a)
			if err != nil {
				t.Fatal(err)
			}
			p, err := strconv.Atoi(port)
			if err != nil {
				t.Fatal(err)
			}
			c.RegisterHelloServer(t, Instance{
				Service: service,
				Node:    fmt.Sprintf("replica-%03d", i), ID: fmt.Sprintf("%s-%03d", service, i),
				Address: host, Port: p, Check: "passing",
			})
		}
	}
}

// requireRouted fails the test unless the servers rendered into path route
// every one of addrs: an address the template skips would silently change
// the test.
func (e Engine) requireRouted(t testing.TB, path string, addrs []string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if !e.routed(a).Match(raw) {
			t.Fatalf("%s's load-balancer.tpl does not route %s (Start takes IPv4 host:port addresses); rendered:\n%s", e.Name, a, raw)
		}
	}
}

// runEngine starts bin (an engine) in the foreground with args and waits
// until every addr accepts connections. It stops the engine with SIGTERM,
// which ends its master and workers, when the test ends.
func runEngine(t testing.TB, name, bin string, args []string, addrs ...string) *Process {
	t.Helper()
	p := Start(t, nil, bin, args...)
	// Registered after Start's cleanup, so it runs first: a killed master
	// would leave its workers behind, still listening.
	t.Cleanup(func() {
		if p.Exited() {
			return
		}
		_ = p.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s did not stop within 10s of SIGTERM; output:\n%s", name, p.Output())
		}
	})
	for _, addr := range addrs {
		Eventually(t, 10*time.Second, name+" accepts connections on "+addr, func() error {
			if p.Exited() {
				t.Fatalf("%s exited with %v before accepting connections; output:\n%s", name, p.err, p.Output())
			}
			return dialOnce(addr)
		})
	}
	return p
}

// getUpstream is the body of an engine's /upstream on addr.
func getUpstream(addr string) (string, error) {
	resp, err := http.Get("http://" + addr + "/upstream")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /upstream: status %d %q", resp.StatusCode, body)
	}
	return string(body), err
}
