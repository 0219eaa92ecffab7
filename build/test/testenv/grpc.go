package testenv

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/grpc-lb/nginx-consul/grpc_server/pingserver"
)

// PingServer is an in-process hello_server on 127.0.0.1:0.
type PingServer struct {
	*pingserver.Server
	Addr     string
	Hostname string
}

// StartPingServer serves the Ping service as hostname until the test ends.
func StartPingServer(t testing.TB, hostname string, opts ...grpc.ServerOption) *PingServer {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := pingserver.Config{Port: lis.Addr().(*net.TCPAddr).Port, DrainPeriod: 0, ShutdownTimeout: 5 * time.Second}
	srv := pingserver.New(cfg, hostname, t.Logf, opts...)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.GRPC.Stop)
	return &PingServer{Server: srv, Addr: lis.Addr().String(), Hostname: hostname}
}

// Dial connects to addr without TLS and closes the connection when the test ends.
func Dial(t testing.TB, addr string) *grpc.ClientConn {
	t.Helper()
	conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// HealthStatus asks addr's grpc.health.v1 service about service ("" for the server).
func HealthStatus(conn *grpc.ClientConn, service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		return 0, err
	}
	return resp.GetStatus(), nil
}
