package main

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
	"time"

	"google.golang.org/grpc"
	v1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
)

// logPrefix starts every line the program logs.
const logPrefix = "lb-reflection: "

// Exit codes: exitFlags for a bad flag or declaration (the deployment's
// error: nothing is served), exitServe when the listener fails.
const (
	exitOK    = 0
	exitServe = 1
	exitFlags = 2
)

// stopGrace bounds a stop: streams in flight get this long to end, then
// are cut. supervisord's stopwaitsecs for the program is above it
// (build/config/supervisord/programs/lb-reflection.conf).
const stopGrace = 500 * time.Millisecond

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr))
}

type config struct {
	listen      string
	declaration string
	upstreams   string
	tryTimeout  time.Duration
}

func run(ctx context.Context, args []string, stderr io.Writer) int {
	logger := log.New(stderr, logPrefix, 0)
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		logger.Print(err)
		return exitFlags
	}
	declaration, err := newDeclarationFile(cfg.declaration, logger)
	if err != nil {
		logger.Printf("the declaration of routes -declaration=%s is refused, nothing is served: %v", cfg.declaration, err)
		return exitFlags
	}
	lis, err := net.Listen("tcp", cfg.listen)
	if err != nil {
		logger.Printf("-listen=%s: %v", cfg.listen, err)
		return exitServe
	}
	agg := &aggregator{
		catalog:    declaration.current,
		replicas:   engineUpstreams{base: cfg.upstreams},
		ask:        askReplica,
		tryTimeout: cfg.tryTimeout,
		log:        logger,
	}
	srv := grpc.NewServer()
	v1.RegisterServerReflectionServer(srv, agg)
	v1alpha.RegisterServerReflectionServer(srv, v1alphaServer{agg})
	logger.Printf("answering reflection on %s for %d gRPC services of %d Consul services (replicas from %s<Consul service>)",
		lis.Addr(), len(declaration.last.listed()), len(declaration.last.routes), cfg.upstreams)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(lis) }()
	select {
	case err := <-served:
		logger.Printf("serving on %s: %v", cfg.listen, err)
		return exitServe
	case <-ctx.Done():
	}
	stopped := make(chan struct{})
	go func() { srv.GracefulStop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(stopGrace):
		srv.Stop()
	}
	logger.Print("stopped")
	return exitOK
}

// parseFlags reads the flags; a bad one is an error naming the flag, its
// value and what is accepted.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("lb-reflection", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:7780", "the loopback address the engines route reflection to")
	fs.StringVar(&cfg.declaration, "declaration", "/etc/grpc-lb/services.conf", "the declaration of routes (build/config/services.conf)")
	fs.StringVar(&cfg.upstreams, "upstreams", "http://127.0.0.1:8080/upstream/", "the engine's lists of routed replicas, by Consul service")
	fs.DurationVar(&cfg.tryTimeout, "try-timeout", 3*time.Second, "how long one replica may take to answer one request")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: lb-reflection [flags]\n\n"+
			"Answers gRPC reflection at the load balancer for every routed service.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("argument %q is invalid: accepted is no argument, only flags", fs.Arg(0))
	}
	host, _, err := net.SplitHostPort(cfg.listen)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return cfg, fmt.Errorf("-listen=%q is invalid: accepted is a loopback address with a port, such as 127.0.0.1:7780 (the engines reach it in the container)", cfg.listen)
	}
	if cfg.tryTimeout <= 0 {
		return cfg, fmt.Errorf("-try-timeout=%s is invalid: accepted is a duration above 0, such as 3s", cfg.tryTimeout)
	}
	return cfg, nil
}
