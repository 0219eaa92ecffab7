package registration

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Registrar keeps one service registered with the local agent for as long as
// its context lives, then deregisters it.
type Registrar struct {
	Config   Config
	Agent    *Agent
	Hostname string
	Logf     func(format string, args ...any)
	// WatchEvery is how often the registrar checks that the agent still has
	// the registration; an agent restarted with empty state is noticed within it.
	WatchEvery time.Duration
	// Backoff is the pause after failed attempt n (1-based).
	Backoff func(attempt int) time.Duration
}

// DefaultBackoff retries every 100 ms for the first 20 attempts (2 s), then
// doubles from 200 ms up to 5 s. A new container's agent answers 0.1-1 s
// after the registrar starts, later on a loaded machine; a steady 100 ms
// poll of the local agent registers the replica at most 100 ms after that,
// where doubling from the start left up to the same time again unused
// (measured: a replica routed 1.2-2.0 s after listening instead of 0.6 s).
// The default 30 attempts span about 28 s.
func DefaultBackoff(attempt int) time.Duration {
	const steady = 20
	if attempt <= steady {
		return 100 * time.Millisecond
	}
	n := attempt - steady - 1
	if n >= 5 {
		return 5 * time.Second
	}
	return min(200*time.Millisecond<<n, 5*time.Second)
}

// ID is the service ID this registrar owns.
func (r *Registrar) ID() string { return ServiceID(r.Config, r.Hostname) }

// registerOnce asks the agent for its address and registers the service.
// ctx ending abandons it at once, whatever call is in flight.
func (r *Registrar) registerOnce(ctx context.Context) (string, error) {
	addr, err := r.Agent.LANAddress(ctx)
	if err != nil {
		return "", err
	}
	reg := Registration(r.Config, r.Hostname, addr)
	checks := Checks(reg)
	for i, healthy := range probeHealthy(ctx, r.Config, addr) {
		if healthy && i < len(checks) {
			checks[i].Status = "passing"
		}
	}
	return addr, r.Agent.Register(ctx, reg)
}

// checksSummary says which checks the registration has, for the log: "grpc
// check", or "2 grpc checks (protos.Ping,protos.Echo)" for a list.
func checksSummary(cfg Config) string {
	if cfg.CheckType == "grpc" {
		if n := len(cfg.GRPCHealthServices()); n > 1 {
			return fmt.Sprintf("%d grpc checks (%s)", n, cfg.CheckEndpoint)
		}
	}
	return cfg.CheckType + " check"
}

// Register tries RegisterAttempts times with backoff and returns the last
// error if none succeeded.
func (r *Registrar) Register(ctx context.Context) error {
	var last error
	for attempt := 1; ; attempt++ {
		addr, err := r.registerOnce(ctx)
		if err == nil {
			r.Logf("registered %s (service %s at %s:%d, %s every %s)", r.ID(), r.Config.AppName, addr, r.Config.AppPort, checksSummary(r.Config), r.Config.CheckInterval)
			return nil
		}
		last = err
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt >= r.Config.RegisterAttempts {
			return fmt.Errorf("giving up after %d attempts: %w", attempt, last)
		}
		r.Logf("retrying %d/%d: %v", attempt, r.Config.RegisterAttempts, err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(r.Backoff(attempt)):
		}
	}
}

// Watch re-registers the service whenever the agent has lost it, until ctx
// ends; a call in flight then is abandoned, so Watch returns at once. It logs
// only changes of state.
func (r *Registrar) Watch(ctx context.Context) {
	ticker := time.NewTicker(r.WatchEvery)
	defer ticker.Stop()
	var lastProblem string
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		err := r.Agent.Registered(ctx, r.ID())
		if errors.Is(err, errNotRegistered) {
			addr, regErr := r.registerOnce(ctx)
			if regErr == nil {
				r.Logf("re-registered %s at %s:%d: the agent had lost it", r.ID(), addr, r.Config.AppPort)
				lastProblem = ""
				continue
			}
			err = fmt.Errorf("re-registering: %w", regErr)
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			if lastProblem != "" {
				r.Logf("agent reachable again and %s still registered", r.ID())
				lastProblem = ""
			}
			continue
		}
		if err.Error() != lastProblem {
			r.Logf("registration check failed, will retry every %s: %v", r.WatchEvery, err)
			lastProblem = err.Error()
		}
	}
}

// Deregister removes the service from the agent. It runs after Watch's
// context has ended, so it has its own: the agent's timeout bounds it.
func (r *Registrar) Deregister() error {
	if err := r.Agent.Deregister(context.Background(), r.ID()); err != nil {
		return fmt.Errorf("deregistering %s: %w", r.ID(), err)
	}
	r.Logf("deregistered %s", r.ID())
	return nil
}
