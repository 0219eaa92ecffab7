package consulacl

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// nodeRule is a node or node_prefix rule, which the copy of
// consul-template.hcl without node read drops.
var nodeRule = regexp.MustCompile(`(?s)node(_prefix)?\s+"[^"]*"\s*\{[^}]*\}`)

// consulTemplateWithoutNodeRead is consul-template.hcl without its node
// rule: the mistake the issue wants a test to catch.
func consulTemplateWithoutNodeRead(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(policyDir(t), "consul-template.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if !nodeRule.Match(raw) {
		t.Fatalf("consul-template.hcl has no %s rule to remove; got:\n%s", nodeRule, raw)
	}
	return nodeRule.ReplaceAllString(string(raw), "")
}

// serviceRegistration is PUT /v1/agent/service/register's body.
func serviceRegistration(name string) map[string]any {
	return map[string]any{"Name": name, "ID": name + "-intruder", "Port": 1}
}

// catalogRegistration is PUT /v1/catalog/register's body: node with service on it.
func catalogRegistration(node, service string) map[string]any {
	return map[string]any{"Node": node, "Address": "127.0.0.2",
		"Service": map[string]any{"Service": service, "ID": service + "-on-" + node, "Port": 1}}
}

// The deployment's policies on a hello_server replica's agent: each token
// does its job and is denied the rest.
func TestHelloServerReplicaPolicies(t *testing.T) {
	t.Parallel()
	c := startACLConsul(t, "hello-server-test", "hello-server-agent",
		map[string]string{"consul-template-without-node-read": consulTemplateWithoutNodeRead(t)})
	ping := testenv.StartPingServer(t, "a")

	// The registrar, with its token from a file as in the deployment, reads
	// /v1/agent/self and registers hello_server.
	registrar, id := startRegistrar(t, c, "hello_server", portOf(t, ping.Addr), writeTokenFile(t, c.Tokens["hello-server-registrar"]))
	mine := "hello-server-test/" + id
	testenv.Eventually(t, 15*time.Second, mine+" is passing (asked with the management token)", func() error {
		got := c.passingInstances(t, "management", "hello_server")
		if !slices.Contains(got, mine) {
			return fmt.Errorf("passing hello_server instances: %v", got)
		}
		return nil
	})

	t.Run("agent tokens write only their own nodes", func(t *testing.T) {
		// Each row a node of its own: Consul asks for node:write only when
		// a registration changes the node, so a second identical
		// registration of the same node would pass with any token.
		for _, tc := range []struct {
			holder, node string
			want         int
		}{
			{"hello-server-agent", "hello-server-a", http.StatusOK},
			{"hello-server-agent", "load-balancer-a", http.StatusForbidden},
			{"load-balancer-agent", "load-balancer-b", http.StatusOK},
			{"load-balancer-agent", "hello-server-b", http.StatusForbidden},
		} {
			// What an agent's anti-entropy does for its node.
			c.requireStatus(t, tc.holder, "PUT", "/v1/catalog/register",
				map[string]any{"Node": tc.node, "Address": "127.0.0.3"}, tc.want)
			if tc.want == http.StatusOK {
				c.requireStatus(t, "management", "PUT", "/v1/catalog/deregister", map[string]any{"Node": tc.node}, http.StatusOK)
			}
		}
	})

	t.Run("registrar token registers hello_server only", func(t *testing.T) {
		c.requireStatus(t, "hello-server-registrar", "PUT", "/v1/agent/service/register", serviceRegistration("load-balancer"), http.StatusForbidden)
	})

	t.Run("other tokens cannot register hello_server", func(t *testing.T) {
		for _, holder := range []string{"load-balancer-registrar", "consul-template", "ui-read", ""} {
			out := c.requireStatus(t, holder, "PUT", "/v1/agent/service/register", serviceRegistration("hello_server"), http.StatusForbidden)
			for _, want := range []string{"lacks permission 'service:write'", "hello_server"} {
				if !strings.Contains(out, want) {
					t.Errorf("the %s token registering hello_server: body %q lacks %q", who(holder), out, want)
				}
			}
		}
		// The load balancer's registrar cannot even read this agent.
		c.requireStatus(t, "load-balancer-registrar", "GET", "/v1/agent/self", nil, http.StatusForbidden)
	})

	t.Run("anonymous sees and writes nothing", func(t *testing.T) {
		c.requireStatus(t, "", "PUT", "/v1/catalog/register", catalogRegistration("hello-server-anon", "hello_server"), http.StatusForbidden)
		out := c.requireStatus(t, "", "GET", "/v1/catalog/services", nil, http.StatusOK)
		var services map[string][]string
		if err := json.Unmarshal([]byte(out), &services); err != nil || len(services) != 0 {
			t.Errorf("GET /v1/catalog/services anonymously: got %q (%v), want {}", out, err)
		}
		if got := c.passingInstances(t, "", "hello_server"); len(got) != 0 {
			t.Errorf("passing hello_server instances anonymously: got %v, want none", got)
		}
	})

	t.Run("consul-template sees the replicas only", func(t *testing.T) {
		// A hello_server on a node that is not a replica's: the management
		// token sees it, consul-template must not route to it.
		c.requireStatus(t, "management", "PUT", "/v1/catalog/register", catalogRegistration("load-balancer-elsewhere", "hello_server"), http.StatusOK)
		defer c.requireStatus(t, "management", "PUT", "/v1/catalog/deregister", map[string]any{"Node": "load-balancer-elsewhere"}, http.StatusOK)
		if got := c.passingInstances(t, "management", "hello_server"); len(got) != 2 {
			t.Fatalf("passing hello_server instances with the management token: got %v, want %s and the one on load-balancer-elsewhere", got, mine)
		}
		if got := c.passingInstances(t, "consul-template", "hello_server"); !slices.Equal(got, []string{mine}) {
			t.Errorf("passing hello_server instances with the consul-template token: got %v, want [%s]", got, mine)
		}
	})

	t.Run("consul-template without node read sees nothing", func(t *testing.T) {
		// Consul answers 200 with an empty list, not 403: without this
		// check a missing node rule empties nginx's upstream silently.
		if got := c.passingInstances(t, "consul-template-without-node-read", "hello_server"); len(got) != 0 {
			t.Errorf("passing hello_server instances with consul-template.hcl minus its node rule: got %v, want none (node read is what lets consul-template see them)", got)
		}
	})

	t.Run("ui token reads everything and writes nothing", func(t *testing.T) {
		out := c.requireStatus(t, "ui-read", "GET", "/v1/operator/raft/configuration", nil, http.StatusOK)
		if !strings.Contains(out, `"Leader":true`) {
			t.Errorf("raft configuration with the ui-read token: got %q, want a leader in it", out)
		}
		// Autopilot answers 429 with the same body while a server is not
		// yet stable (a fresh agent, for its first seconds): either is
		// read permission granted.
		if code, out := c.call(t, "GET", "/v1/operator/autopilot/health", c.Tokens["ui-read"], nil); (code != http.StatusOK && code != http.StatusTooManyRequests) || !strings.Contains(out, `"Servers"`) {
			t.Errorf("GET /v1/operator/autopilot/health with the ui-read token: got %d %q, want 200 or 429 with the servers' health", code, short(out))
		}
		c.requireStatus(t, "ui-read", "GET", "/v1/agent/self", nil, http.StatusOK)
		if got := c.passingInstances(t, "ui-read", "hello_server"); !slices.Equal(got, []string{mine}) {
			t.Errorf("passing hello_server instances with the ui-read token: got %v, want [%s]", got, mine)
		}
		c.requireStatus(t, "ui-read", "PUT", "/v1/catalog/register", catalogRegistration("hello-server-ui", "hello_server"), http.StatusForbidden)
		c.requireStatus(t, "ui-read", "PUT", "/v1/kv/ui-was-here", "x", http.StatusForbidden)
		c.requireStatus(t, "ui-read", "DELETE", "/v1/operator/raft/peer?address=127.0.0.9:8300", nil, http.StatusForbidden)
	})

	// SIGTERM: the registrar deregisters with the same token.
	registrar.Signal(t, syscall.SIGTERM)
	if code := registrar.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("registrar exit code after SIGTERM: got %d, want 0; output:\n%s", code, registrar.Output())
	}
	if has, err := hasService(c, id); err != nil || has {
		t.Errorf("after SIGTERM the agent still has %s (%v); registrar output:\n%s", id, err, registrar.Output())
	}
}

// The load balancer's registrar registers load-balancer on its own agent;
// the replicas' registrar token is denied there.
func TestLoadBalancerRegistrarPolicy(t *testing.T) {
	t.Parallel()
	c := startACLConsul(t, "load-balancer-test", "load-balancer-agent", nil)
	health := testenv.StartPingServer(t, "lb")

	registrar, id := startRegistrar(t, c, "load-balancer", portOf(t, health.Addr), writeTokenFile(t, c.Tokens["load-balancer-registrar"]))
	c.requireStatus(t, "hello-server-registrar", "GET", "/v1/agent/self", nil, http.StatusForbidden)
	c.requireStatus(t, "hello-server-registrar", "PUT", "/v1/agent/service/register", serviceRegistration("load-balancer"), http.StatusForbidden)

	registrar.Signal(t, syscall.SIGTERM)
	if code := registrar.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("registrar exit code after SIGTERM: got %d, want 0; output:\n%s", code, registrar.Output())
	}
	if has, err := hasService(c, id); err != nil || has {
		t.Errorf("after SIGTERM the agent still has %s (%v); registrar output:\n%s", id, err, registrar.Output())
	}
}
