package testenv

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// ProdNginx is nginx running the deployment's own nginx.conf on loopback.
type ProdNginx struct {
	// Addr is the gRPC listener, :5000 in the deployment.
	Addr string
	// HealthAddr is the HTTP health listener, :8080 in the deployment.
	HealthAddr string
	*Process
}

// StartProdNginx runs nginx with build/config/lb/nginx/nginx.conf, changed
// only where the host differs from the container: its pid and temporary files
// go to a test directory, it listens on free loopback ports, and the upstream
// it includes is load-balancer.tpl rendered by the real consul-template from
// a Consul agent of its own, where upstreamAddrs are registered as passing
// hello_server instances (none renders the "down" placeholder). On the host
// the tests' replicas listen on loopback, so the template's rule that
// refuses 127.x.x.x is relaxed to refuse only 0.x.x.x (see HostTemplate).
// It returns once nginx accepts connections and stops nginx when the test
// ends.
func StartProdNginx(t testing.TB, upstreamAddrs []string) *ProdNginx {
	t.Helper()
	n, dir, conf := prodNginxFiles(t, upstreamAddrs)
	n.Process = runNginx(t, dir, conf, n.Addr, n.HealthAddr)
	return n
}

// prodNginxFiles registers upstreamAddrs in a new Consul agent, renders the
// host's load-balancer.tpl from it and writes the rewritten nginx.conf into
// a test directory; nginx is not started.
func prodNginxFiles(t testing.TB, upstreamAddrs []string) (n *ProdNginx, dir, conf string) {
	t.Helper()
	c := StartConsul(t)
	registerUpstreams(t, c, upstreamAddrs)
	lb := prodLoadBalancerFiles(t, c, HostTemplate(t))
	NginxEngine.requireRouted(t, lb.Upstream, upstreamAddrs)
	return lb.ProdNginx, lb.Dir, lb.Conf
}

// prodLoadBalancerFiles renders template from c into a test directory and
// writes the rewritten nginx.conf next to it; nginx is not started.
func prodLoadBalancerFiles(t testing.TB, c *Consul, template string) *ProdLoadBalancer {
	t.Helper()
	if _, err := os.Stat(NginxBin()); err != nil {
		t.Fatalf("nginx is missing (make proxy-packages makes it): %v", err)
	}
	dir := t.TempDir()
	lb := &ProdLoadBalancer{
		ProdNginx: &ProdNginx{
			Addr:       net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t))),
			HealthAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t))),
		},
		Consul:   c,
		Dir:      dir,
		Template: template,
		Upstream: filepath.Join(dir, "load-balancer.conf"),
		Conf:     filepath.Join(dir, "nginx.conf"),
	}
	lb.Render(t)
	if err := os.WriteFile(lb.Conf, []byte(prodConfig(t, dir, lb.Upstream, lb.Addr, lb.HealthAddr)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := lb.CheckConfig(); err != nil {
		raw, _ := os.ReadFile(lb.Upstream)
		t.Fatalf("nginx rejects the upstream consul-template rendered from %s: %v\nrendered:\n%s", template, err, raw)
	}
	return lb
}

// prodConfig rewrites the deployment's nginx.conf for this host. Each
// rewrite must match: a changed nginx.conf fails here instead of leaving a
// container path in place.
func prodConfig(t testing.TB, dir, upstream, addr, healthAddr string) string {
	t.Helper()
	return RewriteEngineFile(t, "nginx", "nginx.conf", "StartProdNginx",
		// The render, then the pid and the temporary file paths.
		Rewrite{"include /tmp/nginx/load-balancer.conf;", "include " + upstream + ";"},
		Rewrite{"/tmp/nginx/", dir + "/"},
		Rewrite{"listen 5000 reuseport;", "listen " + addr + " reuseport;"},
		Rewrite{"listen 8080 reuseport;", "listen " + healthAddr + " reuseport;"})
}

// runNginx starts nginx in the foreground with conf and waits until every
// addr accepts connections. It stops nginx with SIGTERM when the test ends.
func runNginx(t testing.TB, dir, conf string, addrs ...string) *Process {
	t.Helper()
	return runEngine(t, "nginx", NginxBin(), []string{"-e", "stderr", "-p", dir, "-c", conf}, addrs...)
}

// dialOnce reports whether addr accepts a TCP connection.
func dialOnce(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return conn.Close()
}
