package testenv

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

const skippedPrefix = "# skipped hello_server instance (not an IPv4 address with a port from 1 to 65535): "

// sanitised is what load-balancer.tpl writes for a skipped instance: every
// character outside [A-Za-z0-9_.:=/ -] replaced by "?", cut to 200.
func sanitised(inst Instance) string {
	s := regexp.MustCompile(`[^A-Za-z0-9_.:=/ -]`).ReplaceAllString(
		fmt.Sprintf("id=%s node=%s address=%s port=%d", inst.ID, inst.Node, inst.Address, inst.Port), "?")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// getUpstream is the body of nginx's :8080/upstream.
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

// The real consul-template renders the unchanged load-balancer.tpl from a
// real Consul whose catalog holds valid and bad hello_server instances: only
// the valid ones are routed, the bad ones appear only as sanitised "#
// skipped" lines that reload-nginx.sh logs, nginx accepts the file, and
// routing still follows the catalog.
func TestTemplateRendersOnlyValidInstances(t *testing.T) {
	c := StartConsul(t)
	valid := []Instance{
		{Node: "node-a", ID: "hello-a", Address: "10.20.30.41", Port: 7001, Check: "passing"},
		{Node: "node-b", ID: "hello-b", Address: "192.168.50.2", Port: 65535}, // no check: passing
	}
	bad := []Instance{
		{Node: "bad-inject", ID: "inject", Address: "1.2.3.4;include /etc/passwd", Port: 7001, Check: "passing"},
		{Node: "bad-name", ID: "name", Address: "not-an-ip", Port: 7001},
		{Node: "bad-ipv6", ID: "ipv6", Address: "::1", Port: 7001},
		{Node: "bad-ipv6-mapped", ID: "ipv6-mapped", Address: "::ffff:10.0.0.1", Port: 7001},
		{Node: "bad-loopback", ID: "loopback", Address: "127.0.0.1", Port: 7001},
		{Node: "bad-loopback-net", ID: "loopback-net", Address: "127.8.9.10", Port: 7001},
		{Node: "bad-zero", ID: "zero", Address: "0.0.0.0", Port: 7001},
		{Node: "bad-zero-net", ID: "zero-net", Address: "0.1.2.3", Port: 7001},
		{Node: "bad-octet", ID: "octet", Address: "256.1.2.3", Port: 7001},
		{Node: "bad-leading-zero", ID: "leading-zero", Address: "010.1.2.3", Port: 7001},
		{Node: "bad-three-octets", ID: "three-octets", Address: "10.1.2", Port: 7001},
		{Node: "bad-with-port", ID: "with-port", Address: "10.1.2.3:80", Port: 7001},
		{Node: "bad-port-0", ID: "port-0", Address: "10.20.30.42", Port: 0},
		{Node: "bad-port-high", ID: "port-high", Address: "10.20.30.43", Port: 70000},
		{Node: "bad-port-negative", ID: "port-negative", Address: "10.20.30.44", Port: -1},
		{Node: "bad-brace", ID: "brace;}{#", Address: "10.20.30.45}\n    server 6.6.6.6:80;\n#", Port: 7001},
		{Node: "bad-unicode", ID: "unicode", Address: "10.20.30.4\u0663", Port: 7001},
		{Node: "bad node;{}#", ID: "node-chars", Address: "not-an-ip-either", Port: 7001},
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
	// Not passing: consul-template's service leaves it out altogether.
	critical := Instance{Node: "node-c", ID: "hello-c", Address: "10.20.30.47", Port: 7001, Check: "critical"}
	c.RegisterHelloServer(t, critical)

	lb := StartProdLoadBalancer(t, c, ProdTemplate(t))
	raw, err := os.ReadFile(lb.Upstream)
	if err != nil {
		t.Fatal(err)
	}
	rendered := string(raw)
	t.Logf("rendered from the catalog:\n%s", rendered)
	wantRouted := []string{"10.20.30.41:7001", "192.168.50.2:65535"}
	checkRendered(t, rendered, wantRouted, bad)
	for _, s := range []string{critical.Address, critical.ID} {
		if strings.Contains(rendered, s) {
			t.Errorf("the critical instance %+v is in the rendered file (%q):\n%s", critical, s, rendered)
		}
	}
	if body, err := getUpstream(lb.HealthAddr); err != nil || body != strings.Join(wantRouted, " ")+" \n" {
		t.Errorf("GET /upstream: expected %q, received %q (%v)", strings.Join(wantRouted, " ")+" \n", body, err)
	}

	stdout, stderr := lb.Reload(t)
	checkReloadLog(t, stdout, stderr, wantRouted, bad)

	// Routing still follows the catalog: one more valid instance is routed
	// after the next render and reload.
	c.RegisterHelloServer(t, Instance{Node: "node-d", ID: "hello-d", Address: "172.16.0.9", Port: 7004, Check: "passing"})
	wantRouted = append(wantRouted, "172.16.0.9:7004")
	rendered = lb.Render(t)
	checkRendered(t, rendered, wantRouted, bad)
	if err := lb.CheckConfig(); err != nil {
		t.Fatalf("nginx rejects the second render: %v\n%s", err, rendered)
	}
	stdout, stderr = lb.Reload(t)
	checkReloadLog(t, stdout, stderr, wantRouted, bad)
	want := strings.Join(wantRouted, " ") + " \n"
	Eventually(t, 10*time.Second, "nginx's /upstream lists the new instance after the reload", func() error {
		body, err := getUpstream(lb.HealthAddr)
		if err != nil {
			return err
		}
		if body != want {
			return fmt.Errorf("expected %q, received %q", want, body)
		}
		return nil
	})
}

// checkRendered asserts that rendered routes exactly routed and holds each
// of bad only as its sanitised "# skipped" line.
func checkRendered(t *testing.T, rendered string, routed []string, bad []Instance) {
	t.Helper()
	var servers []string
	for _, m := range regexp.MustCompile(`(?m)^ *server (\S+) max_fails=0;$`).FindAllStringSubmatch(rendered, -1) {
		servers = append(servers, m[1])
	}
	if !slices.Equal(servers, routed) {
		t.Errorf("upstream servers: expected %q, received %q; rendered:\n%s", routed, servers, rendered)
	}
	wantMap := `    default "` + strings.Join(routed, " ") + ` ";`
	if !strings.Contains(rendered, "map \"\" $hello_server_upstream {\n"+wantMap+"\n}") {
		t.Errorf("$hello_server_upstream: expected %q; rendered:\n%s", wantMap, rendered)
	}
	wantCount := fmt.Sprintf(`default "%d hello_server replica(s) known; every try failed`, len(routed))
	if !strings.Contains(rendered, wantCount) {
		t.Errorf("$hello_server_unavailable: expected %q; rendered:\n%s", wantCount, rendered)
	}

	var skipped, want []string
	for _, line := range strings.Split(rendered, "\n") {
		if v, ok := strings.CutPrefix(line, skippedPrefix); ok {
			skipped = append(skipped, v)
			if !regexp.MustCompile(`^[A-Za-z0-9_.:=/ ?-]{0,200}$`).MatchString(v) {
				t.Errorf("skipped line carries raw catalog text (a character outside [A-Za-z0-9_.:=/ -] or more than 200): %q", line)
			}
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, inst := range bad {
			for _, raw := range []string{inst.Address, inst.ID, inst.Node} {
				if strings.Contains(line, raw) {
					t.Errorf("the bad instance's %q reaches nginx's config outside a skipped comment, in line %q", raw, line)
				}
			}
		}
		for _, raw := range []string{"6.6.6.6", "/etc/passwd", "not-an-ip"} {
			if strings.Contains(line, raw) {
				t.Errorf("%q reaches nginx's config outside a skipped comment, in line %q", raw, line)
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

// checkReloadLog asserts that reload-nginx.sh logged one line per skipped
// instance on stderr and reloaded nginx with the routed ones only.
func checkReloadLog(t *testing.T, stdout, stderr string, routed []string, bad []Instance) {
	t.Helper()
	const logPrefix = "reload-nginx: skipped hello_server instance (not an IPv4 address with a port from 1 to 65535): "
	var logged, want []string
	for _, line := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		if v, ok := strings.CutPrefix(line, logPrefix); ok {
			logged = append(logged, v)
		} else if strings.HasPrefix(line, "reload-nginx:") {
			// nginx -s reload's own notices may come too.
			t.Errorf("reload-nginx.sh wrote an unexpected line on stderr: %q", line)
		}
	}
	for _, inst := range bad {
		want = append(want, sanitised(inst))
	}
	slices.Sort(logged)
	slices.Sort(want)
	if !slices.Equal(logged, want) {
		t.Errorf("reload-nginx.sh's skipped lines:\n  expected %q\n  received %q\nstderr:\n%s", want, logged, stderr)
	}
	wantOut := fmt.Sprintf("reload-nginx: reloaded nginx with %d hello_server replica(s): %s\n", len(routed), strings.Join(routed, " "))
	if stdout != wantOut {
		t.Errorf("reload-nginx.sh stdout:\n  expected %q\n  received %q", wantOut, stdout)
	}
}

// A render nginx -t rejects is replaced by the last good one; nginx keeps
// serving it, and the script still exits 0. The template no longer renders
// such a file from the catalog, so the test writes one: this is the safety
// net should a future template or nginx.conf change produce one.
func TestReloadNginxKeepsLastGoodConfig(t *testing.T) {
	c := StartConsul(t)
	c.RegisterHelloServer(t, Instance{Node: "node-a", ID: "hello-a", Address: "10.20.30.41", Port: 7001})
	lb := StartProdLoadBalancer(t, c, ProdTemplate(t))
	lb.Render(t)
	lb.Reload(t)
	good, err := os.ReadFile(lb.Upstream)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lb.Upstream, []byte("upstream hello_server {\n    server 10.20.30.41:7001 no-such-parameter;\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stdout, stderr := lb.Reload(t)
	if stdout != "" || !strings.HasPrefix(stderr, "reload-nginx: nginx -t rejected the rendered "+lb.Upstream+"; keeping the last good config: ") {
		t.Errorf("reload-nginx.sh with a bad render: stdout %q, stderr %q", stdout, stderr)
	}
	if now, _ := os.ReadFile(lb.Upstream); string(now) != string(good) {
		t.Errorf("the bad render was not replaced by the last good one:\n%s", now)
	}
	if lb.Exited() {
		t.Errorf("nginx exited")
	}
	if body, err := getUpstream(lb.HealthAddr); err != nil || body != "10.20.30.41:7001 \n" {
		t.Errorf("GET /upstream: expected %q, received %q (%v)", "10.20.30.41:7001 \n", body, err)
	}
}
