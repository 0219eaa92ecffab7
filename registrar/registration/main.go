// Package registration is the registrar program: it registers a service with
// the local Consul agent through github.com/hashicorp/consul/api, keeps it
// registered, and deregisters it on shutdown.
package registration

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1 // registration or deregistration failed
	ExitUsage  = 2 // the environment is invalid; nothing was registered
)

// Main runs the registrar until SIGTERM or SIGINT and returns its exit code.
func Main(env LookupEnv, stderr io.Writer) int {
	logger := log.New(stderr, "registrar: ", log.LstdFlags|log.Lmicroseconds)
	cfg, err := ConfigFromEnv(env)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintf(stderr, "registrar: %s\n", line)
		}
		return ExitUsage
	}
	hostname, err := os.Hostname()
	if err != nil {
		logger.Printf("cannot read hostname: %v", err)
		return ExitFailed
	}
	agent, err := NewAgent(cfg)
	if err != nil {
		logger.Printf("consul client: %v", err)
		return ExitFailed
	}
	r := &Registrar{Config: cfg, Agent: agent, Hostname: hostname, Logf: logger.Printf,
		WatchEvery: time.Second, Backoff: DefaultBackoff}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := r.Register(ctx); err != nil {
		if ctx.Err() != nil {
			logger.Printf("stopped before registering: nothing to deregister")
			return ExitOK
		}
		logger.Printf("registration failed: %v", err)
		return ExitFailed
	}
	r.Watch(ctx)
	if err := r.Deregister(); err != nil {
		logger.Printf("%v", err)
		return ExitFailed
	}
	return ExitOK
}
