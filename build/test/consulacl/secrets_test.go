package consulacl

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// secretsFile is one file or folder of .secrets/: its mode and a digest of
// its contents (never the secret itself, which a failure would print).
type secretsFile struct {
	mode   fs.FileMode
	digest string
}

// secretsTree is every file and folder under .secrets/ and the
// .secrets.tmp.* folders beside it, by path from the temporary repository.
func secretsTree(t *testing.T, d *deployment) map[string]secretsFile {
	t.Helper()
	tree := map[string]secretsFile{}
	roots, err := filepath.Glob(filepath.Join(d.repo, ".secrets*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, root := range roots {
		err := filepath.WalkDir(root, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(d.repo, path)
			f := secretsFile{mode: info.Mode()}
			if !e.IsDir() {
				raw, err := os.ReadFile(path)
				if err != nil {
					return err
				}
				sum := sha256.Sum256(raw)
				f.digest = hex.EncodeToString(sum[:8])
			}
			tree[filepath.ToSlash(rel)] = f
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return tree
}

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// requireSecretsFor fails the test unless .secrets/ holds exactly the set
// for the declared services (dash names): every token's files as UUIDs, the
// agent fragments with their agent's secret, files 0444 but the CA key's
// 0400, folders 0755 and .secrets/ itself 0700.
func requireSecretsFor(t *testing.T, d *deployment, replicas ...string) {
	t.Helper()
	want := map[string]fs.FileMode{".secrets": fs.ModeDir | 0o700, ".secrets/consul": fs.ModeDir | 0o755,
		".secrets/tls": fs.ModeDir | 0o755, ".secrets/tokens": fs.ModeDir | 0o755,
		".secrets/consul/gossip.hcl": 0o444, ".secrets/consul/load-balancer-agent.hcl": 0o444,
		".secrets/tls/consul-agent-ca.pem": 0o444, ".secrets/tls/consul-agent-ca-key.pem": 0o400,
		".secrets/tokens/management.secret": 0o444}
	for n := 1; n <= 3; n++ {
		for _, f := range []string{"consul/consul-server-%d.hcl", "tls/consul-server-%d.pem", "tls/consul-server-%d-key.pem"} {
			want[".secrets/"+fmt.Sprintf(f, n)] = 0o444
		}
	}
	tokens := []string{"consul-server-1-agent", "consul-server-2-agent", "consul-server-3-agent",
		"load-balancer-agent", "load-balancer-registrar", "consul-template", "ui"}
	for _, r := range replicas {
		tokens = append(tokens, r+"-agent", r+"-registrar")
		want[".secrets/consul/"+r+"-agent.hcl"] = 0o444
	}
	for _, tok := range tokens {
		want[".secrets/tokens/"+tok+".secret"] = 0o444
		want[".secrets/tokens/"+tok+".accessor"] = 0o444
	}
	tree := secretsTree(t, d)
	got := map[string]fs.FileMode{}
	for path, f := range tree {
		got[path] = f.mode
	}
	if !maps.Equal(got, want) {
		for _, p := range slices.Sorted(maps.Keys(want)) {
			if got[p] != want[p] {
				t.Errorf(".secrets: %s has mode %v, want %v", p, got[p], want[p])
			}
		}
		for _, p := range slices.Sorted(maps.Keys(got)) {
			if _, ok := want[p]; !ok {
				t.Errorf(".secrets: %s (%v) is not part of the set", p, got[p])
			}
		}
	}
	seen := map[string]string{}
	for _, tok := range append(tokens, "management") {
		for _, kind := range []string{"secret", "accessor"} {
			if tok == "management" && kind == "accessor" {
				continue
			}
			id := d.tokenFile(t, tok, kind)
			if !uuidRe.MatchString(id) {
				t.Errorf("tokens/%s.%s is not a random UUID", tok, kind)
			}
			if other, ok := seen[id]; ok {
				t.Errorf("tokens/%s.%s and %s are the same UUID", tok, kind, other)
			}
			seen[id] = tok + "." + kind
		}
	}
	for _, agent := range append(replicas, "load-balancer") {
		raw, err := os.ReadFile(filepath.Join(d.secretsDir(), "consul", agent+"-agent.hcl"))
		if err != nil {
			t.Fatal(err)
		}
		if want := "acl {\n  tokens {\n    agent = \"" + d.tokenFile(t, agent+"-agent", "secret") + "\"\n  }\n}\n"; string(raw) != want {
			t.Errorf("consul/%s-agent.hcl does not set the agent token to tokens/%s-agent.secret", agent, agent)
		}
	}
}

// changed lists what differs between two secretsTrees.
func changed(a, b map[string]secretsFile) []string {
	var diff []string
	for p, f := range a {
		if g, ok := b[p]; !ok || g != f {
			diff = append(diff, p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			diff = append(diff, p)
		}
	}
	slices.Sort(diff)
	return diff
}

// secrets.sh makes the replicas' tokens of every declared service; when
// .secrets/ exists, it adds the files of a service declared since and
// changes nothing else; it refuses a bad declaration, or a service with
// some of its files only, with one line before it writes anything.
func TestSecretsFollowTheDeclaration(t *testing.T) {
	t.Parallel()
	d := newDeployment(t, "")

	d.declare(t, "hello_server protos.Ping\nBad protos.Echo\n")
	status, out := d.secrets(t)
	if want := "secrets: build/config/services.conf:2: Consul service \"Bad\"; accepted: a name matching ^[a-z][a-z0-9_]{0,62}$; nothing was written\n"; status != 1 || out != want {
		t.Errorf("secrets.sh with a bad declaration and no .secrets/: exit %d, %q; want exit 1 and %q", status, out, want)
	}
	if tree := secretsTree(t, d); len(tree) != 0 {
		t.Errorf("secrets.sh with a bad declaration wrote %v", slices.Sorted(maps.Keys(tree)))
	}

	d.declare(t, oneService)
	out = d.requireSecrets(t)
	if !strings.Contains(out, "secrets: made a new set in .secrets/ (gossip key, CA and server certificates, 10 tokens; declared services: hello_server)") {
		t.Errorf("secrets.sh's first run says %q", out)
	}
	requireSecretsFor(t, d, "hello-server")
	made := secretsTree(t, d)

	t.Run("a service declared since", func(t *testing.T) {
		d.declare(t, twoServices)
		out := d.requireSecrets(t)
		added := []string{"tokens/echo-server-agent.secret", "tokens/echo-server-agent.accessor",
			"tokens/echo-server-registrar.secret", "tokens/echo-server-registrar.accessor", "consul/echo-server-agent.hcl"}
		if want := "secrets: reusing .secrets/; added the files of the services declared since: " + strings.Join(added, ", ") + "\n"; out != want {
			t.Errorf("secrets.sh after declaring echo_server: %q, want %q", out, want)
		}
		requireSecretsFor(t, d, "hello-server", "echo-server")
		var wantChanged []string
		for _, f := range added {
			wantChanged = append(wantChanged, ".secrets/"+f)
		}
		slices.Sort(wantChanged)
		if got := changed(made, secretsTree(t, d)); !slices.Equal(got, wantChanged) {
			t.Errorf("secrets.sh after declaring echo_server changed %v, want only %v added", got, wantChanged)
		}
		made = secretsTree(t, d)
	})

	t.Run("nothing new", func(t *testing.T) {
		out := d.requireSecrets(t)
		if out != "secrets: reusing .secrets/\n" {
			t.Errorf("secrets.sh again: %q", out)
		}
		if got := changed(made, secretsTree(t, d)); len(got) != 0 {
			t.Errorf("secrets.sh again changed %v", got)
		}
	})

	t.Run("a service no longer declared keeps its files", func(t *testing.T) {
		d.declare(t, "hello_server protos.Ping\n")
		if out := d.requireSecrets(t); out != "secrets: reusing .secrets/\n" {
			t.Errorf("secrets.sh without echo_server: %q", out)
		}
		if got := changed(made, secretsTree(t, d)); len(got) != 0 {
			t.Errorf("secrets.sh without echo_server changed %v", got)
		}
	})

	t.Run("a bad declaration", func(t *testing.T) {
		d.declare(t, twoServices+"third_server protos.Third\nhello protos.Hello\n")
		status, out := d.secrets(t)
		want := "secrets: build/config/services.conf:5: Consul service \"hello\", whose replicas would be the Consul nodes \"hello-*\", overlapping \"hello-server-*\" of \"hello_server\" on line 2; accepted: node prefixes (\"-\" for \"_\", then \"-\") of which none starts another; nothing was written\n"
		if status != 1 || out != want {
			t.Errorf("secrets.sh with a bad declaration: exit %d, %q; want exit 1 and %q", status, out, want)
		}
		if got := changed(made, secretsTree(t, d)); len(got) != 0 {
			t.Errorf("secrets.sh with a bad declaration changed %v", got)
		}
	})

	t.Run("a service with some of its files", func(t *testing.T) {
		d.declare(t, twoServices)
		lost := filepath.Join(d.secretsDir(), "tokens", "echo-server-registrar.secret")
		if err := os.Remove(lost); err != nil {
			t.Fatal(err)
		}
		before := secretsTree(t, d)
		status, out := d.secrets(t)
		want := "secrets: .secrets/tokens/echo-server-registrar.secret is missing or empty; the set in .secrets is incomplete: make purge deletes it with the cluster's data, and the next make up makes a new one\n"
		if status != 1 || out != want {
			t.Errorf("secrets.sh with echo_server's files in part: exit %d, %q; want exit 1 and %q", status, out, want)
		}
		if got := changed(before, secretsTree(t, d)); len(got) != 0 {
			t.Errorf("secrets.sh with echo_server's files in part changed %v", got)
		}
	})
}
