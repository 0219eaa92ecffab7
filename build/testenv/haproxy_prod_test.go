package testenv

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// validationBlock is the part of a load-balancer template that decides which
// instances are routed: from the "scratch is fresh" comment to the line
// that sets $routed.
func validationBlock(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const first, last = "{{- /* scratch is fresh", "{{- $routed := scratch.MapValues \"routed\" }}\n"
	s := string(raw)
	i, j := strings.Index(s, first), strings.Index(s, last)
	if i < 0 || j < i {
		t.Fatalf("%s: no validation block from %q to %q", path, first, last)
	}
	return s[i : j+len(last)]
}

// consul-template v0.41.1 parses each template file on its own (no include
// across files), so nginx's and HAProxy's templates each carry the
// validation; it must be the same, byte for byte.
func TestTemplatesShareValidation(t *testing.T) {
	nginx := validationBlock(t, ProdTemplate(t))
	haproxy := validationBlock(t, ProdHAProxyTemplate(t))
	if nginx != haproxy {
		t.Errorf("the validation blocks of build/config/lb/nginx/load-balancer.tpl and build/config/lb/haproxy/load-balancer.tpl differ:\n--- nginx\n%s\n--- haproxy\n%s", nginx, haproxy)
	}
}

// checkRenderedHAProxy asserts that rendered routes exactly routed (slots
// replica-1..N, sorted by address, each address once, then free slots up to
// 64) and holds each of bad only as its sanitised "# skipped" line.
func checkRenderedHAProxy(t *testing.T, rendered string, routed []string, bad []Instance) {
	t.Helper()
	var servers []string
	slots := regexp.MustCompile(`(?m)^ *server (\S+) (\S+)( disabled)?$`).FindAllStringSubmatch(rendered, -1)
	for i, m := range slots {
		if m[1] != fmt.Sprintf("replica-%d", i+1) {
			t.Errorf("slot %d is named %q, expected replica-%d", i+1, m[1], i+1)
		}
		if m[3] == "" {
			servers = append(servers, m[2])
		} else if m[2] != "127.0.0.1:1" || i < len(routed) {
			t.Errorf("slot %d: %q, expected a free slot only after the routed ones", i+1, m[0])
		}
	}
	if want := max(64, len(routed)); len(slots) != want {
		t.Errorf("server slots: expected %d, received %d", want, len(slots))
	}
	if !slices.Equal(servers, routed) {
		t.Errorf("backend servers: expected %q, received %q; rendered:\n%s", routed, servers, rendered)
	}
	wantVar := `    set-var proc.hello_server_upstream str("` + strings.Join(append(slices.Clone(routed), ""), " ") + `")`
	if len(routed) == 0 {
		wantVar = `    set-var proc.hello_server_upstream str("")`
	}
	if !strings.Contains(rendered, "\nglobal\n"+wantVar+"\n") {
		t.Errorf("proc.hello_server_upstream: expected %q; rendered:\n%s", wantVar, rendered)
	}
	var skipped, want []string
	for _, line := range strings.Split(rendered, "\n") {
		if v, ok := strings.CutPrefix(line, skippedPrefix); ok {
			skipped = append(skipped, v)
			if !regexp.MustCompile(`^[A-Za-z0-9_.:=/ ?-]{0,200}$`).MatchString(v) {
				t.Errorf("skipped line carries raw catalog text: %q", line)
			}
			continue
		}
		// Comments, and the template's own free slots (its fixed text, no
		// catalog data).
		if strings.HasPrefix(strings.TrimSpace(line), "#") || regexp.MustCompile(`^    server replica-[0-9]+ 127\.0\.0\.1:1 disabled$`).MatchString(line) {
			continue
		}
		for _, inst := range bad {
			for _, raw := range []string{inst.Address, inst.ID, inst.Node} {
				if strings.Contains(line, raw) {
					t.Errorf("the bad instance's %q reaches HAProxy's config outside a skipped comment, in line %q", raw, line)
				}
			}
		}
		for _, raw := range []string{"6.6.6.6", "/etc/passwd", "not-an-ip"} {
			if strings.Contains(line, raw) {
				t.Errorf("%q reaches HAProxy's config outside a skipped comment, in line %q", raw, line)
			}
		}
	}
	for _, inst := range bad {
		want = append(want, sanitised(inst))
	}
	slices.Sort(skipped)
	slices.Sort(want)
	if !slices.Equal(skipped, want) {
		t.Errorf("skipped lines:\n  expected %q\n  received %q\nrendered:\n%s", want, skipped, rendered)
	}
}

// checkHAProxyReloadLog asserts haproxy-reload's log: one line per
// skipped instance on stderr, the reload with the routed ones on stdout.
func checkHAProxyReloadLog(t *testing.T, stdout, stderr string, routed []string, bad []Instance) {
	t.Helper()
	const logPrefix = "reload-haproxy: skipped hello_server instance (not an IPv4 address with a port from 1 to 65535): "
	var logged, want []string
	for _, line := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		if v, ok := strings.CutPrefix(line, logPrefix); ok {
			logged = append(logged, v)
		} else if line != "" {
			t.Errorf("haproxy-reload wrote an unexpected line on stderr: %q", line)
		}
	}
	for _, inst := range bad {
		want = append(want, sanitised(inst))
	}
	slices.Sort(logged)
	slices.Sort(want)
	if !slices.Equal(logged, want) {
		t.Errorf("haproxy-reload's skipped lines:\n  expected %q\n  received %q\nstderr:\n%s", want, logged, stderr)
	}
	wantOut := fmt.Sprintf("reload-haproxy: haproxy routes to %d hello_server replica(s): %s (Runtime API, no reload)\n", len(routed), strings.Join(routed, " "))
	if stdout != wantOut {
		t.Errorf("haproxy-reload stdout:\n  expected %q\n  received %q", wantOut, stdout)
	}
}

// TestTemplateRendersOnlyValidInstances for HAProxy: the real
// consul-template renders HAProxy's unchanged load-balancer.tpl from a
// real Consul holding valid and bad instances; only the valid ones become
// servers, haproxy -c accepts the file, haproxy-reload logs the skipped
// ones, and after a reload /upstream follows the catalog.
func TestHAProxyTemplateRendersOnlyValidInstances(t *testing.T) {
	c := StartConsul(t)
	valid := []Instance{
		{Node: "node-a", ID: "hello-a", Address: "10.20.30.41", Port: 7001, Check: "passing"},
		{Node: "node-b", ID: "hello-b", Address: "192.168.50.2", Port: 65535},
		// The same address and port twice: one server, not a name clash.
		{Node: "node-b2", ID: "hello-b2", Address: "192.168.50.2", Port: 65535},
	}
	bad := []Instance{
		{Node: "bad-inject", ID: "inject", Address: "1.2.3.4\n    server x 6.6.6.6:80", Port: 7001, Check: "passing"},
		{Node: "bad-name", ID: "name", Address: "not-an-ip", Port: 7001},
		{Node: "bad-ipv6", ID: "ipv6", Address: "::1", Port: 7001},
		{Node: "bad-loopback", ID: "loopback", Address: "127.0.0.1", Port: 7001},
		{Node: "bad-zero", ID: "zero", Address: "0.0.0.0", Port: 7001},
		{Node: "bad-octet", ID: "octet", Address: "256.1.2.3", Port: 7001},
		{Node: "bad-with-port", ID: "with-port", Address: "10.1.2.3:80", Port: 7001},
		{Node: "bad-port-0", ID: "port-0", Address: "10.20.30.42", Port: 0},
		{Node: "bad-port-high", ID: "port-high", Address: "10.20.30.43", Port: 70000},
		{Node: "bad-quote", ID: "quote", Address: `10.20.30.45")` + "\n" + `global`, Port: 7001},
		{Node: "bad-long", ID: "long", Address: "10.20.30.46" + strings.Repeat("x", 300), Port: 7001},
	}
	for _, inst := range valid {
		c.RegisterHelloServer(t, inst)
	}
	var registered []Instance
	for _, inst := range bad {
		if err := c.RegisterHelloServerErr(inst); err != nil {
			t.Logf("Consul refuses %+v, left out: %v", inst, err)
			continue
		}
		registered = append(registered, inst)
	}
	bad = registered

	h := StartProdHAProxyLB(t, c, ProdHAProxyTemplate(t))
	raw, err := os.ReadFile(h.Upstream)
	if err != nil {
		t.Fatal(err)
	}
	wantRouted := []string{"10.20.30.41:7001", "192.168.50.2:65535"}
	checkRenderedHAProxy(t, string(raw), wantRouted, bad)
	if body, err := getUpstream(h.HealthAddr); err != nil || body != strings.Join(wantRouted, " ")+" \n" {
		t.Errorf("GET /upstream: expected %q, received %q (%v)", strings.Join(wantRouted, " ")+" \n", body, err)
	}
	stdout, stderr := h.Reload(t)
	checkHAProxyReloadLog(t, stdout, stderr, wantRouted, bad)

	c.RegisterHelloServer(t, Instance{Node: "node-d", ID: "hello-d", Address: "172.16.0.9", Port: 7004, Check: "passing"})
	// Servers are sorted by address.
	wantRouted = append(wantRouted, "172.16.0.9:7004")
	slices.Sort(wantRouted)
	checkRenderedHAProxy(t, h.Render(t), wantRouted, bad)
	stdout, stderr = h.Reload(t)
	checkHAProxyReloadLog(t, stdout, stderr, wantRouted, bad)
	want := strings.Join(wantRouted, " ") + " \n"
	Eventually(t, 10*time.Second, "HAProxy's /upstream lists the new instance after the reload", func() error {
		body, err := getUpstream(h.HealthAddr)
		if err != nil {
			return err
		}
		if body != want {
			return fmt.Errorf("expected %q, received %q", want, body)
		}
		return nil
	})
}

// A render haproxy -c rejects is replaced by the last good one, HAProxy
// keeps running, and haproxy-reload still exits 0.
func TestReloadHAProxyKeepsLastGoodConfig(t *testing.T) {
	h := StartProdHAProxy(t, []string{"127.0.0.1:7001"})
	h.Reload(t)
	good, err := os.ReadFile(h.Upstream)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(h.Upstream, []byte("backend hello_server from hello_server\n    server replica-1 127.0.0.1:7001 no-such-keyword\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr := h.Reload(t)
	if stdout != "" || !strings.HasPrefix(stderr, "reload-haproxy: haproxy -c rejected the rendered "+h.Upstream+"; keeping the last good config: ") {
		t.Errorf("haproxy-reload with a bad render: stdout %q, stderr %q", stdout, stderr)
	}
	if now, _ := os.ReadFile(h.Upstream); string(now) != string(good) {
		t.Errorf("the bad render was not replaced by the last good one:\n%s", now)
	}
	if h.Exited() {
		t.Errorf("haproxy exited")
	}
	if body, err := getUpstream(h.HealthAddr); err != nil || body != "127.0.0.1:7001 \n" {
		t.Errorf("GET /upstream: expected %q, received %q (%v)", "127.0.0.1:7001 \n", body, err)
	}
}

// :8080/upstream and /healthz on HAProxy, with and without replicas.
func TestProdHAProxyServesItsUpstream(t *testing.T) {
	for _, c := range []struct {
		name  string
		addrs []string
		want  string
	}{
		{"two replicas", []string{"127.0.0.1:7001", "127.0.0.2:7002"}, "127.0.0.1:7001 127.0.0.2:7002 \n"},
		{"no replica", nil, "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := StartProdHAProxy(t, c.addrs)
			if body, err := getUpstream(h.HealthAddr); err != nil || body != c.want {
				t.Errorf("GET /upstream: expected %q, received %q (%v)", c.want, body, err)
			}
		})
	}
}

// The Runtime API answers on haproxy.cfg's stats socket (level admin): it
// lists the rendered servers, for operators and a later add/drain/remove
// of servers without a reload.
func TestProdHAProxyRuntimeAPI(t *testing.T) {
	h := StartProdHAProxy(t, []string{"127.0.0.1:7001", "127.0.0.2:7002"})
	conn, err := net.DialTimeout("unix", filepath.Join(h.Dir, "haproxy.sock"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("show servers state hello_server\n")); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	// Fields: be_id be_name srv_id srv_name srv_addr srv_op_state ... srv_port.
	var got []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) > 18 && f[1] == "hello_server" && f[6] == "0" {
			got = append(got, f[3]+"="+f[4]+":"+f[18]+" op_state="+f[5])
		}
	}
	want := []string{"replica-1=127.0.0.1:7001 op_state=2", "replica-2=127.0.0.2:7002 op_state=2"}
	if !slices.Equal(got, want) {
		t.Errorf("show servers state hello_server, enabled slots: expected %q (2: running), received %q\n%s", want, got, out)
	}
}

// The fallback when the Runtime API fails: reloads one right after another
// all take effect. The master re-executes itself on each, and a reload
// signal that reaches it before it is back would be lost (a clean-clone CI
// run lost one a second after another). haproxy-reload returns only once
// the new worker exists. The configs
// are rendered first, then loaded and reloaded as fast as haproxy-reload
// allows; the last one must be the one serving.
func TestHAProxyBackToBackReloadsAllTakeEffect(t *testing.T) {
	c := StartConsul(t)
	h := StartProdHAProxyLB(t, c, ProdHAProxyTemplate(t))
	var renders []string
	var want []string
	for i := 1; i <= 5; i++ {
		addr := fmt.Sprintf("10.20.30.%d:7001", 40+i)
		c.RegisterHelloServer(t, Instance{Node: fmt.Sprintf("node-%d", i), ID: fmt.Sprintf("hello-%d", i), Address: strings.TrimSuffix(addr, ":7001"), Port: 7001})
		want = append(want, addr)
		renders = append(renders, h.Render(t))
	}
	for i, render := range renders {
		if err := os.WriteFile(h.Upstream, []byte(render), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr := h.ReloadWithoutRuntimeAPI(t)
		want := fmt.Sprintf("reload-haproxy: haproxy routes to %d hello_server replica(s): %s (reloaded)\n", i+1, strings.Join(sortedCopy(want[:i+1]), " "))
		if stdout != want || !strings.Contains(stderr, "reload-haproxy: changing the servers through the Runtime API failed (above); reloading haproxy instead") {
			t.Fatalf("reload %d: expected stdout %q and the Runtime API's failure on stderr, received %q, %q", i+1, want, stdout, stderr)
		}
	}
	body := strings.Join(want, " ") + " \n"
	Eventually(t, 10*time.Second, "HAProxy's /upstream lists all five instances after the last reload", func() error {
		got, err := getUpstream(h.HealthAddr)
		if err != nil {
			return err
		}
		if got != body {
			return fmt.Errorf("expected %q, received %q", body, got)
		}
		return nil
	})
}

func sortedCopy(v []string) []string {
	out := slices.Clone(v)
	slices.Sort(out)
	return out
}

// A change of servers is made through the Runtime API: the worker that
// serves stays the same (no reload, so no client connection is ended), a
// new server is added and serves, a server that left is gone or disabled,
// and /upstream follows; a server that comes back at the same address is
// enabled again.
func TestHAProxyServerChangesNeedNoReload(t *testing.T) {
	c := StartConsul(t)
	c.RegisterHelloServer(t, Instance{Node: "node-1", ID: "hello-1", Address: "10.20.30.41", Port: 7001})
	c.RegisterHelloServer(t, Instance{Node: "node-2", ID: "hello-2", Address: "10.20.30.42", Port: 7001})
	h := StartProdHAProxyLB(t, c, ProdHAProxyTemplate(t))
	raw, err := os.ReadFile(filepath.Join(h.Dir, "haproxy.pid"))
	if err != nil {
		t.Fatal(err)
	}
	master := strings.TrimSpace(string(raw))
	workers := func() []string {
		var out []string
		stats, _ := filepath.Glob("/proc/[0-9]*/stat")
		for _, stat := range stats {
			raw, err := os.ReadFile(stat)
			if err != nil {
				continue
			}
			line := string(raw)
			f := strings.Fields(line[strings.LastIndex(line, ")")+1:])
			if len(f) > 1 && f[1] == master {
				out = append(out, strings.Fields(line)[0])
			}
		}
		slices.Sort(out)
		return out
	}
	before := workers()
	if len(before) != 1 {
		t.Fatalf("haproxy's master (pid %s) has workers %v, expected one", master, before)
	}
	for _, step := range []struct {
		what   string
		change func()
		want   []string
	}{
		{"a third server", func() {
			c.RegisterHelloServer(t, Instance{Node: "node-3", ID: "hello-3", Address: "10.20.30.43", Port: 7001})
		}, []string{"10.20.30.41:7001", "10.20.30.42:7001", "10.20.30.43:7001"}},
		{"the first one leaves", func() {
			if _, err := c.Client.Catalog().Deregister(&api.CatalogDeregistration{Node: "node-1"}, nil); err != nil {
				t.Fatal(err)
			}
		}, []string{"10.20.30.42:7001", "10.20.30.43:7001"}},
		{"the first one comes back", func() {
			c.RegisterHelloServer(t, Instance{Node: "node-1", ID: "hello-1", Address: "10.20.30.41", Port: 7001})
		}, []string{"10.20.30.41:7001", "10.20.30.42:7001", "10.20.30.43:7001"}},
	} {
		step.change()
		h.Render(t)
		stdout, stderr := h.Reload(t)
		want := fmt.Sprintf("reload-haproxy: haproxy routes to %d hello_server replica(s): %s (Runtime API, no reload)\n", len(step.want), strings.Join(step.want, " "))
		if stdout != want || stderr != "" {
			t.Fatalf("%s: haproxy-reload: expected stdout %q and no stderr, received %q, %q", step.what, want, stdout, stderr)
		}
		if now := workers(); !slices.Equal(now, before) {
			t.Fatalf("%s: haproxy's workers changed from %v to %v: the change reloaded haproxy", step.what, before, now)
		}
		if got := enabledServers(t, h); !slices.Equal(got, step.want) {
			t.Errorf("%s: enabled servers in the Runtime API: expected %v, received %v", step.what, step.want, got)
		}
		if body, err := getUpstream(h.HealthAddr); err != nil || body != strings.Join(step.want, " ")+" \n" {
			t.Errorf("%s: GET /upstream: expected %q, received %q (%v)", step.what, strings.Join(step.want, " ")+" \n", body, err)
		}
	}
}

// enabledServers lists the addresses of the hello_server slots the Runtime
// API reports enabled (not in maintenance).
func enabledServers(t *testing.T, h *ProdHAProxy) []string {
	t.Helper()
	conn, err := net.DialTimeout("unix", filepath.Join(h.Dir, "haproxy.sock"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("show servers state hello_server\n")); err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, line := range strings.Split(string(out), "\n") {
		// be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...
		f := strings.Fields(line)
		if len(f) > 18 && f[1] == "hello_server" {
			admin, err := strconv.Atoi(f[6])
			if err != nil {
				t.Fatalf("show servers state: %q", line)
			}
			if admin&1 == 0 {
				names = append(names, f[4]+":"+f[18])
			}
		}
	}
	slices.Sort(names)
	return names
}
