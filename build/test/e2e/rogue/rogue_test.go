package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/consul/sdk/testutil"
)

// The attacks run as the binary the e2e suite mounts into a container: built
// static, and judged by its exit status.

var rogueBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rogue-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	rogueBin = filepath.Join(dir, "rogue")
	build := exec.Command("go", "build", "-o", rogueBin, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "CGO_ENABLED=0 go build ./build/test/e2e/rogue: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// rogue runs the helper and returns its exit status and output.
func rogue(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, rogueBin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit) && ctx.Err() == nil:
	default:
		t.Fatalf("rogue %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	t.Logf("rogue %s -> exit %d: %s", strings.Join(args, " "), cmd.ProcessState.ExitCode(), strings.TrimSpace(out.String()))
	return cmd.ProcessState.ExitCode(), out.String()
}

func expectExit(t *testing.T, want int, args ...string) string {
	t.Helper()
	got, out := rogue(t, args...)
	if got != want {
		t.Errorf("rogue %s: expected exit %d, received %d: %s", strings.Join(args, " "), want, got, out)
	}
	if lines := strings.Count(strings.TrimSpace(out), "\n") + 1; want != exitError && lines != 1 {
		t.Errorf("rogue %s: expected one line, received %d:\n%s", strings.Join(args, " "), lines, out)
	}
	return out
}

func TestRogueIsStatic(t *testing.T) {
	f, err := elf.Open(rogueBin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Fatalf("%s is dynamically linked (%s); the suite mounts it into containers without libc", rogueBin, p.Type)
		}
	}
}

func TestRogueUsage(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"nonsense"},
		{"agent-register"},
		{"catalog-register", "-addr", "127.0.0.1:8500", "-token-file", "/nonexistent"},
		{"rpc", "-addr", "127.0.0.1:8300"},
		{"rpc", "-addr", "127.0.0.1:8300", "-mode", "tls"},
		{"rpc", "-addr", "127.0.0.1:8300", "-mode", "tls-validcert"},
		{"rpc", "-addr", "127.0.0.1:8300", "-mode", "tls-nocert", "-ca", "/nonexistent"},
	} {
		expectExit(t, exitError, args...)
	}
}

// Nothing listening is an error, never a refusal.
func TestRogueNothingListening(t *testing.T) {
	addr := testenv.ClosedAddr(t)
	expectExit(t, exitError, "agent-register", "-addr", addr)
	expectExit(t, exitError, "catalog-register", "-addr", addr)
	for _, mode := range []string{"plain", "tls-nocert", "tls-othercert"} {
		expectExit(t, exitError, "rpc", "-addr", addr, "-mode", mode)
	}
}

// pki is what `consul tls ca create` and `consul tls cert create` made.
type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey string
}

func makePKI(t *testing.T, consul string) pki {
	t.Helper()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"tls", "ca", "create"},
		{"tls", "cert", "create", "-server", "-dc", "dc1"},
		{"tls", "cert", "create", "-client", "-dc", "dc1"},
	} {
		cmd := exec.Command(consul, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("consul %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	p := pki{
		ca:         filepath.Join(dir, "consul-agent-ca.pem"),
		serverCert: filepath.Join(dir, "dc1-server-consul-0.pem"),
		serverKey:  filepath.Join(dir, "dc1-server-consul-0-key.pem"),
		clientCert: filepath.Join(dir, "dc1-client-consul-0.pem"),
		clientKey:  filepath.Join(dir, "dc1-client-consul-0-key.pem"),
	}
	for _, f := range []string{p.ca, p.serverCert, p.serverKey, p.clientCert, p.clientKey} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("consul tls did not make the expected file: %v", err)
		}
	}
	return p
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// securedConsul is a Consul server configured the way the deployment is
// secured: ACLs default deny, gossip encryption, TLS on the RPC port with
// verify_outgoing and verify_server_hostname, and verify_incoming as given.
type securedConsul struct {
	*testenv.Consul
	token     string
	tokenFile string
}

func startSecuredConsul(t *testing.T, p pki, verifyIncoming bool) securedConsul {
	t.Helper()
	u := hex.EncodeToString(randomBytes(t, 16))
	token := fmt.Sprintf("%s-%s-%s-%s-%s", u[0:8], u[8:12], u[12:16], u[16:20], u[20:32])
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "management-token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// testutil has no field for verify_server_hostname: a second config file.
	extra := filepath.Join(dir, "tls-extra.json")
	if err := os.WriteFile(extra, []byte(`{"verify_server_hostname": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	c := testenv.StartConsul(t, func(c *testutil.TestServerConfig) {
		c.Datacenter = "dc1"
		c.ACL.Enabled = true
		c.ACL.DefaultPolicy = "deny"
		c.ACL.Tokens.InitialManagement = token
		c.ACL.Tokens.Agent = token
		c.Encrypt = base64.StdEncoding.EncodeToString(randomBytes(t, 32))
		c.CAFile, c.CertFile, c.KeyFile = p.ca, p.serverCert, p.serverKey
		c.VerifyIncoming = verifyIncoming
		c.VerifyOutgoing = true
		c.Args = append(c.Args, "-config-file", extra)
	})
	s := securedConsul{Consul: c, token: token, tokenFile: tokenFile}
	// The leader creates the management token after it was elected: until
	// then the token is "ACL not found" (403), and the attacks made with it
	// would pass for refused.
	admin := s.privileged(t)
	testenv.Eventually(t, 30*time.Second, "the management token is known to the leader", func() error {
		_, _, err := admin.ACL().TokenReadSelf(nil)
		return err
	})
	s.checkConfig(t, verifyIncoming)
	return s
}

// checkConfig confirms the agent runs with the settings the attacks are
// judged against, as it reports them in /v1/agent/self.
func (s securedConsul) checkConfig(t *testing.T, verifyIncoming bool) {
	t.Helper()
	self, err := s.privileged(t).Agent().Self()
	if err != nil {
		t.Fatal(err)
	}
	get := func(section string, keys ...string) any {
		var v any = map[string]any(self[section])
		for _, k := range keys {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		return v
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"ACLs enabled", get("DebugConfig", "ACLResolverSettings", "ACLsEnabled"), true},
		{"ACL default policy", get("DebugConfig", "ACLResolverSettings", "ACLDefaultPolicy"), "deny"},
		{"gossip encryption (LAN)", get("Stats", "serf_lan", "encrypted"), "true"},
		{"RPC verify_incoming", get("DebugConfig", "TLS", "InternalRPC", "VerifyIncoming"), verifyIncoming},
		{"RPC verify_outgoing", get("DebugConfig", "TLS", "InternalRPC", "VerifyOutgoing"), true},
		{"RPC verify_server_hostname", get("DebugConfig", "TLS", "InternalRPC", "VerifyServerHostname"), true},
	} {
		if c.got != c.want {
			t.Fatalf("consul runs with %s = %v, the test meant %v", c.what, c.got, c.want)
		}
	}
}

// privileged is an API client with the management token.
func (s securedConsul) privileged(t *testing.T) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: s.HTTPAddr, Token: s.token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestRogueAgainstSecuredConsul(t *testing.T) {
	consul := testenv.Tool(t, "consul")
	p := makePKI(t, consul)
	other := makePKI(t, consul) // another CA, as `consul tls ca create` makes anywhere
	s := startSecuredConsul(t, p, true)
	admin := s.privileged(t)

	t.Run("agent-register without a token is refused", func(t *testing.T) {
		out := expectExit(t, exitRefused, "agent-register", "-addr", s.HTTPAddr)
		if !strings.Contains(out, "403") {
			t.Errorf("expected the 403 in the result line: %s", out)
		}
	})
	t.Run("catalog-register without a token is refused", func(t *testing.T) {
		expectExit(t, exitRefused, "catalog-register", "-addr", s.HTTPAddr)
	})
	// The checks can fail: with the management token the same attacks work,
	// and the helper removes what it registered.
	t.Run("agent-register with the management token works and is cleaned up", func(t *testing.T) {
		expectExit(t, exitAccepted, "agent-register", "-addr", s.HTTPAddr, "-token-file", s.tokenFile)
		services, err := admin.Agent().Services()
		if err != nil {
			t.Fatal(err)
		}
		if svc, ok := services["rogue"]; ok {
			t.Errorf("the rogue service is still registered on the agent: %+v", svc)
		}
	})
	t.Run("catalog-register with the management token works and is cleaned up", func(t *testing.T) {
		expectExit(t, exitAccepted, "catalog-register", "-addr", s.HTTPAddr, "-token-file", s.tokenFile)
		node, _, err := admin.Catalog().Node("rogue", nil)
		if err != nil {
			t.Fatal(err)
		}
		if node != nil {
			t.Errorf("the rogue node is still in the catalog: %+v", node.Node)
		}
		entries, _, err := admin.Catalog().Service("hello_server", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 0 {
			t.Errorf("hello_server is still in the catalog: %d instance(s)", len(entries))
		}
	})

	rpc := func(mode string, extra ...string) []string {
		return append([]string{"rpc", "-addr", s.ServerAddr, "-mode", mode}, extra...)
	}
	withCA := []string{"-ca", p.ca}
	t.Run("rpc plain is refused", func(t *testing.T) {
		expectExit(t, exitRefused, rpc("plain")...)
	})
	t.Run("rpc tls-nocert is refused", func(t *testing.T) {
		out := expectExit(t, exitRefused, rpc("tls-nocert", withCA...)...)
		if !strings.Contains(out, "asked for a client certificate") {
			t.Errorf("expected the server to ask for a client certificate: %s", out)
		}
		// Without -ca the server certificate is not verified: the same.
		expectExit(t, exitRefused, rpc("tls-nocert")...)
	})
	t.Run("rpc tls-othercert is refused", func(t *testing.T) {
		out := expectExit(t, exitRefused, rpc("tls-othercert", withCA...)...)
		// The certificate was sent, and refused for its CA: not the
		// certless refusal again.
		if !strings.Contains(out, "sent one") || strings.Contains(out, "certificate required") {
			t.Errorf("expected the throwaway certificate to be sent and refused: %s", out)
		}
	})
	t.Run("rpc tls-validcert control is accepted", func(t *testing.T) {
		for _, kp := range [][2]string{{p.clientCert, p.clientKey}, {p.serverCert, p.serverKey}} {
			out := expectExit(t, exitRefused, rpc("tls-validcert", "-ca", p.ca, "-cert", kp[0], "-key", kp[1])...)
			if !strings.Contains(out, "was answered") {
				t.Errorf("expected Status.Ping to be answered over the accepted connection: %s", out)
			}
		}
	})
	// The control can fail: a certificate from another Consul CA is refused.
	t.Run("rpc tls-validcert control fails with another CA's certificate", func(t *testing.T) {
		expectExit(t, exitAccepted, rpc("tls-validcert", "-ca", p.ca, "-cert", other.clientCert, "-key", other.clientKey)...)
	})
	// A probe that cannot verify the server is an error, not a refusal.
	t.Run("rpc with the wrong -ca is an error", func(t *testing.T) {
		expectExit(t, exitError, rpc("tls-nocert", "-ca", other.ca)...)
		expectExit(t, exitError, rpc("tls-nocert", "-ca", p.ca, "-server-name", "server.dc2.consul")...)
	})
}

// Without verify_incoming the RPC attacks work: the probe reports them.
func TestRogueAgainstConsulWithoutVerifyIncoming(t *testing.T) {
	consul := testenv.Tool(t, "consul")
	p := makePKI(t, consul)
	s := startSecuredConsul(t, p, false)
	rpc := func(mode string, extra ...string) []string {
		return append([]string{"rpc", "-addr", s.ServerAddr, "-mode", mode, "-ca", p.ca}, extra...)
	}
	answered := func(t *testing.T, out string) {
		t.Helper()
		if !strings.Contains(out, "answered") || strings.Contains(out, "not answered") {
			t.Errorf("expected the server to answer Status.Ping: %s", out)
		}
	}
	t.Run("rpc plain works", func(t *testing.T) {
		answered(t, expectExit(t, exitAccepted, rpc("plain")...))
	})
	t.Run("rpc tls-nocert works", func(t *testing.T) {
		answered(t, expectExit(t, exitAccepted, rpc("tls-nocert")...))
	})
	t.Run("rpc tls-othercert works", func(t *testing.T) {
		answered(t, expectExit(t, exitAccepted, rpc("tls-othercert")...))
	})
	t.Run("rpc tls-validcert control is accepted", func(t *testing.T) {
		expectExit(t, exitRefused, rpc("tls-validcert", "-cert", p.clientCert, "-key", p.clientKey)...)
	})
	// ACLs stay on: the HTTP attacks are still refused.
	t.Run("agent-register without a token is refused", func(t *testing.T) {
		expectExit(t, exitRefused, "agent-register", "-addr", s.HTTPAddr)
	})
}
