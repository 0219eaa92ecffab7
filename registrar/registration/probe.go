package registration

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// probeHealthy runs the same health checks Consul will run, once, from the
// registrar, and returns one result per check of Registration(cfg, ...), in
// its order. A check that already passed here starts passing, so a new
// replica is routed without waiting up to one check interval for Consul's
// first (randomly staggered) run; one that fails starts critical, as
// Consul's checks do by default. The gRPC services of a list are asked at
// once, over one connection, so the probe takes at most one CheckTimeout.
// ctx ending (the registrar stopping) ends the probe at once.
func probeHealthy(ctx context.Context, cfg Config, address string) []bool {
	ctx, cancel := context.WithTimeout(ctx, cfg.CheckTimeout)
	defer cancel()
	hostPort := net.JoinHostPort(address, strconv.Itoa(cfg.CheckPort))
	switch cfg.CheckType {
	case "grpc":
		services := cfg.GRPCHealthServices()
		healthy := make([]bool, len(services))
		conn, err := grpc.NewClient("passthrough:///"+hostPort, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return healthy
		}
		defer conn.Close()
		client := healthpb.NewHealthClient(conn)
		var wg sync.WaitGroup
		for i, service := range services {
			wg.Go(func() {
				resp, err := client.Check(ctx, &healthpb.HealthCheckRequest{Service: service})
				healthy[i] = err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING
			})
		}
		wg.Wait()
		return healthy
	case "http":
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s%s", hostPort, cfg.CheckEndpoint), nil)
		if err != nil {
			return []bool{false}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return []bool{false}
		}
		resp.Body.Close()
		// Consul's HTTP check passes on any 2xx.
		return []bool{resp.StatusCode >= 200 && resp.StatusCode < 300}
	}
	return nil
}
