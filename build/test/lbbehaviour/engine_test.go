package lbbehaviour

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

const skippedPrefix = "# skipped hello_server instance (not an IPv4 address with a port from 1 to 65535): "

// sanitised is what load-balancer.tpl writes for a skipped instance: every
// character outside [A-Za-z0-9_.:=/ -] replaced by "?", cut to 200.
func sanitised(inst testenv.Instance) string {
	s := regexp.MustCompile(`[^A-Za-z0-9_.:=/ -]`).ReplaceAllString(
		fmt.Sprintf("id=%s node=%s address=%s port=%d", inst.ID, inst.Node, inst.Address, inst.Port), "?")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// engineChecks are the assertions of the engine tests that differ by
// engine, keyed by testenv.Engine.Name.
var engineChecks = map[string]struct {
	// extraValid are valid instances only this engine's test registers.
	extraValid []testenv.Instance
	// sortsServers: the engine's servers are sorted by address, not kept
	// in Consul's order.
	sortsServers bool
	// routes asserts that rendered routes exactly routed, in the engine's
	// own syntax (servers and the variable /upstream serves).
	routes func(t *testing.T, rendered string, routed []string)
	// fixedLine matches the template's own lines holding no catalog data.
	fixedLine *regexp.Regexp
	// strictStderr: the reloader writes nothing on stderr but its skipped
	// lines (nginx -s reload's own notices may come through reload-nginx.sh).
	strictStderr bool
	// reloaded is the reloader's stdout after routing routed, with %d
	// for their number and %s for them.
	reloaded string
	// reloadedRoutes is its stdout after a change of replicas with
	// several Consul services, %s for the parts ("N <service>
	// replica(s): A B", joined by "; ").
	reloadedRoutes string
	// redeclared is its stdout after a new declaration of routes, %s for
	// the parts.
	redeclared string
	// badRender is a render the engine's config check (checker) rejects.
	badRender, checker string
}{
	"nginx": {
		routes: checkNginxRoutes,
		// The reflection upstream's one server, lb-reflection on loopback.
		fixedLine:      regexp.MustCompile(`^    server 127\.0\.0\.1:7780;$`),
		reloaded:       "reload-nginx: reloaded nginx with %d hello_server replica(s): %s\n",
		reloadedRoutes: "reload-nginx: reloaded nginx with %s\n",
		redeclared:     "reload-nginx: reloaded nginx with %s\n",
		badRender:      "upstream hello_server {\n    server 10.20.30.41:7001 no-such-parameter;\n}\n",
		checker:        "nginx -t",
	},
	"haproxy": {
		// The same address and port twice: one server, not a name clash.
		extraValid:     []testenv.Instance{{Node: "node-b2", ID: "hello-b2", Address: "192.168.50.2", Port: 65535}},
		sortsServers:   true,
		routes:         checkHAProxyRoutes,
		fixedLine:      regexp.MustCompile(`^    server replica-[0-9]+ 127\.0\.0\.1:1 disabled$`),
		strictStderr:   true,
		reloaded:       "reload-haproxy: haproxy routes to %d hello_server replica(s): %s (Runtime API, no reload)\n",
		reloadedRoutes: "reload-haproxy: haproxy routes to %s (Runtime API, no reload)\n",
		// The Runtime API changes servers only: a new backend or route
		// takes a reload.
		redeclared: "reload-haproxy: the render changes more than servers (the declaration of routes, or the template); reloading haproxy\n" +
			"reload-haproxy: haproxy routes to %s (reloaded)\n",
		badRender: "backend hello_server from replicas\n    server replica-1 10.20.30.41:7001 no-such-keyword\n",
		checker:   "haproxy -c",
	},
}

// The real consul-template renders each engine's unchanged
// load-balancer.tpl from a real Consul whose catalog holds valid and bad
// hello_server instances: only the valid ones are routed, the bad ones
// appear only as sanitised "# skipped" lines that the reloader logs, the
// engine accepts the file, and routing still follows the catalog.
func TestTemplateRendersOnlyValidInstances(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			ec := engineChecks[e.Name]
			c := testenv.StartConsul(t)
			valid := append([]testenv.Instance{
				{Node: "node-a", ID: "hello-a", Address: "10.20.30.41", Port: 7001, Check: "passing"},
				{Node: "node-b", ID: "hello-b", Address: "192.168.50.2", Port: 65535}, // no check: passing
			}, ec.extraValid...)
			bad := []testenv.Instance{
				{Node: "bad-inject", ID: "inject", Address: "1.2.3.4;include /etc/passwd", Port: 7001, Check: "passing"},
				{Node: "bad-inject-line", ID: "inject-line", Address: "1.2.3.4\n    server x 6.6.6.6:80", Port: 7001, Check: "passing"},
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
				{Node: "bad-quote", ID: "quote", Address: `10.20.30.45")` + "\n" + `global`, Port: 7001},
				{Node: "bad-unicode", ID: "unicode", Address: "10.20.30.4\u0663", Port: 7001},
				{Node: "bad node;{}#", ID: "node-chars", Address: "not-an-ip-either", Port: 7001},
				{Node: "bad-long", ID: "long", Address: "10.20.30.46" + strings.Repeat("x", 300), Port: 7001},
			}
			for _, inst := range valid {
				c.RegisterHelloServer(t, inst)
			}
			var registered []testenv.Instance
			for _, inst := range bad {
				if err := c.RegisterHelloServerErr(inst); err != nil {
					t.Logf("Consul refuses %+v, left out: %v", inst, err)
					continue
				}
				registered = append(registered, inst)
			}
			bad = registered
			// Not passing: consul-template's service leaves it out altogether.
			critical := testenv.Instance{Node: "node-c", ID: "hello-c", Address: "10.20.30.47", Port: 7001, Check: "critical"}
			c.RegisterHelloServer(t, critical)

			lb := e.StartLB(t, c, e.ProdTemplateDeclaring(t, testenv.HelloServerDeclaration(t)))
			raw, err := os.ReadFile(lb.Servers)
			if err != nil {
				t.Fatal(err)
			}
			rendered := string(raw)
			t.Logf("rendered from the catalog:\n%s", rendered)
			wantRouted := []string{"10.20.30.41:7001", "192.168.50.2:65535"}
			checkRendered(t, e, rendered, wantRouted, bad)
			for _, s := range []string{critical.Address, critical.ID} {
				if strings.Contains(rendered, s) {
					t.Errorf("the critical instance %+v is in the rendered file (%q):\n%s", critical, s, rendered)
				}
			}
			if body, err := lb.Upstream(); err != nil || body != strings.Join(wantRouted, " ")+" \n" {
				t.Errorf("GET /upstream: expected %q, received %q (%v)", strings.Join(wantRouted, " ")+" \n", body, err)
			}

			stdout, stderr := lb.Reload(t)
			checkReloadLog(t, e, stdout, stderr, wantRouted, bad)

			// Routing still follows the catalog: one more valid instance
			// is routed after the next render and reload.
			c.RegisterHelloServer(t, testenv.Instance{Node: "node-d", ID: "hello-d", Address: "172.16.0.9", Port: 7004, Check: "passing"})
			wantRouted = append(wantRouted, "172.16.0.9:7004")
			if ec.sortsServers {
				slices.Sort(wantRouted)
			}
			rendered = lb.Render(t)
			checkRendered(t, e, rendered, wantRouted, bad)
			if err := lb.CheckConfig(); err != nil {
				t.Fatalf("%s rejects the second render: %v\n%s", e.Name, err, rendered)
			}
			stdout, stderr = lb.Reload(t)
			checkReloadLog(t, e, stdout, stderr, wantRouted, bad)
			want := strings.Join(wantRouted, " ") + " \n"
			testenv.Eventually(t, 10*time.Second, e.Name+"'s /upstream lists the new instance after the reload", func() error {
				body, err := lb.Upstream()
				if err != nil {
					return err
				}
				if body != want {
					return fmt.Errorf("expected %q, received %q", want, body)
				}
				return nil
			})
		})
	}
}

// checkRendered asserts that rendered routes exactly routed and holds each
// of bad only as its sanitised "# skipped" line.
func checkRendered(t *testing.T, e testenv.Engine, rendered string, routed []string, bad []testenv.Instance) {
	t.Helper()
	ec := engineChecks[e.Name]
	ec.routes(t, rendered, routed)
	var skipped, want []string
	for _, line := range strings.Split(rendered, "\n") {
		if v, ok := strings.CutPrefix(line, skippedPrefix); ok {
			skipped = append(skipped, v)
			if !regexp.MustCompile(`^[A-Za-z0-9_.:=/ ?-]{0,200}$`).MatchString(v) {
				t.Errorf("skipped line carries raw catalog text (a character outside [A-Za-z0-9_.:=/ -] or more than 200): %q", line)
			}
			continue
		}
		if strings.HasPrefix(strings.TrimSpace(line), "#") || ec.fixedLine != nil && ec.fixedLine.MatchString(line) {
			continue
		}
		for _, inst := range bad {
			for _, raw := range []string{inst.Address, inst.ID, inst.Node} {
				if strings.Contains(line, raw) {
					t.Errorf("the bad instance's %q reaches %s's config outside a skipped comment, in line %q", raw, e.Name, line)
				}
			}
		}
		for _, raw := range []string{"6.6.6.6", "/etc/passwd", "not-an-ip"} {
			if strings.Contains(line, raw) {
				t.Errorf("%q reaches %s's config outside a skipped comment, in line %q", raw, e.Name, line)
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

// checkNginxRoutes asserts nginx's upstream servers and the map entries its
// /upstream and its no-replica message use.
func checkNginxRoutes(t *testing.T, rendered string, routed []string) {
	t.Helper()
	var servers []string
	for _, m := range regexp.MustCompile(`(?m)^ *server (\S+) max_fails=0;$`).FindAllStringSubmatch(rendered, -1) {
		servers = append(servers, m[1])
	}
	if !slices.Equal(servers, routed) {
		t.Errorf("upstream servers: expected %q, received %q; rendered:\n%s", routed, servers, rendered)
	}
	list := strings.Join(routed, " ") + " "
	for _, want := range []string{
		`    "/upstream/hello_server" "` + list + `";`,
		`    "/upstream" "` + list + `";`,
	} {
		if !strings.Contains(rendered, "map $uri $upstream_servers {\n    default \"-\";\n") || !strings.Contains(rendered, "\n"+want+"\n") {
			t.Errorf("$upstream_servers: expected %q; rendered:\n%s", want, rendered)
		}
	}
	wantCount := fmt.Sprintf(`"~^hello_server " "%d hello_server replica(s) known; every try failed`, len(routed))
	if !strings.Contains(rendered, wantCount) {
		t.Errorf("$no_replica_message: expected %q; rendered:\n%s", wantCount, rendered)
	}
}

// checkHAProxyRoutes asserts HAProxy's server slots (replica-1..N, sorted
// by address, each address once, then free slots up to 64) and the
// variable its /upstream serves.
func checkHAProxyRoutes(t *testing.T, rendered string, routed []string) {
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
}

// checkReloadLog asserts that the reloader logged one line per skipped
// instance on stderr and made the engine route the routed ones only.
func checkReloadLog(t *testing.T, e testenv.Engine, stdout, stderr string, routed []string, bad []testenv.Instance) {
	t.Helper()
	ec := engineChecks[e.Name]
	logPrefix := e.Reloader + ": skipped hello_server instance (not an IPv4 address with a port from 1 to 65535): "
	var logged, want []string
	for _, line := range strings.Split(strings.TrimRight(stderr, "\n"), "\n") {
		if v, ok := strings.CutPrefix(line, logPrefix); ok {
			logged = append(logged, v)
		} else if ec.strictStderr && line != "" || strings.HasPrefix(line, e.Reloader+":") {
			t.Errorf("%s wrote an unexpected line on stderr: %q", e.Reloader, line)
		}
	}
	for _, inst := range bad {
		want = append(want, sanitised(inst))
	}
	slices.Sort(logged)
	slices.Sort(want)
	if !slices.Equal(logged, want) {
		t.Errorf("%s's skipped lines:\n  expected %q\n  received %q\nstderr:\n%s", e.Reloader, want, logged, stderr)
	}
	if wantOut := fmt.Sprintf(ec.reloaded, len(routed), strings.Join(routed, " ")); stdout != wantOut {
		t.Errorf("%s stdout:\n  expected %q\n  received %q", e.Reloader, wantOut, stdout)
	}
}

// A render the engine's config check rejects is replaced by the last good
// one; the engine keeps serving it, and the reloader still exits 0. The
// template no longer renders such a file from the catalog, so the test
// writes one: this is the safety net should a future template or config
// change produce one.
func TestReloadKeepsLastGoodConfig(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			ec := engineChecks[e.Name]
			c := testenv.StartConsul(t)
			c.RegisterHelloServer(t, testenv.Instance{Node: "node-a", ID: "hello-a", Address: "10.20.30.41", Port: 7001})
			lb := e.StartLB(t, c, e.ProdTemplate(t))
			lb.Render(t)
			lb.Reload(t)
			good, err := os.ReadFile(lb.Servers)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(lb.Servers, []byte(ec.badRender), 0o644); err != nil {
				t.Fatal(err)
			}
			stdout, stderr := lb.Reload(t)
			rejected := e.Reloader + ": " + ec.checker + " rejected the rendered " + lb.Servers + "; keeping the last good config: "
			if stdout != "" || !strings.HasPrefix(stderr, rejected) {
				t.Errorf("%s with a bad render: stdout %q, stderr %q", e.Reloader, stdout, stderr)
			}
			if now, _ := os.ReadFile(lb.Servers); string(now) != string(good) {
				t.Errorf("the bad render was not replaced by the last good one:\n%s", now)
			}
			if lb.Exited() {
				t.Errorf("%s exited", e.Name)
			}
			if body, err := lb.Upstream(); err != nil || body != "10.20.30.41:7001 \n" {
				t.Errorf("GET /upstream: expected %q, received %q (%v)", "10.20.30.41:7001 \n", body, err)
			}
		})
	}
}

// :8080/upstream answers with the servers the workers route to, which the
// end-to-end suite reads to prove that a reload took effect; with no
// replica, an empty line.
func TestProdServesItsUpstream(t *testing.T) {
	for _, e := range testenv.Engines() {
		for _, c := range []struct {
			name  string
			addrs []string
			want  string
		}{
			{"two replicas", []string{"127.0.0.1:7001", "127.0.0.2:7002"}, "127.0.0.1:7001 127.0.0.2:7002 \n"},
			{"no replica", nil, "\n"},
		} {
			t.Run(e.Name+"/"+c.name, func(t *testing.T) {
				lb := e.Start(t, c.addrs)
				if body, err := lb.Upstream(); err != nil || body != c.want {
					t.Fatalf("GET /upstream: expected 200 %q, received %q (%v)", c.want, body, err)
				}
			})
		}
	}
}
