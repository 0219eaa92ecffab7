package consulacl

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// declarationCases are declarations of routes, good and bad, on which
// declared-services.sh and build/routes (with the ACLs' node prefix rule)
// must agree.
var declarationCases = []struct{ name, in string }{
	{"one service", "hello_server protos.Ping\n"},
	{"two services", twoServices},
	{"comments, blanks, tabs and CRLF", "# comment\n\n  hello_server\tprotos.Ping   grpc.health.v1.Health # trailing\r\necho_server protos.Echo\r\n"},
	{"no final newline", "hello_server protos.Ping"},
	{"longest name", "a" + strings.Repeat("b_9", 20) + "zz protos.Ping\n"},
	{"gRPC names with underscores", "a _x.Y_z.__Q\n"},
	{"capital Consul service", "Hello protos.Ping\n"},
	{"dash", "hello-server protos.Ping\n"},
	{"dot", "a.b protos.Ping\n"},
	{"leading digit", "9a protos.Ping\n"},
	{"too long", strings.Repeat("a", 64) + " p.S\n"},
	{"no gRPC service", "# x\nhello_server\n"},
	{"no gRPC service, comment", "hello_server # protos.Ping\n"},
	{"gRPC path", "a /protos.Ping/SayHello\n"},
	{"gRPC empty part", "a protos..Ping\n"},
	{"gRPC trailing dot", "a protos.\n"},
	{"gRPC leading digit", "a 1protos.Ping\n"},
	{"gRPC injection", "a protos.Ping;return\n"},
	{"gRPC quote", "a protos.Ping\"\n"},
	{"gRPC backslash", "a protos\\Ping\n"},
	{"Consul service quote", "a\"b p.A\n"},
	{"Consul service twice", "a p.A\nb p.B\na p.C\n"},
	{"gRPC service twice", "a p.A\nb p.A\n"},
	{"gRPC service twice on a line", "a p.A p.A\n"},
	{"line too long", "a " + strings.Repeat("p.A ", 300) + "\n"},
	{"line of 1000 characters", "a p" + strings.Repeat("x", 997) + "\n"},
	{"line of 1001 characters", "a p" + strings.Repeat("x", 998) + "\n"},
	{"line of 1000 characters once its blanks are one", "  a \t  p" + strings.Repeat("x", 997) + "   # comment\n"},
	{"empty", "# nothing\n\n"},
	{"empty file", ""},
	{"first bad line wins", "hello_server p.A\nBad p.B\nworse- p.C\n"},
	{"prefix of another", "hello_server protos.Ping\nhello protos.Echo\n"},
	{"prefixed by another", "hello protos.Echo\nhello_server protos.Ping\n"},
	{"not a prefix", "hello protos.Echo\nhellos protos.Ping\n"},
	{"the load balancer's nodes", "load_balancer p.A\n"},
	{"under the load balancer's nodes", "load_balancer_x p.A\n"},
	{"over the load balancer's nodes", "load p.A\n"},
	{"the servers' nodes", "consul_server p.A\n"},
	{"a server's node", "consul_server_1 p.A\n"},
	{"over the servers' nodes", "consul p.A\n"},
	{"near the load balancer", "load_balance p.A\nconsul_servers p.B\n"},
}

// shells are the ways the tests run declared-services.sh: the host's sh and
// awk (secrets.sh's), and, where busybox is installed, busybox's sh and awk,
// the bootstrap container's (Alpine).
func shells(t *testing.T) map[string][]string {
	t.Helper()
	runs := map[string][]string{"host sh": {"sh"}}
	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Logf("busybox is not installed: declared-services.sh runs with the host's sh and awk only")
		return runs
	}
	dir := t.TempDir()
	for _, applet := range []string{"sh", "awk"} {
		if err := os.Symlink(busybox, filepath.Join(dir, applet)); err != nil {
			t.Fatal(err)
		}
	}
	runs["busybox"] = []string{"env", "PATH=" + dir, filepath.Join(dir, "sh")}
	return runs
}

// declared-services.sh accepts what build/routes accepts (and the ACLs'
// node prefix rule), with the same services in the same order, and refuses
// the rest with exit 1 and one line, the first of build/routes' messages.
func TestDeclaredServicesAgreesWithRoutes(t *testing.T) {
	t.Parallel()
	script := filepath.Join(testenv.RepoRoot(t), "build", "config", "consul", "declared-services.sh")
	for shell, argv := range shells(t) {
		for _, tc := range declarationCases {
			t.Run(shell+"/"+tc.name, func(t *testing.T) {
				path := filepath.Join(t.TempDir(), "services.conf")
				if err := os.WriteFile(path, []byte(tc.in), 0o644); err != nil {
					t.Fatal(err)
				}
				want, wantErr := declaredServices(tc.in, path)
				cmd := exec.Command(argv[0], append(argv[1:], script, path)...)
				var stderr strings.Builder
				cmd.Stderr = &stderr
				raw, err := cmd.Output()
				out := string(raw)
				status := cmd.ProcessState.ExitCode()
				if err != nil && status < 0 {
					t.Fatal(err)
				}
				if stderr.Len() > 0 {
					t.Errorf("stderr %q, want none", stderr.String())
				}
				if wantErr != nil {
					if status != 1 || out != wantErr.Error()+"\n" {
						t.Errorf("declared-services.sh %q: exit %d, output %q; want exit 1 and %q", tc.in, status, out, wantErr.Error()+"\n")
					}
					return
				}
				got := strings.Fields(out)
				if status != 0 || !slices.Equal(got, want) {
					t.Errorf("declared-services.sh %q: exit %d, output %q; want exit 0 and %v", tc.in, status, out, want)
				}
			})
		}
	}
}

// The repository's declaration suits the ACLs, and the templates are what
// the bootstrap's sed and the tests' rendering both expect.
func TestRepositoryDeclarationAndTemplates(t *testing.T) {
	t.Parallel()
	raw := readRepoFile(t, testenv.DeclarationFile)
	if _, err := declaredServices(raw, testenv.DeclarationFile); err != nil {
		t.Errorf("%s: %v", testenv.DeclarationFile, err)
	}
	placeholder := regexp.MustCompile(`@[A-Z_]+@`)
	for _, name := range serviceTemplates {
		raw := readRepoFile(t, "build/config/consul/acl/"+name)
		for _, p := range placeholder.FindAllString(raw, -1) {
			if p != "@SERVICE@" && p != "@NODE_PREFIX@" {
				t.Errorf("acl/%s: placeholder %s, want only @SERVICE@ and @NODE_PREFIX@ (the ones acl-bootstrap.sh replaces)", name, p)
			}
		}
		if !strings.Contains(raw, `"@NODE_PREFIX@"`) {
			t.Errorf("acl/%s does not grant on \"@NODE_PREFIX@\"", name)
		}
	}
	policies := expectedPolicies(t, mustDeclare(t, twoServices))
	for name, rules := range policies {
		if !strings.HasSuffix(rules, "\n") || strings.HasSuffix(rules, "\n\n") {
			t.Errorf("policy %s does not end with exactly one newline (the bootstrap's renders must join as the tests expect)", name)
		}
		if p := placeholder.FindString(rules); p != "" {
			t.Errorf("policy %s still holds %s after rendering", name, p)
		}
	}
	// hello_server's policies are the ones of before the declaration.
	for name, want := range map[string][]string{
		"hello-server-agent":     {`node_prefix "hello-server-" {` + "\n  policy = \"write\"\n}", `service_prefix "" {` + "\n  policy = \"read\"\n}"},
		"hello-server-registrar": {`agent_prefix "hello-server-" {` + "\n  policy = \"read\"\n}"},
		"consul-template": {`service "hello_server" {` + "\n  policy = \"read\"\n}", `node_prefix "hello-server-" {` + "\n  policy = \"read\"\n}",
			`service "echo_server" {` + "\n  policy = \"read\"\n}", `node_prefix "echo-server-" {` + "\n  policy = \"read\"\n}"},
	} {
		for _, rule := range want {
			if !strings.Contains(policies[name], rule) {
				t.Errorf("policy %s lacks %q:\n%s", name, rule, policies[name])
			}
		}
	}
}

// run-agent.sh names a Consul agent's node <prefix>-<hostname> for a prefix
// the ACL policies grant: load-balancer, or a declared service's name with
// "-" for "_". The test runs a copy whose declaration is the test's, with
// a bad CONSUL_BIND_NETWORK so that an accepted prefix stops at the next
// check instead of starting Consul.
func TestRunAgentTakesTheDeclaredNodePrefixes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	declaration := filepath.Join(dir, "services.conf")
	if err := os.WriteFile(declaration, []byte(twoServices), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"run-agent.sh", "declared-services.sh", "bind-network.sh"} {
		raw := readRepoFile(t, "build/config/consul/"+name)
		if name == "run-agent.sh" {
			if !strings.Contains(raw, "declaration=/etc/grpc-lb/services.conf\n") {
				t.Fatal("run-agent.sh does not read /etc/grpc-lb/services.conf")
			}
			raw = strings.ReplaceAll(raw, "declaration=/etc/grpc-lb/services.conf\n", "declaration="+shellQuote(declaration)+"\n")
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(raw), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bindRefused := `CONSUL_BIND_NETWORK="x" is invalid`
	for _, tc := range []struct{ prefix, want string }{
		{"hello-server", bindRefused},
		{"echo-server", bindRefused},
		{"load-balancer", bindRefused},
		{"echo_server", `run-agent: CONSUL_NODE_PREFIX="echo_server" is invalid: accepted is load-balancer, hello-server, echo-server (the load balancer's, or a Consul service of ` + declaration + ` with "-" for "_": the ACL policies grant nodes by these prefixes)`},
		{"third-server", `CONSUL_NODE_PREFIX="third-server" is invalid: accepted is load-balancer, hello-server, echo-server`},
		{"", `CONSUL_NODE_PREFIX="" is invalid`},
	} {
		status, out := run(t, []string{"CONSUL_NODE_PREFIX=" + tc.prefix, "CONSUL_BIND_NETWORK=x"}, filepath.Join(dir, "run-agent.sh"))
		if status != 2 || !strings.Contains(out, tc.want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("run-agent.sh with CONSUL_NODE_PREFIX=%q: exit %d, %q; want exit 2 and one line with %q", tc.prefix, status, out, tc.want)
		}
	}
	// A bad declaration stops the agent of every replica, with its line.
	if err := os.WriteFile(declaration, []byte("hello_server protos.Ping\nhello protos.Echo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	status, out := run(t, []string{"CONSUL_NODE_PREFIX=hello-server", "CONSUL_BIND_NETWORK=x"}, filepath.Join(dir, "run-agent.sh"))
	if want := "run-agent: " + declaration + `:2: Consul service "hello"`; status != 2 || !strings.HasPrefix(out, want) {
		t.Errorf("run-agent.sh with a bad declaration: exit %d, %q; want exit 2 and %q...", status, out, want)
	}
}
