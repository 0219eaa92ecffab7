package registration

import (
	"context"
	"reflect"
	"strconv"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// The probe answers once per check, in the registration's order: each gRPC
// service of a list on its own.
func TestProbeHealthyGRPCList(t *testing.T) {
	ping := testenv.StartPingServer(t, "a")
	ping.Health.SetServingStatus("protos.Echo", healthpb.HealthCheckResponse_NOT_SERVING)
	cfg := testConfig()
	port, err := strconv.Atoi(portOf(t, ping.Addr))
	if err != nil {
		t.Fatal(err)
	}
	cfg.CheckPort = port
	for _, tc := range []struct {
		endpoint string
		want     []bool
	}{
		{"", []bool{true}},
		{"protos.Ping", []bool{true}},
		{"protos.Echo", []bool{false}},
		{"protos.Ping,protos.Echo,protos.Unknown,grpc.health.v1.Health", []bool{true, false, false, false}},
	} {
		cfg.CheckEndpoint = tc.endpoint
		got := probeHealthy(context.Background(), cfg, "127.0.0.1")
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("endpoint %q: probeHealthy = %v, want %v", tc.endpoint, got, tc.want)
		}
		if n := len(Checks(Registration(cfg, "host1", "127.0.0.1"))); n != len(got) {
			t.Errorf("endpoint %q: %d probe results for %d checks", tc.endpoint, len(got), n)
		}
	}
}

// Nothing listening: every check of the list starts critical, within one timeout.
func TestProbeHealthyGRPCListUnreachable(t *testing.T) {
	cfg := testConfig()
	cfg.CheckPort = testenv.FreePort(t)
	cfg.CheckEndpoint = "protos.Ping,protos.Echo"
	cfg.CheckTimeout = 200 * time.Millisecond
	start := time.Now()
	got := probeHealthy(context.Background(), cfg, "127.0.0.1")
	if want := []bool{false, false}; !reflect.DeepEqual(got, want) {
		t.Errorf("probeHealthy = %v, want %v", got, want)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("probe took %s, want about the 200ms timeout at most", d)
	}
}
