package testenv

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"text/template"
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

// StartProdNginx runs nginx with build/config/nginx/nginx.conf, changed only
// where the host differs from the container: its pid and temporary files go
// to a test directory, it listens on free loopback ports, and the upstream
// it includes is load-balancer.tpl rendered with upstreamAddrs as the
// passing hello_server instances (none renders the "down" placeholder). It
// returns once nginx accepts connections and stops nginx when the test ends.
func StartProdNginx(t testing.TB, upstreamAddrs []string) *ProdNginx {
	t.Helper()
	n, dir, conf := prodNginxFiles(t, upstreamAddrs)
	n.Process = runNginx(t, dir, conf, n.Addr, n.HealthAddr)
	return n
}

// prodNginxFiles writes the rewritten nginx.conf and the rendered upstream
// into a test directory and picks the listeners' addresses.
func prodNginxFiles(t testing.TB, upstreamAddrs []string) (n *ProdNginx, dir, conf string) {
	t.Helper()
	if _, err := os.Stat(NginxBin); err != nil {
		t.Fatalf("nginx is missing: %v", err)
	}
	dir = t.TempDir()
	upstream := filepath.Join(dir, "load-balancer.conf")
	if err := os.WriteFile(upstream, []byte(renderUpstream(t, upstreamAddrs)), 0o644); err != nil {
		t.Fatal(err)
	}
	n = &ProdNginx{
		Addr:       net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t))),
		HealthAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t))),
	}
	conf = filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(prodConfig(t, dir, upstream, n.Addr, n.HealthAddr)), 0o644); err != nil {
		t.Fatal(err)
	}
	return n, dir, conf
}

// prodConfig rewrites the deployment's nginx.conf for this host. Each
// rewrite must match: a changed nginx.conf fails here instead of leaving a
// container path in place.
func prodConfig(t testing.TB, dir, upstream, addr, healthAddr string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(RepoRoot(t), "build", "config", "nginx", "nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(raw)
	for _, r := range []struct{ old, new string }{
		// pid and the temporary file paths.
		{"/tmp/nginx/", dir + "/"},
		{"include /etc/nginx/conf.d/load-balancer.conf;", "include " + upstream + ";"},
		{"listen 5000 http2 reuseport;", "listen " + addr + " http2 reuseport;"},
		{"listen 8080 reuseport;", "listen " + healthAddr + " reuseport;"},
	} {
		if !strings.Contains(conf, r.old) {
			t.Fatalf("build/config/nginx/nginx.conf no longer contains %q: update StartProdNginx", r.old)
		}
		conf = strings.ReplaceAll(conf, r.old, r.new)
	}
	if os.Geteuid() == 0 {
		// As root nginx would run its workers as nobody, who cannot enter
		// the test's private temporary directory.
		conf = "user root;\n" + conf
	}
	return conf
}

// renderUpstream renders consul-template's load-balancer.tpl with Go's
// text/template, which consul-template is built on; "service" returns
// addrs as the passing instances.
func renderUpstream(t testing.TB, addrs []string) string {
	t.Helper()
	path := filepath.Join(RepoRoot(t), "build", "config", "consul-template", "load-balancer.tpl")
	type instance struct {
		Address string
		Port    int
	}
	var instances []instance
	for _, a := range addrs {
		host, port, err := net.SplitHostPort(a)
		if err != nil {
			t.Fatal(err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			t.Fatal(err)
		}
		instances = append(instances, instance{host, p})
	}
	tpl, err := template.New(filepath.Base(path)).Funcs(template.FuncMap{
		"service": func(name string) []instance {
			if name != "hello_server" {
				t.Errorf("load-balancer.tpl asks for service %q; StartProdNginx serves only hello_server", name)
			}
			return instances
		},
	}).ParseFiles(path)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	var out strings.Builder
	if err := tpl.Execute(&out, nil); err != nil {
		t.Fatalf("rendering %s: %v", path, err)
	}
	return out.String()
}

// runNginx starts nginx in the foreground with conf and waits until every
// addr accepts connections. It stops nginx with SIGTERM when the test ends.
func runNginx(t testing.TB, dir, conf string, addrs ...string) *Process {
	t.Helper()
	p := Start(t, nil, NginxBin, "-e", "stderr", "-p", dir, "-c", conf)
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
			t.Errorf("nginx did not stop within 10s of SIGTERM; output:\n%s", p.Output())
		}
	})
	for _, addr := range addrs {
		Eventually(t, 10*time.Second, "nginx accepts connections on "+addr, func() error {
			if p.Exited() {
				t.Fatalf("nginx exited with %v before accepting connections; output:\n%s", p.err, p.Output())
			}
			return dialOnce(addr)
		})
	}
	return p
}

// dialOnce reports whether addr accepts a TCP connection.
func dialOnce(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return conn.Close()
}
