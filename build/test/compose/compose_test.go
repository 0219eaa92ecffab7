package compose

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// The fakes answer like the Docker CLI with and without the Compose v2
// plugin, and like docker-compose v1. `docker version` succeeds, as the
// real one does, so COMPOSE=docker must be told apart by what it prints.
const (
	fakeDockerV2 = `#!/bin/sh
if [ "$*" = version ]; then echo "Client: Docker Engine - Community"; echo " Version: 28.2.2"; exit 0; fi
[ "$1" = compose ] || { echo "docker $*: not faked" >&2; exit 1; }
shift
case "$*" in
  version) echo "Docker Compose version v2.28.1" ;;
  "version --short") echo "2.28.1" ;;
  *) echo "docker compose $*: not faked" >&2; exit 1 ;;
esac
`
	fakeDockerNoPlugin = `#!/bin/sh
if [ "$*" = version ]; then echo "Client: Docker Engine - Community"; echo " Version: 28.2.2"; exit 0; fi
echo "docker: unknown command: docker $1" >&2
exit 1
`
	fakeDockerCompose = `#!/bin/sh
case "$*" in
  version) echo "docker-compose version 1.29.2, build unknown" ;;
  "version --short") echo "1.29.2" ;;
  *) echo "docker-compose $*: not faked" >&2; exit 1 ;;
esac
`
)

// fakePath is a PATH holding only the programs compose.sh needs and the
// given fakes, so the host's own docker and docker-compose stay out.
func fakePath(t *testing.T, fakes map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for _, tool := range []string{"bash", "dirname"} {
		real, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		if err := os.Symlink(real, filepath.Join(dir, tool)); err != nil {
			t.Fatal(err)
		}
	}
	for name, script := range fakes {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestFindDecidesInTheDocumentedOrder(t *testing.T) {
	both := map[string]string{"docker": fakeDockerV2, "docker-compose": fakeDockerCompose}
	for _, tc := range []struct {
		name        string
		fakes       map[string]string
		compose     string
		wantArgs    []string
		wantVersion string
	}{
		{"v2 plugin only", map[string]string{"docker": fakeDockerV2}, "", []string{"docker", "compose"}, "2.28.1"},
		{"v1 only", map[string]string{"docker": fakeDockerNoPlugin, "docker-compose": fakeDockerCompose}, "", []string{"docker-compose"}, "1.29.2"},
		{"both: v2 first", both, "", []string{"docker", "compose"}, "2.28.1"},
		{"both, COMPOSE=docker-compose: the user's choice", both, "docker-compose", []string{"docker-compose"}, "1.29.2"},
		{"both, COMPOSE=\"docker compose\"", both, "docker compose", []string{"docker", "compose"}, "2.28.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", fakePath(t, tc.fakes))
			t.Setenv("COMPOSE", tc.compose)
			c, err := Find(repoRoot())
			if err != nil {
				t.Fatalf("Find: %v", err)
			}
			if !slices.Equal(c.Args, tc.wantArgs) || c.Version != tc.wantVersion {
				t.Fatalf("Find:\n  expected %q version %s\n  received %q version %s", tc.wantArgs, tc.wantVersion, c.Args, c.Version)
			}
		})
	}
}

func TestFindEnvOverridesTheProcessEnvironment(t *testing.T) {
	t.Setenv("PATH", fakePath(t, map[string]string{"docker": fakeDockerV2, "docker-compose": fakeDockerCompose}))
	t.Setenv("COMPOSE", "")
	c, err := Find(repoRoot(), "COMPOSE=docker-compose")
	if err != nil {
		t.Fatalf("Find: %v", err)
	}
	if c.String() != "docker-compose" || c.Major() != "1" {
		t.Fatalf("Find with COMPOSE=docker-compose in env: expected docker-compose, major 1; received %q, major %s", c, c.Major())
	}
}

func TestFindRejectsWhatIsNotACompose(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fakes   map[string]string
		compose string
		want    []string // the error names these
	}{
		{"COMPOSE=docker: docker version is not Compose", map[string]string{"docker": fakeDockerV2}, "docker",
			[]string{`COMPOSE="docker"`, "accepted", `COMPOSE="docker compose"`, `COMPOSE="docker-compose"`}},
		{"COMPOSE names a missing program", map[string]string{"docker": fakeDockerV2}, "docker-compose",
			[]string{`COMPOSE="docker-compose"`, "accepted"}},
		{"COMPOSE=\"docker compose\" without the plugin", map[string]string{"docker": fakeDockerNoPlugin, "docker-compose": fakeDockerCompose}, "docker compose",
			[]string{`COMPOSE="docker compose"`, "make compose-plugin"}},
		{"no Compose at all", map[string]string{"docker": fakeDockerNoPlugin}, "",
			[]string{"no Docker Compose", "make compose-plugin", "apt-get install docker-compose"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", fakePath(t, tc.fakes))
			t.Setenv("COMPOSE", tc.compose)
			c, err := Find(repoRoot())
			if err == nil {
				t.Fatalf("Find: expected an error, received %q version %s", c, c.Version)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not name %q:\n%v", w, err)
				}
			}
		})
	}
}

// The script's run mode shows the command, then runs it with the arguments.
func TestScriptRunsTheCommandItPrints(t *testing.T) {
	t.Setenv("PATH", fakePath(t, map[string]string{"docker": fakeDockerV2}))
	t.Setenv("COMPOSE", "")
	cmd := exec.Command(filepath.Join(repoRoot(), "build", "scripts", "compose.sh"), "version", "--short")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("compose.sh version --short: %v: %s", err, stderr.String())
	}
	if got := strings.TrimSpace(string(out)); got != "2.28.1" {
		t.Fatalf("stdout: expected 2.28.1, received %q", got)
	}
	if got := strings.TrimSpace(stderr.String()); got != "docker compose version --short" {
		t.Fatalf("stderr: expected the command line, received %q", got)
	}
}
