package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/grpc-lb/nginx-consul/grpc_client/stats"
)

// measureFirstRouted scales 1 -> 2 and back ScaleUps times under a light
// load with each engine, and times each new replica from its server's
// "serving on" log line to the first call it answered through the load
// balancer.
func (b *Bench) measureFirstRouted() error {
	b.FirstRouted = map[string][]time.Duration{}
	b.RoutingSteps = map[string][]RoutingSteps{}
	for _, e := range Engines {
		if err := b.useEngine(e, 1); err != nil {
			return err
		}
		if err := b.measureFirstRoutedNow(); err != nil {
			return fmt.Errorf("%s: %w", e, err)
		}
		d := b.FirstRouted[e]
		logf("%s: listening -> first routed call over %d scale-ups: p50 %s, p95 %s (%s)", e, len(d),
			stats.Percentile(d, 0.5).Round(time.Millisecond), stats.Percentile(d, 0.95).Round(time.Millisecond),
			withinTarget(stats.Percentile(d, 0.95), FirstRoutedTarget))
	}
	return nil
}

// measureFirstRoutedNow is measureFirstRouted with the engine in use.
func (b *Bench) measureFirstRoutedNow() error {
	for i := 1; i <= b.ScaleUps; i++ {
		before, err := b.replicaIDs()
		if err != nil {
			return err
		}
		cmd, out, err := clientStart("bench-first-routed", "load-balancer", 5000, "-c=4", "-rate=400")
		if err != nil {
			return err
		}
		if err := b.scale(2); err != nil {
			return err
		}
		// Give the new replica time to be routed even when it is slow.
		time.Sleep(10 * time.Second)
		s, err := clientStop("bench-first-routed", cmd, out)
		if err != nil {
			return err
		}
		after, err := b.replicaIDs()
		if err != nil {
			return err
		}
		newID := ""
		for _, id := range after {
			if !contains(before, id) {
				newID = id
			}
		}
		if newID == "" {
			return fmt.Errorf("no new replica after scaling to 2")
		}
		host, listening, err := serverListening(newID)
		if err != nil {
			return err
		}
		first, ok := s.FirstReplyUnixMs[host]
		if !ok {
			return fmt.Errorf("new replica %s got no call within 10 s of being healthy (replicas %v)", host, s.ByReplica)
		}
		d := time.UnixMilli(first).Sub(listening)
		b.FirstRouted[b.engine] = append(b.FirstRouted[b.engine], d)
		steps, err := b.routingSteps(newID, listening)
		if err != nil {
			return err
		}
		steps.FirstCall = d
		b.RoutingSteps[b.engine] = append(b.RoutingSteps[b.engine], steps)
		logf("%s scale-up %d: %s listening -> registered %s, LB reloaded %s, first routed call %s", b.engine, i, host,
			steps.Registered.Round(time.Millisecond), steps.LBReloaded.Round(time.Millisecond), d.Round(time.Millisecond))
		// Scale down the way users do: compose stops a replica gracefully.
		if err := b.scale(1); err != nil {
			return err
		}
	}
	return nil
}

// RoutingSteps splits one scale-up's time from "serving on": when the
// registrar registered the replica, when the engine reloaded with it, and when it
// answered its first call through the LB.
type RoutingSteps struct {
	Registered, LBReloaded, FirstCall time.Duration
}

// routingSteps reads the registrar's "registered" line in the new replica's
// log and the load balancer's first reload with 2 replicas after listening.
func (b *Bench) routingSteps(replica string, listening time.Time) (RoutingSteps, error) {
	var steps RoutingSteps
	logs, err := run("docker", "logs", "-t", replica)
	if err != nil {
		return steps, err
	}
	registered, err := firstStamp(logs, "registrar: ", "registered ", listening.Add(-time.Minute))
	if err != nil {
		return steps, fmt.Errorf("replica %s: %w", replica, err)
	}
	lb, err := b.serviceIDs("load-balancer")
	if err != nil || len(lb) != 1 {
		return steps, fmt.Errorf("load-balancer container %v: %v", lb, err)
	}
	lbLogs, err := run("docker", "logs", "-t", "--since", listening.Add(-time.Second).UTC().Format(time.RFC3339Nano), lb[0])
	if err != nil {
		return steps, err
	}
	reloaded, err := firstStamp(lbLogs, routedLog(b.engine), " 2 hello_server replica(s)", listening)
	if err != nil {
		return steps, fmt.Errorf("load balancer: %w", err)
	}
	steps.Registered, steps.LBReloaded = registered.Sub(listening), reloaded.Sub(listening)
	return steps, nil
}

// firstStamp is docker's timestamp of the first log line after since that
// contains both prefix and text.
func firstStamp(logs, prefix, text string, since time.Time) (time.Time, error) {
	for _, line := range strings.Split(logs, "\n") {
		stamp, rest, ok := strings.Cut(line, " ")
		if !ok || !strings.Contains(rest, prefix) || !strings.Contains(rest, text) {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if err == nil && at.After(since) {
			return at, nil
		}
	}
	return time.Time{}, fmt.Errorf("no log line with %q and %q after %s", prefix, text, since.Format(time.RFC3339Nano))
}

func (b *Bench) replicaIDs() ([]string, error) {
	out, err := b.compose("ps", "-q", "hello_server")
	return strings.Fields(out), err
}

// serverListening reads the replica's hostname and when its grpc_server
// logged "serving on", by docker's log timestamp.
func serverListening(id string) (string, time.Time, error) {
	host, err := run("docker", "inspect", "--format", "{{.Config.Hostname}}", id)
	if err != nil {
		return "", time.Time{}, err
	}
	logs, err := run("docker", "logs", "-t", id)
	if err != nil {
		return "", time.Time{}, err
	}
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, "grpc_server: ") && strings.Contains(line, "serving on") {
			stamp, _, _ := strings.Cut(line, " ")
			at, err := time.Parse(time.RFC3339Nano, stamp)
			return strings.TrimSpace(host), at, err
		}
	}
	return "", time.Time{}, fmt.Errorf("replica %s never logged serving on", id)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
