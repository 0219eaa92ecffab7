package registration

import (
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/consul/sdk/testutil"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// hasService reports nil when consul's local agent has the service id.
func hasService(consul *testenv.Consul, id string) error {
	_, _, err := consul.Client.Agent().Service(id, nil)
	return err
}

// SIGTERM deregisters the service and exits 0.
func TestRegistrarDeregistersOnSIGTERM(t *testing.T) {
	t.Parallel()
	consul := testenv.StartConsul(t)
	ping := testenv.StartPingServer(t, "a")
	p, id := startRegistered(t, consul, "ping-term", portOf(t, ping.Addr), nil)
	if err := hasService(consul, id); err != nil {
		t.Fatalf("after %q was logged the agent does not have %s: %v", "registered", id, err)
	}

	p.Signal(t, syscall.SIGTERM)
	if code := p.Wait(t, 10*time.Second); code != 0 {
		t.Errorf("exit code after SIGTERM: got %d, want 0", code)
	}
	if out := p.Output(); !strings.Contains(out, "deregistered "+id) {
		t.Errorf("output lacks %q; got:\n%s", "deregistered "+id, out)
	}
	err := hasService(consul, id)
	var status api.StatusError
	if !errors.As(err, &status) || status.Code != 404 {
		t.Errorf("agent service %s after SIGTERM: got error %v, want 404 (deregistered)", id, err)
	}
}

// An agent restarted with empty state gets the service back.
func TestRegistrarReregistersAfterAgentRestart(t *testing.T) {
	t.Parallel()
	first := testenv.StartConsul(t)
	ping := testenv.StartPingServer(t, "a")
	p, id := startRegistered(t, first, "ping-restart", portOf(t, ping.Addr), nil)

	// Consul exits 1 after a clean shutdown on SIGINT; only a stop that
	// timed out is a problem.
	var exit *exec.ExitError
	if err := first.Stop(); err != nil && !errors.As(err, &exit) {
		t.Fatalf("stopping the first agent: %v", err)
	}
	second := testenv.StartConsul(t, func(c *testutil.TestServerConfig) {
		ports := *first.Config.Ports
		c.Ports = &ports
	})
	if second.HTTPAddr != first.HTTPAddr {
		t.Fatalf("restarted agent listens on %s, want the first one's %s", second.HTTPAddr, first.HTTPAddr)
	}
	testenv.Eventually(t, 15*time.Second, "the restarted agent has "+id+" again", func() error {
		return hasService(second, id)
	})
	waitForLog(t, p, "re-registered "+id, 5*time.Second)
	healthIs(t, second, "ping-restart", id, "passing", 15*time.Second)
}
