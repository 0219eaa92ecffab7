package consulacl

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/consul/sdk/testutil"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// aclConsul is a Consul with ACLs on, default deny, whose policies and
// tokens are the ones the deployment's scripts make for a declaration:
// build/scripts/secrets.sh chose the tokens and the management token,
// build/config/consul/acl-bootstrap.sh installed the policies and created
// the tokens (see deployment).
type aclConsul struct {
	*testenv.Consul
	// Tokens' SecretIDs by the name of their files in .secrets/tokens,
	// e.g. "hello-server-registrar" or "ui"; "management", the initial
	// management token; and the test's extra tokens, by their policy's name.
	Tokens map[string]string
	// deployment is the declaration, secrets and bootstrap root it was made
	// from.
	deployment *deployment
}

// policyDir holds the policy files: the templates acl-bootstrap.sh renders
// per declared service (serviceTemplates) and the static policies, each
// named after its file (`consul acl policy create -name <name> -rules
// @<file>`).
func policyDir(t *testing.T) string {
	return filepath.Join(testenv.RepoRoot(t), "build", "config", "consul", "acl")
}

// startACLConsul starts a Consul agent named nodeName with ACLs deny, whose
// initial management token secrets.sh made for declaration (the contents of
// a services.conf; "" for the repository's), has acl-bootstrap.sh install
// the policies and tokens, adds the test's extra policies (name to rules)
// with a token each, and sets agentToken's token as the agent's own token.
func startACLConsul(t *testing.T, nodeName, agentToken, declaration string, extra map[string]string) *aclConsul {
	t.Helper()
	d := newDeployment(t, declaration)
	d.requireSecrets(t)
	management := d.tokenFile(t, "management", "secret")
	consul := testenv.StartConsul(t, testenv.EnableACLs(management), func(c *testutil.TestServerConfig) {
		// The policies' prefixes match the deployment's node names.
		c.NodeName = nodeName
	})
	d.requireBootstrap(t, consul.HTTPAddr)

	c := &aclConsul{Consul: consul, Tokens: map[string]string{"management": management}, deployment: d}
	for _, name := range d.tokenNames(t) {
		c.Tokens[name] = d.tokenFile(t, name, "secret")
	}
	acl := consul.Client.ACL()
	for name, rules := range extra {
		if _, _, err := acl.PolicyCreate(&api.ACLPolicy{Name: name, Rules: rules}, nil); err != nil {
			t.Fatalf("creating policy %s (consul acl policy create -name %s): %v", name, name, err)
		}
		created, _, err := acl.TokenCreate(&api.ACLToken{Description: name, Policies: []*api.ACLTokenPolicyLink{{Name: name}}}, nil)
		if err != nil {
			t.Fatalf("creating the %s token: %v", name, err)
		}
		c.Tokens[name] = created.SecretID
	}
	if _, err := consul.Client.Agent().UpdateAgentACLToken(c.Tokens[agentToken], nil); err != nil {
		t.Fatalf("setting the agent token to %s's: %v", agentToken, err)
	}
	return c
}

// newUUID is a random UUID, the form Consul wants a token's secret in.
func newUUID(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// call sends one HTTP request to the agent with token as X-Consul-Token
// (none when token is ""), body as JSON when not nil, and returns the
// status and the response body. It is raw HTTP so that nothing but token
// decides who the agent sees: no consul/api fallback to the environment.
func (c *aclConsul) call(t *testing.T, method, path, token string, body any) (int, string) {
	t.Helper()
	var in io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		in = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, "http://"+c.HTTPAddr+path, in)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("X-Consul-Token", token)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(out)
}

// requireStatus fails the test unless method path as holder answers want,
// and returns the body.
func (c *aclConsul) requireStatus(t *testing.T, holder, method, path string, body any, want int) string {
	t.Helper()
	got, out := c.call(t, method, path, c.Tokens[holder], body)
	if got != want {
		t.Errorf("%s %s with the %s token: got %d %q, want %d", method, path, who(holder), got, short(out), want)
	}
	return out
}

// who names a token holder for messages; "" is the anonymous token.
func who(holder string) string {
	if holder == "" {
		return "anonymous (no)"
	}
	return holder
}

// writeTokenFile writes secret to a file as a compose secret holds it.
func writeTokenFile(t *testing.T, secret string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// passingInstances is how many passing instances of service the holder's
// token sees in /v1/health/service, the query consul-template makes.
func (c *aclConsul) passingInstances(t *testing.T, holder, service string) []string {
	t.Helper()
	out := c.requireStatus(t, holder, "GET", "/v1/health/service/"+service+"?passing", nil, http.StatusOK)
	var entries []api.ServiceEntry
	if err := json.Unmarshal([]byte(out), &entries); err != nil {
		t.Fatalf("health of %s as %s: %v in %q", service, holder, err, out)
	}
	var ids []string
	for _, e := range entries {
		ids = append(ids, e.Node.Node+"/"+e.Service.ID)
	}
	return ids
}

// short is body cut to a length a failure message can show.
func short(body string) string {
	body = strings.TrimSpace(body)
	if len(body) > 300 {
		return body[:300] + "..."
	}
	return body
}
