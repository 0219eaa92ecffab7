//go:build e2e

package e2e

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// The attacks of the README's Security section, each one refused.

// rogueAddress is where every rogue registration points: no replica has it.
const rogueAddress = "10.9.9.9"

// registrarTokenFile and templateTokenFile are where compose mounts the
// registrars' and consul-template's tokens in their containers.
const (
	registrarTokenFile = "/run/secrets/consul-registrar-token"
	templateTokenFile  = "/run/secrets/consul-template-token"
)

// noTokenRefused: with no token, nobody can register a hello_server, from
// the host or from the compose network, through an agent or the catalog;
// the anonymous token reads nothing; nginx never routes the rogue address.
func noTokenRefused(t *testing.T, d *Deployment) {
	lb := d.ContainerIDs("load-balancer")[0]
	replica := d.ContainerIDs("hello_server")[0]
	anonymous := consulClientWith(t, "")

	err := anonymous.Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: "rogue", Name: "hello_server", Address: rogueAddress, Port: 7777,
	})
	requireDenied(t, "host, no token, agent API register", err, "service:write", "hello_server")
	_, err = anonymous.Catalog().Register(&api.CatalogRegistration{
		Node: "rogue", Address: rogueAddress,
		Service: &api.AgentService{ID: "rogue", Service: "hello_server", Port: 7777},
	}, nil)
	// Consul 1.13.9 checks the service before the node.
	requireDenied(t, "host, no token, catalog register", err, "service:write", "hello_server")

	rogue := d.rogue(t)
	for _, attack := range []string{"agent-register", "catalog-register"} {
		out, err := rogue.run(attack, "-addr=consul-server-2:8500")
		requireRefused(t, "compose network, no token, "+attack+" at consul-server-2", out, err)
	}
	out, err := d.run(30*time.Second, "docker", "exec", replica, "/usr/local/bin/consul", "services", "register",
		"-id=rogue", "-name=hello_server", "-address="+rogueAddress, "-port=7777")
	if err == nil || !strings.Contains(out, "403") || !strings.Contains(out, "Permission denied") {
		t.Fatalf("a replica's own agent, no token: expected 403 Permission denied, received %v: %s", err, out)
	}
	fmt.Printf("a replica's own agent, no token: refused: %s\n", strings.TrimSpace(out))

	services, _, err := anonymous.Catalog().Services(nil)
	if err != nil || len(services) != 0 {
		t.Fatalf("anonymous catalog read: expected no services, received %v (err %v)", services, err)
	}
	entries, _, err := anonymous.Health().Service("hello_server", "", true, nil)
	if err != nil || len(entries) != 0 {
		t.Fatalf("anonymous health read of hello_server: expected no instances, received %d (err %v)", len(entries), err)
	}
	_, err = anonymous.Agent().Self()
	requireDenied(t, "anonymous agent self", err, "agent:read", "")

	d.requireNeverRouted(t, lb, rogueAddress, 5*time.Second)
}

// otherTokensRefused: a token for another job cannot register a hello_server.
func otherTokensRefused(t *testing.T, d *Deployment) {
	lb := d.ContainerIDs("load-balancer")[0]
	for _, c := range []struct{ name, file, token string }{
		{"the load balancer's registrar token", registrarTokenFile, "load-balancer-registrar"},
		{"consul-template's token", templateTokenFile, "consul-template"},
	} {
		out, err := d.run(30*time.Second, "docker", "exec", lb, "/usr/local/bin/consul", "services", "register",
			"-token-file="+c.file, "-id=rogue", "-name=hello_server", "-address="+rogueAddress, "-port=7777")
		want := fmt.Sprintf("token with AccessorID '%s' lacks permission 'service:write'", accessor(t, c.token))
		if err == nil || !strings.Contains(out, want) {
			t.Fatalf("registering hello_server with %s: expected %q, received %v: %s", c.name, want, err, out)
		}
		fmt.Printf("with %s: refused: %s\n", c.name, strings.TrimSpace(out))
	}
	err := consulClient(t).Agent().ServiceRegister(&api.AgentServiceRegistration{
		ID: "rogue", Name: "hello_server", Address: rogueAddress, Port: 7777,
	})
	requireDenied(t, "host, the UI's read-only token", err, "service:write", accessor(t, "ui"))
	d.requireNeverRouted(t, lb, rogueAddress, 5*time.Second)
}

// gossipKeyRequired: an agent without the gossip key, or with another key,
// cannot join: the servers refuse its messages and it is no member.
func gossipKeyRequired(t *testing.T, d *Deployment) {
	network := d.composeNetwork(t)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	rogues := map[string][]string{
		"rogue-nokey":    nil,
		"rogue-wrongkey": {"-encrypt=" + base64.StdEncoding.EncodeToString(key)},
	}
	since := time.Now()
	for node, extra := range rogues {
		name := "grpclb-" + node
		t.Cleanup(func() { _, _ = d.run(time.Minute, "docker", "rm", "-f", name) })
		args := append([]string{"run", "-d", "--name", name, "--network", network, "--entrypoint", "/usr/local/bin/consul",
			image("base"), "agent", "-data-dir=/tmp/consul", "-node=" + node,
			"-retry-join=consul-server-1", "-retry-interval=1s"}, extra...)
		d.Docker(args...)
	}
	server := d.ContainerIDs("consul-server-1")[0]
	for _, refusal := range []string{
		"Encryption is configured but remote state is not encrypted", // no key
		"No installed keys could decrypt the message",                // another key
	} {
		eventually(t, 60*time.Second, "consul-server-1 logs "+refusal, func() error {
			for _, l := range d.Logs(server, since) {
				if strings.Contains(l.Text, refusal) {
					fmt.Printf("consul-server-1: %s\n", l.Text)
					return nil
				}
			}
			return fmt.Errorf("not logged yet")
		})
	}
	members, err := consulClient(t).Agent().Members(false)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range members {
		if _, rogue := rogues[m.Name]; rogue {
			t.Fatalf("consul members lists %s (status %d): an agent without the gossip key joined", m.Name, m.Status)
		}
	}
}

// rpcNeedsCertificate: the servers' RPC port refuses a client without a
// certificate from the project's CA; the control (a certificate the CA
// signed) shows the probe tells a refusal from an accepted connection.
func rpcNeedsCertificate(t *testing.T, d *Deployment) {
	rogue := d.rogue(t)
	rogue.mounts = []string{
		filepath.Join(secretsDir(), "tls", "consul-agent-ca.pem") + ":/tls/ca.pem:ro",
		// Test-only: consul-server-2's certificate (it is also a client
		// certificate) stands in for an agent's, for the control.
		filepath.Join(secretsDir(), "tls", "consul-server-2.pem") + ":/tls/cert.pem:ro",
		filepath.Join(secretsDir(), "tls", "consul-server-2-key.pem") + ":/tls/key.pem:ro",
	}
	for _, mode := range []string{"plain", "tls-nocert", "tls-othercert"} {
		out, err := rogue.run("rpc", "-addr=consul-server-1:8300", "-mode="+mode, "-ca=/tls/ca.pem", "-server-name=server.dc1.consul")
		requireRefused(t, "RPC to consul-server-1, "+mode, out, err)
	}
	out, err := rogue.run("rpc", "-addr=consul-server-1:8300", "-mode=tls-validcert", "-ca=/tls/ca.pem",
		"-cert=/tls/cert.pem", "-key=/tls/key.pem", "-server-name=server.dc1.consul")
	if err != nil {
		t.Fatalf("control, RPC with a certificate the project's CA signed: expected accepted, received %v: %s", err, out)
	}
	fmt.Printf("control, a valid certificate: %s\n", strings.TrimSpace(out))
}

// requireDenied checks a consul/api error is a 403 naming the permission
// (and, unless empty, the resource or accessor).
func requireDenied(t *testing.T, what string, err error, permission, about string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: expected 403 Permission denied, received success", what)
	}
	msg := err.Error()
	if !strings.Contains(msg, "403") || !strings.Contains(msg, "lacks permission '"+permission) || !strings.Contains(msg, about) {
		t.Fatalf("%s: expected 403 lacking %s on %q, received %v", what, permission, about, err)
	}
	fmt.Printf("%s: refused: %v\n", what, err)
}

// requireRefused checks the rogue tool's verdict: exit 0 means the attack
// was refused, 1 that it worked, 2 that it could not tell.
func requireRefused(t *testing.T, what, out string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: expected refused, received %v: %s", what, err, out)
	}
	fmt.Printf("%s: %s\n", what, strings.TrimSpace(out))
}

// requireNeverRouted checks, for the whole of window, that addr is in
// neither the rendered upstream nor the one nginx's workers use.
// consul-template renders at most 1 s after a change, so a window of several
// seconds covers any render a registration could have caused.
func (d *Deployment) requireNeverRouted(t *testing.T, lb, addr string, window time.Duration) {
	t.Helper()
	for end := time.Now().Add(window); time.Now().Before(end); time.Sleep(500 * time.Millisecond) {
		for what, read := range map[string]func(string) ([]string, error){
			"rendered " + d.engine.rendered: d.renderedUpstream, "running " + d.engine.name + " (:8080/upstream)": d.servingUpstream,
		} {
			servers, err := read(lb)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range servers {
				if strings.HasPrefix(s, addr+":") {
					t.Fatalf("%s routes to %s: %v", what, addr, servers)
				}
			}
		}
	}
	fmt.Printf("%s was never in %s's upstream (watched for %s)\n", addr, d.engine.name, window)
}

// composeNetwork is the network the deployment's containers share.
func (d *Deployment) composeNetwork(t *testing.T) string {
	t.Helper()
	lb := d.ContainerIDs("load-balancer")[0]
	return d.Docker("inspect", "--format", "{{range $name, $net := .NetworkSettings.Networks}}{{$name}}{{end}}", lb)
}

// rogueTool runs build/test/e2e/rogue, the suite's attack helper, in a throwaway
// container on the compose network.
type rogueTool struct {
	d       *Deployment
	dir     string // holds the static binary
	network string
	mounts  []string
}

func (d *Deployment) rogue(t *testing.T) *rogueTool {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "rogue"), "./build/test/e2e/rogue")
	cmd.Dir, cmd.Env = d.root, append(d.compose.Environ(), "CGO_ENABLED=0")
	if out, err := runWithin(cmd, 5*time.Minute, nil); err != nil {
		t.Fatalf("building the rogue tool: %v\n%s", err, out)
	}
	return &rogueTool{d: d, dir: dir, network: d.composeNetwork(t)}
}

// run runs the tool with args; a non-nil error is its non-zero exit.
func (r *rogueTool) run(args ...string) (string, error) {
	argv := []string{"run", "--rm", "--network", r.network, "-v", r.dir + ":/rogue:ro"}
	for _, m := range r.mounts {
		argv = append(argv, "-v", m)
	}
	argv = append(argv, "--entrypoint", "/rogue/rogue", image("base"))
	return r.d.run(2*time.Minute, "docker", append(argv, args...)...)
}

// secretsNotExposed: no secret value is in git, in what docker inspect
// shows of a container or an image, or in an image's history (its layers'
// commands and build args); the folder is closed to other host users.
func secretsNotExposed(t *testing.T, d *Deployment) {
	values := secretValues(t)
	var places []string
	ids := strings.Fields(d.Compose(time.Minute, "ps", "-a", "-q"))
	if len(ids) < 6 {
		t.Fatalf("expected the deployment's containers (at least 6), received %v", ids)
	}
	places = append(places, "docker inspect of every container")
	shown := d.Docker(append([]string{"inspect"}, ids...)...)
	for _, name := range []string{"base", "hello-server", "load-balancer", "programs"} {
		places = append(places, "docker image inspect and history of "+image(name))
		shown += d.Docker("image", "inspect", image(name))
		shown += d.Docker("history", "--no-trunc", image(name))
	}
	for name, value := range values {
		if strings.Contains(shown, value) {
			t.Fatalf("the secret %s is visible in one of: %s", name, strings.Join(places, ", "))
		}
	}
	// git: the committed tree and every file git would add; the patterns go
	// in a file, not on a command line.
	patterns := filepath.Join(t.TempDir(), "patterns")
	var list []string
	for _, v := range values {
		list = append(list, v)
	}
	if err := os.WriteFile(patterns, []byte(strings.Join(list, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for where, args := range map[string][]string{
		"the committed tree":      {"grep", "-l", "-F", "-f", patterns, "HEAD"},
		"the files git would add": {"grep", "-l", "-F", "--untracked", "-f", patterns},
	} {
		out, err := d.run(time.Minute, "git", args...)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("git grep for the secrets in %s: expected no match (exit 1), received %v: %s", where, err, out)
		}
	}
	places = append(places, "git (HEAD and files git would add)")
	for _, path := range []string{".secrets", ".secrets/tokens/ui.secret"} {
		if out, err := d.run(time.Minute, "git", "check-ignore", "-q", path); err != nil {
			t.Fatalf("git check-ignore %s: expected ignored, received %v %s", path, err, out)
		}
	}
	mode := d.mustRun(time.Minute, "stat", "-c", "%a", secretsDir())
	if strings.TrimSpace(mode) != "700" {
		t.Fatalf("%s: expected mode 700, received %s", secretsDir(), mode)
	}
	fmt.Printf("none of %d secret values is in: %s; %s is mode 700\n", len(values), strings.Join(places, ", "), secretsDir())
}

// secretValues are the values that must not leak: every token's secret,
// the gossip key, and the private keys' bodies.
func secretValues(t *testing.T) map[string]string {
	t.Helper()
	values := map[string]string{}
	tokens, err := filepath.Glob(filepath.Join(secretsDir(), "tokens", "*.secret"))
	if err != nil || len(tokens) < 10 {
		t.Fatalf("expected the 10 token secrets in .secrets/tokens, received %v (err %v)", tokens, err)
	}
	for _, f := range tokens {
		values[filepath.Base(f)] = readSecret(t, "tokens", filepath.Base(f))
	}
	gossip := readSecret(t, "consul", "gossip.hcl")
	key, ok := strings.CutPrefix(gossip, `encrypt = "`)
	if !ok || len(key) < 40 {
		t.Fatalf("consul/gossip.hcl: expected encrypt = \"<key>\", received %d characters", len(gossip))
	}
	values["the gossip key"] = strings.TrimSuffix(key, `"`)
	keys, _ := filepath.Glob(filepath.Join(secretsDir(), "tls", "*-key.pem"))
	for _, f := range keys {
		// The first line of base64 after the PEM header is unique to a key.
		lines := strings.Split(readSecret(t, "tls", filepath.Base(f)), "\n")
		if len(lines) < 2 || len(lines[1]) < 40 {
			t.Fatalf("%s: not a PEM key", f)
		}
		values[filepath.Base(f)] = lines[1]
	}
	return values
}
