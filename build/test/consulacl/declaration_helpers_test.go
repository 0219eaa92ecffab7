package consulacl

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grpc-lb/nginx-consul/build/routes"
)

// This file says in Go what the ACL set-up makes of a declaration of
// routes, so the tests can hold build/config/consul/declared-services.sh
// and acl-bootstrap.sh to it: which declarations they accept, which
// policies (rendered from acl/service-*.hcl) and which tokens they make.

// serviceTemplates are the files of acl/ that are templates, rendered once
// per declared Consul service; every other file there is a policy named
// after its file, installed as it is.
var serviceTemplates = []string{"service-agent.hcl", "service-registrar.hcl", "service-consul-template.hcl"}

// declaredServices is what declared-services.sh answers for the
// declaration raw, read from a file called name: the declared Consul
// services, or the first bad line's message. It is build/routes' Parse,
// whose rules (the grammar, and no node prefix that overlaps another
// declared service's or a reserved one) are the script's.
func declaredServices(raw, name string) ([]string, error) {
	rs, err := routes.Parse(strings.NewReader(raw), name)
	if err != nil {
		// Parse names every bad line; the script stops at the first.
		first, _, _ := strings.Cut(err.Error(), "\n")
		return nil, errors.New(first)
	}
	return routes.ConsulServices(rs), nil
}

// dash is a declared service's name with "-" for "_": its policies' and
// tokens' prefix (hello_server: hello-server).
func dash(r routes.Route) string { return strings.TrimSuffix(r.NodePrefix(), "-") }

// mustDeclare is the routes of declaration raw, which the test wants
// accepted.
func mustDeclare(t *testing.T, raw string) []routes.Route {
	t.Helper()
	rs, err := routes.Parse(strings.NewReader(raw), "services.conf")
	if err != nil {
		t.Fatalf("the test's declaration is refused: %v\n%s", err, raw)
	}
	return rs
}

// expectedPolicies are the policies acl-bootstrap.sh installs for the
// declared routes, by name: each template of acl/ rendered, @SERVICE@ the
// Consul service and @NODE_PREFIX@ its node prefix; consul-template's the
// renders for every service joined by an empty line; and the static files.
func expectedPolicies(t *testing.T, rs []routes.Route) map[string]string {
	t.Helper()
	render := func(template string, r routes.Route) string {
		raw, err := os.ReadFile(filepath.Join(policyDir(t), template))
		if err != nil {
			t.Fatal(err)
		}
		return strings.NewReplacer("@SERVICE@", r.ConsulService, "@NODE_PREFIX@", r.NodePrefix()).Replace(string(raw))
	}
	policies := map[string]string{}
	var consulTemplate []string
	for _, r := range rs {
		policies[dash(r)+"-agent"] = render("service-agent.hcl", r)
		policies[dash(r)+"-registrar"] = render("service-registrar.hcl", r)
		consulTemplate = append(consulTemplate, render("service-consul-template.hcl", r))
	}
	policies["consul-template"] = strings.Join(consulTemplate, "\n")
	files, err := filepath.Glob(filepath.Join(policyDir(t), "*.hcl"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no policy files in %s (%v)", policyDir(t), err)
	}
	for _, f := range files {
		if slices.Contains(serviceTemplates, filepath.Base(f)) {
			continue
		}
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		policies[strings.TrimSuffix(filepath.Base(f), ".hcl")] = string(raw)
	}
	return policies
}

// tokenSpec is a token as the bootstrap makes it, named by its files in
// .secrets/tokens.
type tokenSpec struct {
	name, policy, serviceIdentity, nodeIdentity string
}

// expectedTokens are the tokens acl-bootstrap.sh makes for the declared
// routes (and secrets.sh the files of), the management token left out.
func expectedTokens(rs []routes.Route) []tokenSpec {
	var specs []tokenSpec
	for n := 1; n <= 3; n++ {
		server := fmt.Sprintf("consul-server-%d", n)
		specs = append(specs, tokenSpec{name: server + "-agent", nodeIdentity: server})
	}
	for _, r := range rs {
		specs = append(specs,
			tokenSpec{name: dash(r) + "-agent", policy: dash(r) + "-agent"},
			tokenSpec{name: dash(r) + "-registrar", policy: dash(r) + "-registrar", serviceIdentity: r.ConsulService})
	}
	return append(specs,
		tokenSpec{name: "load-balancer-agent", policy: "load-balancer-agent"},
		tokenSpec{name: "load-balancer-registrar", policy: "load-balancer-registrar", serviceIdentity: "load-balancer"},
		tokenSpec{name: "consul-template", policy: "consul-template"},
		tokenSpec{name: "ui", policy: "ui-read"},
	)
}

// oneService declares hello_server alone: the tests that add a service
// start from it (the repository's declaration has echo_server already).
const oneService = `hello_server protos.Ping grpc.health.v1.Health
`

// twoServices declares hello_server and a second Consul service,
// echo_server, as the repository does.
const twoServices = `# hello_server and echo_server (build/test/consulacl)
hello_server protos.Ping grpc.health.v1.Health
echo_server protos.Echo
`
