package compose

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDockerRecording answers like the Docker CLI with the Compose v2
// plugin and appends every other command it is given to $FAKE_DOCKER_LOG,
// so a test sees what make ran against Docker.
const fakeDockerRecording = `#!/bin/sh
case "$*" in
  version) echo "Client: Docker Engine - Community"; echo " Version: 28.2.2"; exit 0 ;;
  "compose version") echo "Docker Compose version v2.28.1"; exit 0 ;;
  "compose version --short") echo "2.28.1"; exit 0 ;;
esac
echo "docker $*" >>"$FAKE_DOCKER_LOG"
`

// makeScale runs `make scale N=n` at the repository's root against the
// recording docker, and returns make's output, its error and the Docker
// commands it ran.
func makeScale(t *testing.T, n string) (string, error, string) {
	t.Helper()
	dir := t.TempDir()
	fake := filepath.Join(dir, "docker")
	if err := os.WriteFile(fake, []byte(fakeDockerRecording), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "docker.log")
	cmd := exec.Command("make", "--no-print-directory", "scale", "N="+n)
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"COMPOSE=docker compose", "FAKE_DOCKER_LOG="+log)
	out, err := cmd.CombinedOutput()
	ran, readErr := os.ReadFile(log)
	if readErr != nil && !errors.Is(readErr, os.ErrNotExist) {
		t.Fatal(readErr)
	}
	return string(out), err, string(ran)
}

// make scale refuses an N that is not a whole number from 0 up before it
// runs anything against Docker, so a wrong N changes nothing.
func TestMakeScaleRefusesABadN(t *testing.T) {
	for _, n := range []string{"-1", "", "five", "2.5", "05", `3"; touch x; "`} {
		t.Run("N="+n, func(t *testing.T) {
			out, err, ran := makeScale(t, n)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("make scale N=%q: expected exit code 2, received %v:\n%s", n, err, out)
			}
			want := `make scale: N="` + n + `" is invalid: accepted is a whole number from 0 up (make scale N=5)`
			if !strings.Contains(out, want) {
				t.Fatalf("make scale N=%q: expected the line\n  %s\nreceived:\n%s", n, want, out)
			}
			if ran != "" {
				t.Fatalf("make scale N=%q ran Docker before refusing:\n%s", n, ran)
			}
		})
	}
}

// A whole number reaches compose as the README's scaling command.
func TestMakeScalePassesAWholeNumberToCompose(t *testing.T) {
	for _, n := range []string{"0", "5", "12"} {
		t.Run("N="+n, func(t *testing.T) {
			out, _, ran := makeScale(t, n)
			want := "docker compose up -d --no-recreate --scale hello_server=" + n + "\n"
			if !strings.HasPrefix(ran, want) {
				t.Fatalf("make scale N=%s: expected Docker's first command to be\n  %s\nreceived:\n%s\nmake printed:\n%s", n, want, ran, out)
			}
		})
	}
}
