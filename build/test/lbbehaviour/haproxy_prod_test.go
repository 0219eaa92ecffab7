package lbbehaviour

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"

	"github.com/grpc-lb/nginx-consul/build/supervisorconf"
	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// validationBlock is the part of a load-balancer template that decides what
// is routed, the declaration's routes and each declared service's
// instances: from the "scratch is fresh" comment to the line that sets
// $services.
func validationBlock(t *testing.T, path string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const first, last = "{{- /* scratch is fresh", "{{- $services := scratch.MapValues \"services\" }}\n"
	s := string(raw)
	i, j := strings.Index(s, first), strings.Index(s, last)
	if i < 0 || j < i {
		t.Fatalf("%s: no validation block from %q to %q", path, first, last)
	}
	return s[i : j+len(last)]
}

// consul-template v0.41.1 parses each template file on its own (no include
// across files), so every engine's template (each folder of
// build/config/lb/ with a supervisord.conf) carries the validation; it must
// be the default engine's, byte for byte.
func TestTemplatesShareValidation(t *testing.T) {
	engines, err := supervisorconf.RepoEngines(testenv.RepoRoot(t))
	if err != nil || len(engines) == 0 {
		t.Fatalf("the engines of %s: %v, %v", supervisorconf.RepoEnginesDir, engines, err)
	}
	want := validationBlock(t, testenv.EngineFile(t, engines[0], "load-balancer.tpl"))
	for _, e := range engines[1:] {
		if got := validationBlock(t, testenv.EngineFile(t, e, "load-balancer.tpl")); got != want {
			t.Errorf("the validation blocks of build/config/lb/%s/load-balancer.tpl and build/config/lb/%s/load-balancer.tpl differ:\n--- %s\n%s\n--- %s\n%s", engines[0], e, engines[0], want, e, got)
		}
	}
}

// The Runtime API answers on haproxy.cfg's stats socket (level admin): it
// lists the rendered servers, for operators and a later add/drain/remove
// of servers without a reload.
func TestProdHAProxyRuntimeAPI(t *testing.T) {
	h := testenv.StartProdHAProxy(t, []string{"127.0.0.1:7001", "127.0.0.2:7002"})
	rows, out := serversState(t, h)
	// Fields: be_id be_name srv_id srv_name srv_addr srv_op_state ... srv_port.
	var got []string
	for _, f := range rows {
		if f[6] == "0" {
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
	c := testenv.StartConsul(t)
	h := testenv.StartProdHAProxyLB(t, c, testenv.ProdHAProxyTemplate(t))
	var renders []string
	var want []string
	for i := 1; i <= 5; i++ {
		addr := fmt.Sprintf("10.20.30.%d:7001", 40+i)
		c.RegisterHelloServer(t, testenv.Instance{Node: fmt.Sprintf("node-%d", i), ID: fmt.Sprintf("hello-%d", i), Address: strings.TrimSuffix(addr, ":7001"), Port: 7001})
		want = append(want, addr)
		renders = append(renders, h.Render(t))
	}
	for i, render := range renders {
		if err := os.WriteFile(h.Upstream, []byte(render), 0o644); err != nil {
			t.Fatal(err)
		}
		stdout, stderr := h.ReloadWithoutRuntimeAPI(t)
		want := fmt.Sprintf("reload-haproxy: haproxy routes to 0 echo_server replica(s): ; %d hello_server replica(s): %s (reloaded)\n", i+1, strings.Join(sortedCopy(want[:i+1]), " "))
		if stdout != want || !strings.Contains(stderr, "reload-haproxy: changing the servers through the Runtime API failed (above); reloading haproxy instead") {
			t.Fatalf("reload %d: expected stdout %q and the Runtime API's failure on stderr, received %q, %q", i+1, want, stdout, stderr)
		}
	}
	body := strings.Join(want, " ") + " \n"
	testenv.Eventually(t, 10*time.Second, "HAProxy's /upstream lists all five instances after the last reload", func() error {
		got, err := h.LB().Upstream()
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
	c := testenv.StartConsul(t)
	c.RegisterHelloServer(t, testenv.Instance{Node: "node-1", ID: "hello-1", Address: "10.20.30.41", Port: 7001})
	c.RegisterHelloServer(t, testenv.Instance{Node: "node-2", ID: "hello-2", Address: "10.20.30.42", Port: 7001})
	h := testenv.StartProdHAProxyLB(t, c, testenv.ProdHAProxyTemplate(t))
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
			c.RegisterHelloServer(t, testenv.Instance{Node: "node-3", ID: "hello-3", Address: "10.20.30.43", Port: 7001})
		}, []string{"10.20.30.41:7001", "10.20.30.42:7001", "10.20.30.43:7001"}},
		{"the first one leaves", func() {
			if _, err := c.Client.Catalog().Deregister(&api.CatalogDeregistration{Node: "node-1"}, nil); err != nil {
				t.Fatal(err)
			}
		}, []string{"10.20.30.42:7001", "10.20.30.43:7001"}},
		{"the first one comes back", func() {
			c.RegisterHelloServer(t, testenv.Instance{Node: "node-1", ID: "hello-1", Address: "10.20.30.41", Port: 7001})
		}, []string{"10.20.30.41:7001", "10.20.30.42:7001", "10.20.30.43:7001"}},
	} {
		step.change()
		h.Render(t)
		stdout, stderr := h.Reload(t)
		want := fmt.Sprintf("reload-haproxy: haproxy routes to 0 echo_server replica(s): ; %d hello_server replica(s): %s (Runtime API, no reload)\n", len(step.want), strings.Join(step.want, " "))
		if stdout != want || stderr != "" {
			t.Fatalf("%s: haproxy-reload: expected stdout %q and no stderr, received %q, %q", step.what, want, stdout, stderr)
		}
		if now := workers(); !slices.Equal(now, before) {
			t.Fatalf("%s: haproxy's workers changed from %v to %v: the change reloaded haproxy", step.what, before, now)
		}
		if got := enabledServers(t, h); !slices.Equal(got, step.want) {
			t.Errorf("%s: enabled servers in the Runtime API: expected %v, received %v", step.what, step.want, got)
		}
		if body, err := h.LB().Upstream(); err != nil || body != strings.Join(step.want, " ")+" \n" {
			t.Errorf("%s: GET /upstream: expected %q, received %q (%v)", step.what, strings.Join(step.want, " ")+" \n", body, err)
		}
	}
}

// serversState is the Runtime API's "show servers state hello_server":
// the fields of each hello_server slot's row, and the whole answer.
func serversState(t *testing.T, h *testenv.ProdHAProxy) (rows [][]string, out string) {
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
	raw, err := io.ReadAll(conn)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(line); len(f) > 18 && f[1] == "hello_server" {
			rows = append(rows, f)
		}
	}
	return rows, string(raw)
}

// enabledServers lists the addresses of the hello_server slots the Runtime
// API reports enabled (not in maintenance).
func enabledServers(t *testing.T, h *testenv.ProdHAProxy) []string {
	t.Helper()
	rows, _ := serversState(t, h)
	var names []string
	// be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state ...
	for _, f := range rows {
		admin, err := strconv.Atoi(f[6])
		if err != nil {
			t.Fatalf("show servers state: %q", f)
		}
		if admin&1 == 0 {
			names = append(names, f[4]+":"+f[18])
		}
	}
	slices.Sort(names)
	return names
}
