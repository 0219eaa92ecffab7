package consulacl

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/consul/api"

	"github.com/grpc-lb/nginx-consul/build/routes"
	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// aclState is what the bootstrap leaves in Consul: every policy's rules by
// name, and every token by description.
type aclState struct {
	policies map[string]string
	tokens   map[string]*api.ACLToken
}

func readACLState(t *testing.T, c *testenv.Consul) aclState {
	t.Helper()
	acl := c.Client.ACL()
	list, _, err := acl.PolicyList(nil)
	if err != nil {
		t.Fatal(err)
	}
	s := aclState{policies: map[string]string{}, tokens: map[string]*api.ACLToken{}}
	for _, p := range list {
		policy, _, err := acl.PolicyRead(p.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.policies[p.Name] = policy.Rules
	}
	tokens, _, err := acl.TokenList(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, entry := range tokens {
		token, _, err := acl.TokenRead(entry.AccessorID, nil)
		if err != nil {
			t.Fatal(err)
		}
		s.tokens[token.Description] = token
	}
	return s
}

// requireDeclared fails the test unless Consul holds exactly the policies
// and tokens the bootstrap makes for the declared routes (besides Consul's
// own global-management policy and its initial management and anonymous
// tokens), each token with the accessor and secret of its files.
func requireDeclared(t *testing.T, c *testenv.Consul, d *deployment, rs []routes.Route) aclState {
	t.Helper()
	s := readACLState(t, c)
	want := expectedPolicies(t, rs)
	for name, rules := range want {
		if got, ok := s.policies[name]; !ok {
			t.Errorf("Consul has no policy %s", name)
		} else if got != rules {
			t.Errorf("policy %s: the bootstrap (sed) installed\n%s\nthe Go rendering of the templates is\n%s", name, got, rules)
		}
	}
	for name := range s.policies {
		if _, ok := want[name]; !ok && name != "global-management" {
			t.Errorf("Consul has a policy %s the declaration does not ask for", name)
		}
	}
	specs := expectedTokens(rs)
	var names []string
	for _, spec := range specs {
		names = append(names, spec.name)
		token := s.tokens["grpc-lb: "+spec.name]
		if token == nil {
			t.Errorf("Consul has no token %q", "grpc-lb: "+spec.name)
			continue
		}
		if token.AccessorID != d.tokenFile(t, spec.name, "accessor") || token.SecretID != d.tokenFile(t, spec.name, "secret") {
			t.Errorf("token %s: accessor/secret are not those of .secrets/tokens/%s.*", spec.name, spec.name)
		}
		var policies, services, nodes []string
		for _, p := range token.Policies {
			policies = append(policies, p.Name)
		}
		for _, si := range token.ServiceIdentities {
			services = append(services, si.ServiceName)
		}
		for _, ni := range token.NodeIdentities {
			nodes = append(nodes, ni.NodeName+":"+ni.Datacenter)
		}
		if want := nonEmpty(spec.policy); !slices.Equal(policies, want) {
			t.Errorf("token %s: policies %v, want %v", spec.name, policies, want)
		}
		if want := nonEmpty(spec.serviceIdentity); !slices.Equal(services, want) {
			t.Errorf("token %s: service identities %v, want %v", spec.name, services, want)
		}
		if want := nonEmpty(spec.nodeIdentity); spec.nodeIdentity != "" {
			want[0] += ":dc1"
			if !slices.Equal(nodes, want) {
				t.Errorf("token %s: node identities %v, want %v", spec.name, nodes, want)
			}
		} else if len(nodes) != 0 {
			t.Errorf("token %s: node identities %v, want none", spec.name, nodes)
		}
	}
	slices.Sort(names)
	files := d.tokenNames(t)
	if !slices.Equal(files, names) {
		t.Errorf(".secrets/tokens has the tokens %v, the bootstrap makes %v", files, names)
	}
	return s
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// created is the "created ..." lines of the bootstrap's output.
func created(out string) []string {
	var lines []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "acl-bootstrap: created ") {
			what, _, _ := strings.Cut(strings.TrimPrefix(line, "acl-bootstrap: created "), " (accessor")
			lines = append(lines, what)
		}
	}
	slices.Sort(lines)
	return lines
}

// The bootstrap job makes each declared service's policies and tokens, from
// the repository's declaration first, again without change, then for a
// service declared since, leaving the others' tokens as they were.
func TestBootstrapFollowsTheDeclaration(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, oneService)
	d.requireSecrets(t)
	c := testenv.StartConsul(t, testenv.EnableACLs(d.tokenFile(t, "management", "secret")))

	out := d.requireBootstrap(t, c.HTTPAddr)
	repo := mustDeclare(t, oneService)
	wantCreated := []string{"policy consul-template", "policy load-balancer-agent", "policy load-balancer-registrar", "policy ui-read",
		"token consul-server-1-agent", "token consul-server-2-agent", "token consul-server-3-agent",
		"token consul-template", "token load-balancer-agent", "token load-balancer-registrar", "token ui"}
	for _, r := range repo {
		wantCreated = append(wantCreated, "policy "+dash(r)+"-agent", "policy "+dash(r)+"-registrar",
			"token "+dash(r)+"-agent", "token "+dash(r)+"-registrar")
	}
	slices.Sort(wantCreated)
	if got := created(out); !slices.Equal(got, wantCreated) {
		t.Errorf("first run created %v, want %v; output:\n%s", got, wantCreated, out)
	}
	first := requireDeclared(t, c, d, repo)
	// For hello_server, the names of before the declaration.
	for _, name := range []string{"hello-server-agent", "hello-server-registrar"} {
		if _, ok := first.policies[name]; !ok {
			t.Errorf("no policy %s for hello_server", name)
		}
	}

	t.Run("a second run changes nothing", func(t *testing.T) {
		out := d.requireBootstrap(t, c.HTTPAddr)
		if got := created(out); len(got) != 0 {
			t.Errorf("second run created %v, want nothing; output:\n%s", got, out)
		}
		again := requireDeclared(t, c, d, repo)
		if !maps.Equal(again.policies, first.policies) {
			t.Errorf("the policies changed on a second run")
		}
	})

	t.Run("a service declared since", func(t *testing.T) {
		d.declare(t, twoServices)
		d.requireSecrets(t)
		out := d.requireBootstrap(t, c.HTTPAddr)
		want := []string{"policy echo-server-agent", "policy echo-server-registrar", "token echo-server-agent", "token echo-server-registrar"}
		if got := created(out); !slices.Equal(got, want) {
			t.Errorf("run after declaring echo_server created %v, want %v; output:\n%s", got, want, out)
		}
		after := requireDeclared(t, c, d, mustDeclare(t, twoServices))
		for _, name := range []string{"hello-server-agent", "hello-server-registrar"} {
			if after.tokens["grpc-lb: "+name].AccessorID != first.tokens["grpc-lb: "+name].AccessorID {
				t.Errorf("token %s was replaced", name)
			}
		}
		if !strings.Contains(out, "declared Consul services: hello_server, echo_server") {
			t.Errorf("the output does not name the declared services; output:\n%s", out)
		}
	})

	t.Run("a service no longer declared keeps its tokens", func(t *testing.T) {
		d.declare(t, "hello_server protos.Ping\n")
		before := readACLState(t, c)
		d.requireSecrets(t)
		d.requireBootstrap(t, c.HTTPAddr)
		after := readACLState(t, c)
		for _, name := range []string{"grpc-lb: echo-server-agent", "grpc-lb: echo-server-registrar"} {
			if after.tokens[name] == nil || after.tokens[name].AccessorID != before.tokens[name].AccessorID {
				t.Errorf("token %q is gone or replaced", name)
			}
		}
		// consul-template no longer reads echo_server.
		if rules := after.policies["consul-template"]; strings.Contains(rules, `"echo_server"`) || strings.Contains(rules, `"echo-server-"`) {
			t.Errorf("the consul-template policy still names echo_server:\n%s", rules)
		}
	})
}

// A bad declaration, or one whose tokens secrets.sh has not made yet, stops
// the bootstrap with one line before it changes anything.
func TestBootstrapRefusesBeforeChangingAnything(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, twoServices)
	d.requireSecrets(t)
	c := testenv.StartConsul(t, testenv.EnableACLs(d.tokenFile(t, "management", "secret")))
	before := readACLState(t, c)
	declaration := "/etc/grpc-lb/services.conf"

	for _, tc := range []struct{ name, declaration, want string }{
		{"bad Consul service", "hello_server protos.Ping\n# x\nEcho protos.Echo\n", declaration + `:3: Consul service "Echo"; accepted: a name matching ^[a-z][a-z0-9_]{0,62}$`},
		{"bad gRPC service", "hello_server protos.Ping /protos.Echo/Echo\n", declaration + `:1: gRPC service "/protos.Echo/Echo"; accepted:`},
		{"gRPC service twice", "hello_server protos.Ping\necho_server protos.Ping\n", declaration + `:2: gRPC service "protos.Ping" is declared on line 1 already`},
		{"overlapping node prefixes", "hello_server protos.Ping\nhello protos.Echo\n", declaration + `:2: Consul service "hello", whose replicas would be the Consul nodes "hello-*", overlapping "hello-server-*" of "hello_server" on line 1`},
		{"the load balancer's nodes", "hello_server protos.Ping\nload_balancer protos.Echo\n", declaration + `:2: Consul service "load_balancer", whose replicas would be the Consul nodes "load-balancer-*"`},
		{"nothing declared", "# nothing\n", declaration + `:1: no Consul service is declared`},
		{"tokens not made yet", twoServices + "third_server protos.Third\n", `acl-bootstrap: .secrets/tokens/third-server-agent.accessor is missing or empty: make secrets (make up runs it) makes the tokens of every declared service; nothing was changed`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d.declare(t, tc.declaration)
			status, out := d.bootstrap(t, c.HTTPAddr)
			if status != 1 || !strings.Contains(out, tc.want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
				t.Errorf("acl-bootstrap.sh with %q: exit %d, output %q; want exit 1 and one line with %q", tc.declaration, status, out, tc.want)
			}
			if !strings.HasPrefix(out, "acl-bootstrap: ") || !strings.Contains(out, "nothing was changed") {
				t.Errorf("acl-bootstrap.sh with %q: output %q; want it to start with \"acl-bootstrap: \" and say nothing was changed", tc.declaration, out)
			}
			after := readACLState(t, c)
			if !maps.Equal(after.policies, before.policies) || len(after.tokens) != len(before.tokens) {
				t.Errorf("acl-bootstrap.sh with %q changed Consul's ACLs: policies %v, %d tokens; before: %v, %d tokens",
					tc.declaration, slices.Sorted(maps.Keys(after.policies)), len(after.tokens), slices.Sorted(maps.Keys(before.policies)), len(before.tokens))
			}
		})
	}
}
