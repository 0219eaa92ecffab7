package consulacl

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// deployment is what the ACL set-up of a deployment reads, made by the
// project's own scripts in temporary folders: a declaration of routes,
// build/scripts/secrets.sh's secrets for it, and a folder laid out as the
// consul-acl-bootstrap container for build/config/consul/acl-bootstrap.sh.
type deployment struct {
	// repo is laid out as the repository for secrets.sh: its
	// build/scripts/secrets.sh and build/config/consul/declared-services.sh
	// are links to the repository's, its build/config/services.conf is the
	// test's declaration and .secrets/ what secrets.sh made.
	repo string
	// root is ACL_BOOTSTRAP_ROOT: etc/consul is the repository's
	// build/config/consul, etc/grpc-lb/services.conf links to repo's
	// declaration, run/secrets holds the management token, the CA and
	// tokens/ (links into repo's .secrets/), usr/local/bin/consul is bin/consul.
	root string
	// fakeDocker holds a docker for secrets.sh that runs bin/consul (see
	// writeFakeDocker).
	fakeDocker string
}

// newDeployment lays the folders out for declaration (the contents of a
// services.conf; "" for the repository's) and makes no secrets yet.
func newDeployment(t *testing.T, declaration string) *deployment {
	t.Helper()
	repoRoot := testenv.RepoRoot(t)
	d := &deployment{repo: t.TempDir(), root: t.TempDir(), fakeDocker: t.TempDir()}
	if declaration == "" {
		declaration = readRepoFile(t, testenv.DeclarationFile)
	}
	for _, link := range []struct{ target, name string }{
		{filepath.Join(repoRoot, "build", "scripts", "secrets.sh"), filepath.Join(d.repo, "build", "scripts", "secrets.sh")},
		{filepath.Join(repoRoot, "build", "config", "consul", "declared-services.sh"), filepath.Join(d.repo, "build", "config", "consul", "declared-services.sh")},
		{filepath.Join(repoRoot, "build", "config", "consul"), filepath.Join(d.root, "etc", "consul")},
		{filepath.Join(d.repo, "build", "config", "services.conf"), filepath.Join(d.root, "etc", "grpc-lb", "services.conf")},
		{filepath.Join(d.repo, ".secrets", "tokens", "management.secret"), filepath.Join(d.root, "run", "secrets", "consul-management-token")},
		{filepath.Join(d.repo, ".secrets", "tls", "consul-agent-ca.pem"), filepath.Join(d.root, "run", "secrets", "consul-agent-ca.pem")},
		{filepath.Join(d.repo, ".secrets", "tokens"), filepath.Join(d.root, "run", "secrets", "tokens")},
		{testenv.Tool(t, "consul"), filepath.Join(d.root, "usr", "local", "bin", "consul")},
	} {
		if err := os.MkdirAll(filepath.Dir(link.name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(link.target, link.name); err != nil {
			t.Fatal(err)
		}
	}
	d.declare(t, declaration)
	writeFakeDocker(t, d.fakeDocker)
	return d
}

// declare makes declaration the deployment's services.conf, for secrets.sh
// and the bootstrap alike.
func (d *deployment) declare(t *testing.T, declaration string) {
	t.Helper()
	path := d.declaration()
	if err := os.WriteFile(path, []byte(declaration), 0o644); err != nil {
		t.Fatal(err)
	}
}

// declaration is the path of the deployment's services.conf.
func (d *deployment) declaration() string {
	return filepath.Join(d.repo, filepath.FromSlash(testenv.DeclarationFile))
}

// secrets runs secrets.sh for the deployment (its docker the fake one) and
// returns its exit status and output.
func (d *deployment) secrets(t *testing.T) (int, string) {
	t.Helper()
	return run(t, []string{"PATH=" + d.fakeDocker + string(os.PathListSeparator) + os.Getenv("PATH")},
		filepath.Join(d.repo, "build", "scripts", "secrets.sh"))
}

// requireSecrets runs secrets.sh and fails the test unless it exits 0.
func (d *deployment) requireSecrets(t *testing.T) string {
	t.Helper()
	status, out := d.secrets(t)
	if status != 0 {
		t.Fatalf("secrets.sh: exit %d, output:\n%s", status, out)
	}
	return out
}

// bootstrap runs the repository's acl-bootstrap.sh against the Consul at
// addr (host:port, plain HTTP) and returns its exit status and output.
func (d *deployment) bootstrap(t *testing.T, addr string) (int, string) {
	t.Helper()
	return testenv.RunScript(t, []string{"ACL_BOOTSTRAP_ROOT=" + d.root, "ACL_BOOTSTRAP_SERVERS=http://" + addr},
		"build/config/consul/acl-bootstrap.sh")
}

// requireBootstrap runs the bootstrap and fails the test unless it exits 0.
func (d *deployment) requireBootstrap(t *testing.T, addr string) string {
	t.Helper()
	status, out := d.bootstrap(t, addr)
	if status != 0 {
		t.Fatalf("acl-bootstrap.sh: exit %d, output:\n%s", status, out)
	}
	return out
}

// secretsDir is the deployment's .secrets/.
func (d *deployment) secretsDir() string { return filepath.Join(d.repo, ".secrets") }

// tokenFile is the contents of .secrets/tokens/<name>.<kind> (secret or
// accessor), trimmed.
func (d *deployment) tokenFile(t *testing.T, name, kind string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(d.secretsDir(), "tokens", name+"."+kind))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(raw))
}

// tokenNames are the tokens secrets.sh made, by the names of their files,
// the management token left out.
func (d *deployment) tokenNames(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(d.secretsDir(), "tokens", "*.accessor"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".accessor"))
	}
	return names
}

// writeFakeDocker writes into dir a docker that does what secrets.sh asks
// of the real one with the project's own Consul: `docker image inspect`
// succeeds, and `docker run ... -v HOST:/s -w /s --entrypoint
// /usr/local/bin/consul IMAGE ARGS` runs bin/consul ARGS in HOST. So
// secrets.sh makes a real key, CA and certificates without Docker; anything
// else it asks fails loudly.
func writeFakeDocker(t *testing.T, dir string) {
	t.Helper()
	script := `#!/usr/bin/env bash
set -eu
case "$1" in
image) [[ "$2" == inspect ]] && exit 0 ;;
run)
  shift
  dir=
  while (($#)); do
    case "$1" in
    -v) dir="${2%%:*}"; shift 2 ;;
    --rm) shift ;;
    --network | --user | -w) shift 2 ;;
    --entrypoint) [[ "$2" == /usr/local/bin/consul ]] || break; shift 2 ;;
    -*) break ;;
    *) shift; cd "$dir"; exec ` + shellQuote(testenv.Tool(t, "consul")) + ` "$@" ;;
    esac
  done ;;
esac
echo "fake docker (build/test/consulacl): unexpected arguments: $*" >&2
exit 2
`
	if err := os.WriteFile(filepath.Join(dir, "docker"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// readRepoFile is a file of the repository (a path from its root).
func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(testenv.RepoRoot(t), filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// run runs the program at path with env added to this process's
// environment, and returns its exit status and combined output.
func run(t *testing.T, env []string, path string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	default:
		t.Fatalf("%s: %v", path, err)
		return 0, ""
	}
}
