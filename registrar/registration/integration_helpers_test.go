package registration

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// startRegistrar runs the real registrar binary with env.
func startRegistrar(t *testing.T, env map[string]string) *testenv.Process {
	t.Helper()
	return testenv.Start(t, environ(env), testenv.Binary(t, "./registrar"))
}

// startRegistered runs the registrar for service name on port against
// consul, with set added to a valid environment, and waits until it logs that
// it registered. It returns the process and the service ID it registered.
func startRegistered(t *testing.T, consul *testenv.Consul, name, port string, set map[string]string) (*testenv.Process, string) {
	t.Helper()
	env := goodEnv(consul.HTTPAddr)
	env["APP_NAME"], env["APP_PORT"] = name, port
	maps.Copy(env, set)
	p := startRegistrar(t, env)
	id := idFor(t, name, port)
	waitForLog(t, p, "registered "+id, 10*time.Second)
	return p, id
}

// waitForLog waits until p has printed text, failing at once if p exits.
func waitForLog(t *testing.T, p *testenv.Process, text string, deadline time.Duration) {
	t.Helper()
	testenv.Eventually(t, deadline, fmt.Sprintf("registrar logs %q", text), func() error {
		if strings.Contains(p.Output(), text) {
			return nil
		}
		if p.Exited() {
			t.Fatalf("registrar exited with code %d before logging %q; output:\n%s", p.Cmd.ProcessState.ExitCode(), text, p.Output())
		}
		return errors.New("not logged yet")
	})
}

// idFor is the service ID the binary registers on this host.
func idFor(t *testing.T, name, port string) string {
	t.Helper()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	return name + "-" + host + "-" + port
}

func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// healthIs waits until consul reports want for the instance id of service.
func healthIs(t *testing.T, consul *testenv.Consul, service, id, want string, deadline time.Duration) {
	t.Helper()
	testenv.Eventually(t, deadline, fmt.Sprintf("consul reports %s %s", id, want), func() error {
		health, err := consul.HealthOf(service)
		if err != nil {
			return err
		}
		if got, ok := health[id]; !ok || got != want {
			return fmt.Errorf("health of %s: got %v, want %s=%s", service, health, id, want)
		}
		return nil
	})
}
