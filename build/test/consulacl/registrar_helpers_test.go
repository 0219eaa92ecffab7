package consulacl

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// startRegistrar runs the real registrar binary for service on port with
// the token in tokenFile, and waits until it logs that it registered. It
// returns the process and the service ID.
func startRegistrar(t *testing.T, c *aclConsul, service, port, tokenFile string) (*testenv.Process, string) {
	t.Helper()
	env := []string{
		"APP_NAME=" + service, "APP_PORT=" + port, "CONSUL_HTTP_ADDR=" + c.HTTPAddr,
		"CONSUL_HTTP_TOKEN_FILE=" + tokenFile,
		// A denied request does not heal by waiting: give up soon.
		"REGISTER_ATTEMPTS=3",
	}
	p := testenv.Start(t, env, testenv.Binary(t, "./registrar"))
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	id := service + "-" + host + "-" + port
	testenv.Eventually(t, 10*time.Second, "the registrar logs \"registered "+id+"\"", func() error {
		if strings.Contains(p.Output(), "registered "+id) {
			return nil
		}
		if p.Exited() {
			t.Fatalf("the registrar exited with code %d before registering %s; output:\n%s", p.Cmd.ProcessState.ExitCode(), id, p.Output())
		}
		return errors.New("not yet")
	})
	return p, id
}

// portOf is addr's port.
func portOf(t *testing.T, addr string) string {
	t.Helper()
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// hasService says whether the agent (asked with the management token) has id.
func hasService(c *aclConsul, id string) (bool, error) {
	services, err := c.Client.Agent().Services()
	if err != nil {
		return false, fmt.Errorf("listing the agent's services: %w", err)
	}
	_, ok := services[id]
	return ok, nil
}
