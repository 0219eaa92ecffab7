package testenv

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ProdHAProxy is HAProxy running the deployment's haproxy.cfg on loopback,
// with its load-balancer.tpl rendered by the real consul-template from
// a real Consul, in master-worker mode as in the container.
type ProdHAProxy struct {
	// Addr is the gRPC listener, :5000 in the deployment.
	Addr string
	// HealthAddr is the HTTP listener with /healthz and /upstream, :8080.
	HealthAddr string
	*Process
	Consul *Consul
	// Dir holds haproxy.cfg (Conf), the rendered servers (Upstream), the
	// pid file, the Runtime API socket and haproxy-reload's last good copy.
	Dir, Conf, Upstream string
	// Template is the HAProxy load-balancer.tpl consul-template renders.
	Template string
}

// ProdHAProxyTemplate is the deployment's HAProxy template,
// build/config/lb/haproxy/load-balancer.tpl (in the image
// /etc/lb/haproxy/load-balancer.tpl), reading the repository's declaration.
func ProdHAProxyTemplate(t testing.TB) string {
	t.Helper()
	return EngineTemplate(t, "haproxy", Declaration(t), false)
}

// HostHAProxyTemplate is HAProxy's load-balancer.tpl with the change
// HostTemplate makes for nginx's: 127.x.x.x may be routed on this host.
func HostHAProxyTemplate(t testing.TB) string {
	t.Helper()
	return EngineTemplate(t, "haproxy", Declaration(t), true)
}

// StartProdHAProxy is StartProdNginx for HAProxy: upstreamAddrs are
// registered as passing hello_server instances in a Consul agent of its own,
// the host's HAProxy load-balancer.tpl is rendered from it, and HAProxy
// runs the deployment's haproxy.cfg on free loopback ports.
func StartProdHAProxy(t testing.TB, upstreamAddrs []string) *ProdHAProxy {
	t.Helper()
	return HAProxyEngine.Start(t, upstreamAddrs).HAProxy()
}

// StartProdHAProxyLB renders template from c with the real consul-template,
// then starts HAProxy on it; Render and Reload then follow the catalog.
func StartProdHAProxyLB(t testing.TB, c *Consul, template string) *ProdHAProxy {
	t.Helper()
	if _, err := os.Stat(HAProxyBin()); err != nil {
		t.Fatalf("haproxy is missing (make proxy-packages makes it): %v", err)
	}
	dir := t.TempDir()
	h := &ProdHAProxy{
		Addr:       net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t))),
		HealthAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t))),
		Consul:     c,
		Dir:        dir,
		Conf:       filepath.Join(dir, "haproxy.cfg"),
		Upstream:   filepath.Join(dir, "load-balancer.cfg"),
		Template:   template,
	}
	render := h.Render(t)
	// The image holds a last good copy of the config HAProxy starts with;
	// haproxy-reload compares each render with it, and reloads HAProxy
	// when the render changes more than servers.
	if err := os.WriteFile(filepath.Join(dir, "load-balancer.cfg.last-good"), []byte(render), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.Conf, []byte(prodHAProxyConfig(t, dir, h.Addr, h.HealthAddr)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := h.CheckConfig(); err != nil {
		raw, _ := os.ReadFile(h.Upstream)
		t.Fatalf("haproxy -c rejects the servers consul-template rendered from %s: %v\nrendered:\n%s", template, err, raw)
	}
	// -db: in the foreground, as supervisord runs it; master-worker is in
	// haproxy.cfg's global section.
	h.Process = runEngine(t, "haproxy", HAProxyBin(), []string{"-db", "-f", h.Conf, "-f", h.Upstream}, h.Addr, h.HealthAddr)
	// HAProxy 3.0 may open its listeners before the Runtime API's socket.
	socket := filepath.Join(dir, "haproxy.sock")
	Eventually(t, 10*time.Second, "haproxy's Runtime API answers on "+socket, func() error {
		c, err := net.DialTimeout("unix", socket, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	return h
}

// prodHAProxyConfig rewrites the deployment's haproxy.cfg for this host.
// Each rewrite must match: a changed haproxy.cfg fails here instead of
// leaving a container path in place.
func prodHAProxyConfig(t testing.TB, dir, addr, healthAddr string) string {
	t.Helper()
	return RewriteEngineFile(t, "haproxy", "haproxy.cfg", "prodHAProxyConfig",
		Rewrite{"/tmp/haproxy/", dir + "/"},
		// The render's frontend grpc binds GRPC_LISTEN.
		Rewrite{"setenv GRPC_LISTEN :5000\n", "setenv GRPC_LISTEN " + addr + "\n"},
		Rewrite{"bind :8080\n", "bind " + healthAddr + "\n"})
}

// LB is h as an Engine's load balancer (HAProxyEngine.StartLB's).
func (h *ProdHAProxy) LB() *LB {
	return &LB{
		Addr: h.Addr, HealthAddr: h.HealthAddr, Process: h.Process,
		Consul: h.Consul, Dir: h.Dir, Conf: h.Conf, Servers: h.Upstream, Template: h.Template,
		impl: h,
	}
}

// HAProxy is the ProdHAProxy behind lb; it panics if lb is not HAProxy.
func (lb *LB) HAProxy() *ProdHAProxy {
	h, ok := lb.impl.(*ProdHAProxy)
	if !ok {
		panic("testenv: " + lb.Engine.Name + " is not HAProxy")
	}
	return h
}

// Render runs bin/consul-template -once against the agent, as the
// container's consul-template does on every change, and returns the
// rendered servers.
func (h *ProdHAProxy) Render(t testing.TB) string {
	t.Helper()
	return renderOnce(t, h.Consul, h.Template, h.Upstream)
}

// renderOnce renders template into dest with bin/consul-template -once.
func renderOnce(t testing.TB, c *Consul, template, dest string) string {
	t.Helper()
	bin := Tool(t, "consul-template")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-once", "-log-level", "warn",
		"-consul-addr", c.HTTPAddr, "-template", template+":"+dest)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("consul-template -once rendering %s: %v\n%s", template, err, out)
	}
	raw, err := os.ReadFile(dest)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// CheckConfig runs `haproxy -c` on both files and returns nil if HAProxy
// accepts them, else its complaint.
func (h *ProdHAProxy) CheckConfig() error {
	out, err := exec.Command(HAProxyBin(), "-c", "-q", "-f", h.Conf, "-f", h.Upstream).CombinedOutput()
	if err != nil {
		return errors.New("haproxy -c: " + err.Error() + ": " + strings.TrimSpace(string(out)))
	}
	return nil
}

// Reload runs the deployment's haproxy-reload (build/haproxyreload, built
// once per test binary) with flags pointing at the test's files and
// bin/haproxy, as consul-template runs it after a render, and returns what
// it printed on stdout and stderr. It always exits 0; any other exit fails
// the test.
func (h *ProdHAProxy) Reload(t testing.TB) (stdout, stderr string) {
	t.Helper()
	return h.reload(t, filepath.Join(h.Dir, "haproxy.sock"))
}

// ReloadWithoutRuntimeAPI is Reload with the Runtime API socket pointing
// nowhere, so haproxy-reload takes its fallback: a reload of HAProxy.
func (h *ProdHAProxy) ReloadWithoutRuntimeAPI(t testing.TB) (stdout, stderr string) {
	t.Helper()
	return h.reload(t, filepath.Join(h.Dir, "no-such.sock"))
}

func (h *ProdHAProxy) reload(t testing.TB, socket string) (stdout, stderr string) {
	t.Helper()
	bin := Binary(t, "./build/haproxyreload")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin,
		"-config", h.Conf,
		"-servers", h.Upstream,
		"-last-good", filepath.Join(h.Dir, "load-balancer.cfg.last-good"),
		"-pidfile", filepath.Join(h.Dir, "haproxy.pid"),
		"-socket", socket,
		"-haproxy", HAProxyBin(),
	)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("haproxy-reload: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}
