package registration

import (
	"strconv"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/testenv"
)

// The registrar probes the service once before registering: a healthy
// service starts passing, without waiting for Consul's first check run, and
// one that does not answer starts critical. The check interval is an hour,
// so only the registrar's probe can explain the status right after
// registration.
func TestRegistrarInitialStatusFollowsProbe(t *testing.T) {
	t.Parallel()
	consul := testenv.StartConsul(t)

	healthy := testenv.StartPingServer(t, "a")
	port := portOf(t, healthy.Addr)
	env := registrarEnv(consul, "probe-up", port)
	env["HEALTH_CHECK_INTERVAL"] = "1h"
	p := startRegistrar(t, env)
	id := idFor(t, "probe-up", port)
	waitForLog(t, p, "registered "+id, 10*time.Second)
	healthIs(t, consul, "probe-up", id, "passing", 2*time.Second)

	closed := strconv.Itoa(testenv.FreePort(t))
	env = registrarEnv(consul, "probe-down", closed)
	env["HEALTH_CHECK_INTERVAL"] = "1h"
	p = startRegistrar(t, env)
	id = idFor(t, "probe-down", closed)
	waitForLog(t, p, "registered "+id, 10*time.Second)
	healthIs(t, consul, "probe-down", id, "critical", 2*time.Second)
}
