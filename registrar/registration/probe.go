package registration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// probeHealthy runs the same health check Consul will run, once, from the
// registrar. A registration whose check already passed here starts passing,
// so a new replica is routed without waiting up to one check interval for
// Consul's first (randomly staggered) run; one that fails starts critical,
// as Consul's checks do by default. ctx ending (the registrar stopping)
// ends the probe at once.
func probeHealthy(ctx context.Context, cfg Config, address string) bool {
	ctx, cancel := context.WithTimeout(ctx, cfg.CheckTimeout)
	defer cancel()
	hostPort := net.JoinHostPort(address, strconv.Itoa(cfg.CheckPort))
	switch cfg.CheckType {
	case "grpc":
		conn, err := grpc.NewClient("passthrough:///"+hostPort, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return false
		}
		defer conn.Close()
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: cfg.CheckEndpoint})
		return err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
	case "http":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s%s", hostPort, cfg.CheckEndpoint), nil)
		if err != nil {
			return false
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		// Consul's HTTP check passes on any 2xx.
		return resp.StatusCode >= 200 && resp.StatusCode < 300
	}
	return false
}
