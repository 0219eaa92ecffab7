package registration

import (
	"strconv"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// The registrar probes the service once before registering: a healthy
// service starts passing, without waiting for Consul's first check run, and
// one that does not answer starts critical. The check interval is an hour,
// so only the registrar's probe can explain the status right after
// registration.
func TestRegistrarInitialStatusFollowsProbe(t *testing.T) {
	t.Parallel()
	consul := testenv.StartConsul(t)

	hourly := map[string]string{"HEALTH_CHECK_INTERVAL": "1h"}

	healthy := testenv.StartPingServer(t, "a")
	_, id := startRegistered(t, consul, "probe-up", portOf(t, healthy.Addr), hourly)
	healthIs(t, consul, "probe-up", id, "passing", 2*time.Second)

	_, id = startRegistered(t, consul, "probe-down", strconv.Itoa(testenv.FreePort(t)), hourly)
	healthIs(t, consul, "probe-down", id, "critical", 2*time.Second)
}
