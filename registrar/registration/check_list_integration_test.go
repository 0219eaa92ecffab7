package registration

import (
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// With HEALTH_CHECK_ENDPOINT listing two gRPC services the instance has one
// check per service and passes only while both answer SERVING: one of them
// NOT_SERVING makes it critical, and it passes again once that one serves.
func TestRegistrarCheckListFollowsEveryService(t *testing.T) {
	t.Parallel()
	consul := testenv.StartConsul(t)
	ping := testenv.StartPingServer(t, "a")
	ping.Health.SetServingStatus("protos.Echo", healthpb.HealthCheckResponse_SERVING)
	_, id := startRegistered(t, consul, "ping-list", portOf(t, ping.Addr),
		map[string]string{"HEALTH_CHECK_ENDPOINT": "protos.Ping,protos.Echo"})

	checks, err := consul.Client.Agent().Checks()
	if err != nil {
		t.Fatal(err)
	}
	for _, service := range []string{"protos.Ping", "protos.Echo"} {
		checkID := id + "-grpc-" + service
		if c, ok := checks[checkID]; !ok || c.Type != "grpc" || c.ServiceID != id {
			t.Errorf("check %s: got %+v, want a grpc check of service %s", checkID, c, id)
		}
	}
	if c, ok := checks[id+"-grpc"]; ok {
		t.Errorf("check %s-grpc: got %+v, want none with a list", id, c)
	}

	healthIs(t, consul, "ping-list", id, "passing", 15*time.Second)
	ping.Health.SetServingStatus("protos.Echo", healthpb.HealthCheckResponse_NOT_SERVING)
	healthIs(t, consul, "ping-list", id, "critical", 15*time.Second)
	checkStatusIs(t, consul, id+"-grpc-protos.Ping", "passing")
	checkStatusIs(t, consul, id+"-grpc-protos.Echo", "critical")

	ping.Health.SetServingStatus("protos.Echo", healthpb.HealthCheckResponse_SERVING)
	healthIs(t, consul, "ping-list", id, "passing", 15*time.Second)
	ping.Health.SetServingStatus("protos.Ping", healthpb.HealthCheckResponse_NOT_SERVING)
	healthIs(t, consul, "ping-list", id, "critical", 15*time.Second)
	checkStatusIs(t, consul, id+"-grpc-protos.Ping", "critical")
	checkStatusIs(t, consul, id+"-grpc-protos.Echo", "passing")
}

// The registrar's probe sets each check of a list on its own: with an hourly
// interval, only it can explain the statuses right after registration.
func TestRegistrarCheckListInitialStatus(t *testing.T) {
	t.Parallel()
	consul := testenv.StartConsul(t)
	ping := testenv.StartPingServer(t, "a")
	ping.Health.SetServingStatus("protos.Echo", healthpb.HealthCheckResponse_NOT_SERVING)
	_, id := startRegistered(t, consul, "ping-list-probe", portOf(t, ping.Addr),
		map[string]string{"HEALTH_CHECK_ENDPOINT": "protos.Ping,protos.Echo", "HEALTH_CHECK_INTERVAL": "1h"})
	checkStatusIs(t, consul, id+"-grpc-protos.Ping", "passing")
	checkStatusIs(t, consul, id+"-grpc-protos.Echo", "critical")
	healthIs(t, consul, "ping-list-probe", id, "critical", 2*time.Second)
}

// checkStatusIs fails unless the agent reports the check with status now.
func checkStatusIs(t *testing.T, consul *testenv.Consul, checkID, want string) {
	t.Helper()
	checks, err := consul.Client.Agent().Checks()
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := checks[checkID]; !ok || c.Status != want {
		t.Errorf("check %s: got %+v, want status %s", checkID, c, want)
	}
}
