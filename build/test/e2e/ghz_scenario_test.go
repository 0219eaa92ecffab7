//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/ghzload"
)

// closingMessage ends the error of a call whose connection closed under it
// in grpc-go v1.34.0 (ErrConnClosing).
const closingMessage = "desc = transport is closing"

// ghzScaleDuration is how long ghz runs: longer than scaling 2 -> 5 -> 2 ->
// 5 takes here (about a minute), which the scenario checks.
const ghzScaleDuration = 100 * time.Second

// scalingUnderGhz scales 2 -> 5 -> 2 -> 5 while ghz, a load generator that
// does not retry calls a GOAWAY refused (it is built on grpc-go 1.34; see
// build/test/ghzload and build/test/goaway, which proves it surfaces them), runs at
// unlimited rate: 50 calls in flight over 4 connections. It counts the
// engine's reloads from the load balancer's log and the failed calls
// between them.
//   - HAProxy: zero failed calls. Its reload soft-stops the old worker,
//     which answers what it has accepted and closes its connections only
//     once they are idle.
//   - nginx: an old worker ends each client connection with one GOAWAY that
//     names the last stream it took, then closes it, so calls the client
//     sent in that window fail at a client that does not retry them. They
//     are counted per reload and reported; every failure must be one of
//     those two ("the connection is draining", "transport is closing"),
//     nothing else.
func scalingUnderGhz(t *testing.T, d *Deployment) {
	d.ScaleTo(t, 2)
	lb := d.ContainerIDs("load-balancer")[0]
	cfg := ghzload.Config{
		Ghz:         filepath.Join(d.root, "bin", "ghz"),
		Proto:       filepath.Join(d.root, "protos", "api.proto"),
		Target:      lbAddr,
		Concurrency: 50,
		Connections: 4,
		Duration:    ghzScaleDuration,
	}
	started := time.Now()
	wait := startGhz(cfg, ghzScaleDuration+2*time.Minute)
	time.Sleep(3 * time.Second) // ghz's connections are up and busy
	for _, n := range []int{5, 2, 5} {
		hosts := d.ScaleTo(t, n)
		d.routedTo(t, 30*time.Second, hosts)
		fmt.Printf("scaled to %d under ghz: %v (%s in)\n", n, hosts, time.Since(started).Round(time.Second))
	}
	if scaled := time.Now(); scaled.After(started.Add(ghzScaleDuration)) {
		t.Fatalf("scaling took %s, longer than ghz's %s run: raise ghzScaleDuration", scaled.Sub(started).Round(time.Second), ghzScaleDuration)
	}
	d.requireGhzThroughChanges(t, lb, started, wait, "scaling 2 -> 5 -> 2 -> 5", 3)
	d.ScaleTo(t, 3)
}

// startGhz runs ghz with cfg in the background; the function it returns
// waits for its report.
func startGhz(cfg ghzload.Config, timeout time.Duration) func() (*ghzload.Report, error) {
	type result struct {
		rep *ghzload.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		rep, _, err := ghzload.Run(ctx, cfg)
		done <- result{rep, err}
	}()
	return func() (*ghzload.Report, error) {
		r := <-done
		return r.rep, r.err
	}
}

// requireGhzThroughChanges waits for ghz's report and checks its failed
// calls against the engine's changes of servers since started (nginx:
// reloads; HAProxy: Runtime API), at least minChanges of them, as
// scalingUnderGhz explains: none may fail with HAProxy, and with nginx only
// the engine's scaleFailures (a reload's GOAWAY racing the call), counted
// per change.
func (d *Deployment) requireGhzThroughChanges(t *testing.T, lb string, started time.Time, wait func() (*ghzload.Report, error), what string, minChanges int) {
	t.Helper()
	rep, err := wait()
	if err != nil {
		t.Fatalf("ghz: %v", err)
	}
	var reloads []time.Time
	for _, l := range d.Logs(lb, started) {
		if strings.Contains(l.Text, d.engine.reloadedPrefix()) {
			reloads = append(reloads, l.At)
		}
	}
	s := ghzload.Summarize(rep, reloads...)
	perReload := make([]int, 0, len(reloads))
	for _, w := range s.Windows[1:] {
		perReload = append(perReload, w.Failed)
	}
	fmt.Printf("LB_ENGINE=%s, %s under ghz (%.0f calls/s): %d of %d calls failed over %d changes of servers (nginx: reloads; HAProxy: Runtime API); failed calls after each: %v; errors: %v\n",
		d.engine.name, what, s.CallsPerSecond, s.Failed, s.Calls, len(reloads), perReload, s.Errors)
	if len(reloads) < minChanges {
		t.Fatalf("the load balancer logged %d changes of servers while %s, expected at least %d (one per scale step)", len(reloads), what, minChanges)
	}
	if s.Calls == 0 || !s.DetailsComplete {
		t.Fatalf("ghz made %d calls, with per-call details complete: %v", s.Calls, s.DetailsComplete)
	}
	// Only the engine's scaleFailures may fail (none for HAProxy; for
	// nginx, a reload's GOAWAY and close racing the call).
	other := s.Failed
	for _, m := range d.engine.scaleFailures {
		other -= s.Matching(m)
	}
	if other != 0 && len(d.engine.scaleFailures) == 0 {
		t.Fatalf("%s: expected no failed call at a client that does not retry, received %d: %v", d.engine.name, s.Failed, s.Errors)
	}
	if other != 0 {
		t.Fatalf("%s: expected only %q failures (a change of servers racing the call), received %d others: %v", d.engine.name, d.engine.scaleFailures, other, s.Errors)
	}
}
