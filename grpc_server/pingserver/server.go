package pingserver

import (
	"context"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/grpc-lb/nginx-consul/protos"
)

// Server is a gRPC server with health and reflection and the Ping service,
// the Echo service too with -echo; or, for echo_server, Echo alone.
type Server struct {
	GRPC   *grpc.Server
	Health *health.Server
	cfg    Config
	logf   func(format string, args ...any)
}

// EchoMaxMsgSize is the largest message the server sends or receives with
// -echo: the end-to-end suite sends 8 MiB messages both ways through the load
// balancer, twice grpc-go's 4 MiB default receive limit.
const EchoMaxMsgSize = 16 << 20

// New builds the server. opts are passed to grpc.NewServer (tests add an
// unknown-service handler to get slow calls).
func New(cfg Config, hostname string, logf func(string, ...any), opts ...grpc.ServerOption) *Server {
	if cfg.Echo || cfg.EchoOnly {
		// Only with protos.Echo: production keeps grpc-go's limits. opts come
		// after, so a caller's own limits win.
		opts = append([]grpc.ServerOption{grpc.MaxRecvMsgSize(EchoMaxMsgSize), grpc.MaxSendMsgSize(EchoMaxMsgSize)}, opts...)
	}
	if cfg.FlowControl != FlowControlDynamic {
		// Static unless asked otherwise: the zero Config is production's.
		// Both together: either alone leaves the other window at 64 KiB.
		opts = append([]grpc.ServerOption{grpc.StaticStreamWindowSize(StaticStreamWindow), grpc.StaticConnWindowSize(StaticConnWindow)}, opts...)
	}
	s := &Server{GRPC: grpc.NewServer(opts...), Health: health.NewServer(), cfg: cfg, logf: logf}
	healthpb.RegisterHealthServer(s.GRPC, s.Health)
	reflection.Register(s.GRPC)
	s.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	if !cfg.EchoOnly {
		protos.RegisterPingServer(s.GRPC, &Ping{Hostname: hostname, LogCalls: cfg.LogCalls})
		s.Health.SetServingStatus(protos.Ping_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
	}
	if cfg.Echo || cfg.EchoOnly {
		protos.RegisterEchoServer(s.GRPC, NewEcho(hostname))
		s.Health.SetServingStatus(protos.Echo_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)
		logf("serving protos.Echo, with messages up to %d bytes", EchoMaxMsgSize)
	}
	return s
}

// Serve serves on lis until Shutdown stops it.
func (s *Server) Serve(lis net.Listener) error {
	return s.GRPC.Serve(lis)
}

// Shutdown drains the server in the order a load balancer needs: report
// NOT_SERVING, keep serving for the drain period while the balancer takes this
// replica out, then stop gracefully, and cut what is left at the deadline.
// ctx ends the drain early (a second signal).
func (s *Server) Shutdown(ctx context.Context) {
	s.logf("shutdown 1/3: health NOT_SERVING")
	s.Health.Shutdown()

	s.logf("shutdown 2/3: draining for %s while still serving", s.cfg.DrainPeriod)
	select {
	case <-time.After(s.cfg.DrainPeriod):
	case <-ctx.Done():
		s.logf("drain cut short: %v", context.Cause(ctx))
	}

	s.logf("shutdown 3/3: graceful stop, waiting up to %s for calls in flight", s.cfg.ShutdownTimeout)
	stopped := make(chan struct{})
	go func() {
		s.GRPC.GracefulStop()
		close(stopped)
	}()
	select {
	case <-stopped:
		s.logf("stopped: all calls in flight completed")
	case <-time.After(s.cfg.ShutdownTimeout):
		s.GRPC.Stop()
		s.logf("stopped: shutdown timeout %s reached, remaining calls cut", s.cfg.ShutdownTimeout)
	}
}
