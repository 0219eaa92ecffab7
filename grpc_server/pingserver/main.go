// Package pingserver is the hello_server program: the Ping service with gRPC
// health and reflection, and a shutdown that drains before it stops.
package pingserver

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1
	ExitUsage  = 2
)

// Main runs grpc_server until SIGTERM or SIGINT and returns the exit code.
func Main(args []string, stderr io.Writer) int {
	return PingServer.Main(args, stderr)
}

// Main runs the program until SIGTERM or SIGINT and returns the exit code.
func (p Program) Main(args []string, stderr io.Writer) int {
	logger := log.New(stderr, p.Name+": ", log.LstdFlags|log.Lmicroseconds)
	cfg, err := p.ParseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", p.Name, err)
		return ExitUsage
	}
	hostname, err := os.Hostname()
	if err != nil {
		logger.Printf("cannot read hostname: %v", err)
		return ExitFailed
	}

	lis, err := net.Listen("tcp", fmt.Sprintf(":%d", cfg.Port))
	if err != nil {
		logger.Printf("failed to listen: %v", err)
		return ExitFailed
	}
	srv := New(cfg, hostname, logger.Printf)

	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	logger.Printf("serving on %s as %q", lis.Addr(), hostname)

	select {
	case err := <-served:
		logger.Printf("serve failed: %v", err)
		return ExitFailed
	case sig := <-signals:
		logger.Printf("received %s", sig)
	}
	// A second signal skips the rest of the drain period.
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		sig := <-signals
		cancel(fmt.Errorf("received %s again", sig))
	}()
	srv.Shutdown(ctx)
	cancel(nil)
	return ExitOK
}
