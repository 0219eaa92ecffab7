package testenv

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// RunScript runs a script of the repository (a path from its root, e.g.
// "build/swarm/swarm.sh") with env added to this process's environment, and
// returns its exit status and combined output.
func RunScript(t testing.TB, env []string, script string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(RepoRoot(t), script), args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit):
		return exit.ExitCode(), string(out)
	default:
		t.Fatalf("%s: %v", script, err)
		return 0, ""
	}
}

// RequireRefused runs a script as RunScript does and fails the test unless
// it exits 2 with one line that contains want: the project's scripts refuse a
// bad setting that way, before they change anything.
func RequireRefused(t testing.TB, env []string, script string, args []string, want string) {
	t.Helper()
	status, out := RunScript(t, env, script, args...)
	if status != 2 || !strings.Contains(out, want) || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Errorf("%v %s %v: exit %d, output %q; expected exit 2 and one line with %q", env, script, args, status, out, want)
	}
}
