package compose

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/grpc-lb/nginx-consul/build/routes"
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

// makeScale runs `make scale` with settings (such as "N=5") at the
// repository's root against the recording docker, and returns make's
// output, its error and the Docker commands it ran.
func makeScale(t *testing.T, settings ...string) (string, error, string) {
	t.Helper()
	return makeTarget(t, "scale", settings...)
}

// makeTarget is makeScale for any target of the Makefile.
func makeTarget(t *testing.T, target string, settings ...string) (string, error, string) {
	t.Helper()
	dir := t.TempDir()
	fake := filepath.Join(dir, "docker")
	if err := os.WriteFile(fake, []byte(fakeDockerRecording), 0o755); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "docker.log")
	cmd := exec.Command("make", append([]string{"--no-print-directory", target}, settings...)...)
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
			out, err, ran := makeScale(t, "N="+n)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("make scale N=%q: expected exit code 2, received %v:\n%s", n, err, out)
			}
			want := `make scale: N="` + n + `" is invalid: accepted is a whole number from 0 up (N=5: five replicas)`
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
			out, _, ran := makeScale(t, "N="+n)
			want := "docker compose up -d --no-recreate --scale hello_server=" + n + "\n"
			if !strings.HasPrefix(ran, want) {
				t.Fatalf("make scale N=%s: expected Docker's first command to be\n  %s\nreceived:\n%s\nmake printed:\n%s", n, want, ran, out)
			}
		})
	}
}

// make scale SERVICE= takes only a Consul service that the declaration
// (build/config/services.conf) declares, and refuses anything else before
// it runs anything against Docker, naming the declared services.
func TestMakeScaleService(t *testing.T) {
	declaration, err := routes.Load(filepath.Join(repoRoot(), "build", "config", "services.conf"))
	if err != nil {
		t.Fatal(err)
	}
	declared := strings.Join(routes.ConsulServices(declaration), ", ")
	for _, service := range []string{"no_such_service", "", "consul-server-1", "load-balancer", "Hello_server", `hello_server"; touch x; "`, "hello_server,x"} {
		t.Run("SERVICE="+service, func(t *testing.T) {
			out, err, ran := makeScale(t, "SERVICE="+service, "N=2")
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 {
				t.Fatalf("make scale SERVICE=%q: expected exit code 2, received %v:\n%s", service, err, out)
			}
			want := `make scale: SERVICE="` + service + `" is invalid: accepted is a Consul service that build/config/services.conf declares: ` + declared + "\n"
			if !strings.Contains(out, want) {
				t.Fatalf("make scale SERVICE=%q: expected the line\n  %s\nreceived:\n%s", service, want, out)
			}
			if ran != "" {
				t.Fatalf("make scale SERVICE=%q ran Docker before refusing:\n%s", service, ran)
			}
		})
	}
	out, _, ran := makeScale(t, "SERVICE=hello_server", "N=3")
	if want := "docker compose up -d --no-recreate --scale hello_server=3\n"; !strings.HasPrefix(ran, want) {
		t.Fatalf("make scale SERVICE=hello_server N=3: expected Docker's first command to be\n  %s\nreceived:\n%s\nmake printed:\n%s", want, ran, out)
	}
}

// make swarm-scale checks the same settings (N from 1: a Swarm service keeps
// a task) before it runs anything against Docker.
func TestMakeSwarmScaleRefusesBadSettings(t *testing.T) {
	declaration, err := routes.Load(filepath.Join(repoRoot(), "build", "config", "services.conf"))
	if err != nil {
		t.Fatal(err)
	}
	declared := strings.Join(routes.ConsulServices(declaration), ", ")
	for _, c := range []struct {
		settings []string
		want     string
	}{
		{[]string{"SERVICE=no_such_service", "N=2"}, `swarm: SERVICE="no_such_service" is invalid: accepted is a Consul service that build/config/services.conf declares: ` + declared + "\n"},
		{[]string{`SERVICE=hello_server"; touch x; "`, "N=2"}, `swarm: SERVICE="hello_server"; touch x; "" is invalid`},
		{[]string{"N=0"}, `swarm: N="0" is invalid: accepted is a whole number from 1 up (N=5: five replicas)`},
		{[]string{`N=2"; touch x; "`}, `swarm: N="2"; touch x; "" is invalid`},
	} {
		t.Run(strings.Join(c.settings, " "), func(t *testing.T) {
			out, err, ran := makeTarget(t, "swarm-scale", c.settings...)
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(out, c.want) {
				t.Fatalf("make swarm-scale %v: expected exit code 2 and the line\n  %s\nreceived %v:\n%s", c.settings, c.want, err, out)
			}
			if ran != "" {
				t.Fatalf("make swarm-scale %v ran Docker before refusing:\n%s", c.settings, ran)
			}
		})
	}
}
