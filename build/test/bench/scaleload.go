package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/ghzload"
)

// measureScaleLoad counts failed calls while scaling 2 -> 5 -> 2 under
// load through nginx, and keeps the per-second timeline for the plot.
func (b *Bench) measureScaleLoad() error {
	if err := b.useEngine("nginx", 2); err != nil {
		return err
	}
	cmd, out, err := clientStart("bench-scale-load", "load-balancer", 5000, "-c=50", "-rate=2000")
	if err != nil {
		return err
	}
	time.Sleep(5 * time.Second)
	for _, n := range []int{5, 2} {
		b.ScaleEvents = append(b.ScaleEvents, ScaleEvent{At: time.Now(), Replicas: n})
		if err := b.scale(n); err != nil {
			return err
		}
		time.Sleep(5 * time.Second)
	}
	s, err := clientStop("bench-scale-load", cmd, out)
	if err != nil {
		return err
	}
	b.ScaleLoad = s
	logf("scale 2 -> 5 -> 2 under load: %d calls, %d failed", s.Calls, s.Failed)
	return nil
}

// GhzScale is one engine's scale 2 -> 5 -> 2 -> 5 under ghz.
type GhzScale struct {
	Calls, Failed  int
	CallsPerSecond float64
	// PerReload is the failed calls that ended between each reload and the
	// next (or the end).
	PerReload []int
	Errors    map[string]int
}

// ghzScaleDuration covers scaling 2 -> 5 -> 2 -> 5 here: about a minute on
// a quiet machine, 2m6s on 2026-12-06, when 90 s ended a make bench.
const ghzScaleDuration = 3 * time.Minute

// measureGhzScale scales 2 -> 5 -> 2 -> 5 with each engine while ghz
// (v0.93.0 on grpc-go 1.34, which does not retry a call a GOAWAY refused)
// runs from this host through the published port at unlimited rate, 50 calls
// in flight over 4 connections, and counts the failed calls after each
// reload the load balancer logged.
func (b *Bench) measureGhzScale() error {
	b.GhzScale = map[string]GhzScale{}
	for _, e := range Engines {
		if err := b.useEngine(e, 2); err != nil {
			return err
		}
		lb, err := b.serviceIDs("load-balancer")
		if err != nil || len(lb) != 1 {
			return fmt.Errorf("load-balancer container %v: %v", lb, err)
		}
		cfg := ghzload.Config{Ghz: b.Ghz, Proto: "protos/api.proto", Target: b.LBAddr,
			Concurrency: 50, Connections: 4, Duration: ghzScaleDuration}
		type result struct {
			rep *ghzload.Report
			err error
		}
		done := make(chan result, 1)
		started := time.Now()
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), ghzScaleDuration+2*time.Minute)
			defer cancel()
			rep, _, err := ghzload.Run(ctx, cfg)
			done <- result{rep, err}
		}()
		time.Sleep(3 * time.Second)
		var scaled []string
		for _, n := range []int{5, 2, 5} {
			scaled = append(scaled, fmt.Sprintf("to %d at +%s", n, time.Since(started).Round(time.Millisecond)))
			if err := b.useEngine(e, n); err != nil {
				return err
			}
		}
		if time.Since(started) > ghzScaleDuration {
			return fmt.Errorf("%s: scaling took %s, longer than ghz's %s", e, time.Since(started).Round(time.Second), ghzScaleDuration)
		}
		r := <-done
		if r.err != nil {
			return fmt.Errorf("%s: %w", e, r.err)
		}
		logs, err := run("docker", "logs", "-t", "--since", started.UTC().Format(time.RFC3339Nano), lb[0])
		if err != nil {
			return err
		}
		var reloads []time.Time
		for _, line := range strings.Split(logs, "\n") {
			stamp, rest, ok := strings.Cut(line, " ")
			if !ok || !strings.Contains(rest, routedLog(e)) {
				continue
			}
			if at, err := time.Parse(time.RFC3339Nano, stamp); err == nil {
				reloads = append(reloads, at)
			}
		}
		var at []string
		for _, r := range reloads {
			at = append(at, "+"+r.Sub(started).Round(time.Millisecond).String())
		}
		logf("%s: scaled %s; the load balancer's changes at %s", e, strings.Join(scaled, ", "), strings.Join(at, ", "))
		s := ghzload.Summarize(r.rep, reloads...)
		g := GhzScale{Calls: s.Calls, Failed: s.Failed, CallsPerSecond: s.CallsPerSecond, Errors: s.Errors}
		for _, w := range s.Windows[1:] {
			g.PerReload = append(g.PerReload, w.Failed)
		}
		b.GhzScale[e] = g
		logf("%s: scale 2 -> 5 -> 2 -> 5 under ghz: %d of %d calls failed over %d reloads, per reload %v; %v",
			e, g.Failed, g.Calls, len(g.PerReload), g.PerReload, g.Errors)
	}
	return nil
}

// routedLog starts the load balancer's log line for a change of servers
// that took effect: nginx's reload, or HAProxy's change through its Runtime
// API (or its reload, when that failed).
func routedLog(engine string) string {
	if engine == "haproxy" {
		return "reload-haproxy: haproxy routes to"
	}
	return "reload-nginx: reloaded nginx with"
}
