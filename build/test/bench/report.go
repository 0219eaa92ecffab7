package main

import (
	"fmt"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/grpc-lb/nginx-consul/grpc_client/loadclient"
	"github.com/grpc-lb/nginx-consul/grpc_client/stats"
)

// Markdown renders the results tables.
func (b *Bench) Markdown() string {
	var w strings.Builder
	fmt.Fprintf(&w, "# Benchmark results\n\n")
	cpus := clientCPUs
	if cpus == "" {
		cpus = "no limit"
	}
	fmt.Fprintf(&w, "Measured %s on %d cores by `make bench`: the same load generator (`grpc_client -c 50` or `-c 200`, `-connections 4`, %s per run, in a container on the compose network, CPUs: %s) for every path, %d interleaved rounds (the engines take turns going first), medians shown. CPU per call: the load generator's own count, the load balancer's and the replicas' containers (cgroups), and the whole machine (every core's busy time, including the kernel's network work, which no container is charged for).\n\n",
		b.Started.UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), b.Duration, cpus, b.Rounds)
	fmt.Fprintf(&w, "| path | in flight | calls/s | p50 ms | p99 ms | failed | vs direct | client µs/call | LB µs/call | replicas µs/call | machine µs/call |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
	for _, p := range append(append(append([]*Path{}, b.Paths...), b.NginxBefore...), b.HAProxyMultiplexed...) {
		fmt.Fprintf(&w, "| %s | %d | %.0f | %.2f | %.2f | %d | %.2fx | %s | %s | %s | %s |\n", p.Name, p.Concurrency, median(p.Runs, rps),
			median(p.Runs, func(s loadclient.Summary) float64 { return s.P50Ms }),
			median(p.Runs, func(s loadclient.Summary) float64 { return s.P99Ms }), failedOf(p), b.vsDirect(p),
			medianCPU(p.CPU, func(c CPUPerCall) time.Duration { return c.Client }),
			medianCPU(p.CPU, func(c CPUPerCall) time.Duration { return c.LB }),
			medianCPU(p.CPU, func(c CPUPerCall) time.Duration { return c.Replicas }),
			medianCPU(p.CPU, func(c CPUPerCall) time.Duration { return c.Machine }))
	}
	fmt.Fprintf(&w, "\nPer round (calls/s):")
	for _, p := range append(append(append([]*Path{}, b.Paths...), b.NginxBefore...), b.HAProxyMultiplexed...) {
		var rs []string
		for _, r := range p.Runs {
			rs = append(rs, fmt.Sprintf("%.0f", r.CallsPerSecond))
		}
		fmt.Fprintf(&w, " %s at %d: %s;", p.Name, p.Concurrency, strings.Join(rs, ", "))
	}
	fmt.Fprintf(&w, "\n\n| ratio, same run | 50 in flight | 200 in flight |\n|---|---|---|\n")
	for _, r := range []struct {
		what string
		f    func(c int) string
	}{
		{"nginx -> 3, now / before #10 (calls/s)", func(c int) string {
			return ratio(b.rate(b.find("nginx", 3, c)), b.rate(b.findBefore(c)))
		}},
		{"nginx -> 3, at this many in flight / at 50 (calls/s)", func(c int) string {
			return ratio(b.rate(b.find("nginx", 3, c)), b.rate(b.find("nginx", 3, 50)))
		}},
		{"HAProxy -> 3 / nginx -> 3 (calls/s)", func(c int) string {
			return ratio(b.rate(b.find("haproxy", 3, c)), b.rate(b.find("nginx", 3, c)))
		}},
		{"HAProxy -> 3 / nginx -> 3 (load balancer CPU per call)", func(c int) string {
			return ratio(b.lbCPU(b.find("haproxy", 3, c)), b.lbCPU(b.find("nginx", 3, c)))
		}},
		{"HAProxy -> 3, one call per backend connection / multiplexed, before #19 (calls/s)", func(c int) string {
			return ratio(b.rate(b.find("haproxy", 3, c)), b.rate(findConcurrency(b.HAProxyMultiplexed, c)))
		}},
	} {
		fmt.Fprintf(&w, "| %s | %s | %s |\n", r.what, r.f(50), r.f(200))
	}
	if len(b.Routes) > 0 {
		fmt.Fprintf(&w, "\nRouting by gRPC service: each engine -> 1 replica with hello_server's line of the deployment's declaration (1 Consul service) and with %d more Consul services declared, each with its own gRPC service and upstream and no instance (idle), in rounds of their own (order swapped each round), medians:\n\n", IdleServices)
		fmt.Fprintf(&w, "| engine, in flight | calls/s, 1 routed service | calls/s, %d | %d / 1 (calls/s) | LB µs/call, 1 | LB µs/call, %d | per round, 1 | per round, %d |\n|---|---|---|---|---|---|---|---|\n", 1+IdleServices, 1+IdleServices, 1+IdleServices, 1+IdleServices)
		for _, e := range Engines {
			for _, c := range Concurrencies {
				one, many := b.findRoutes(e, 1, c), b.findRoutes(e, 1+IdleServices, c)
				if one == nil || many == nil {
					continue
				}
				fmt.Fprintf(&w, "| %s, %d | %.0f | %.0f | %s | %.1f | %.1f | %s | %s |\n", e, c, b.rate(one), b.rate(many), ratio(b.rate(many), b.rate(one)),
					b.lbCPU(one), b.lbCPU(many), perRound(one), perRound(many))
			}
		}
	}
	fmt.Fprintf(&w, "\n| measure | nginx | HAProxy |\n|---|---|---|\n")
	perEngine := func(f func(e string) string) string { return f("nginx") + " | " + f("haproxy") }
	fmt.Fprintf(&w, "| new replica: server listening -> first routed call, p50 | %s |\n", perEngine(func(e string) string {
		return fmt.Sprintf("%s (%d scale-ups)", stats.Percentile(b.FirstRouted[e], 0.5).Round(time.Millisecond), len(b.FirstRouted[e]))
	}))
	fmt.Fprintf(&w, "| new replica: server listening -> first routed call, p95 | %s |\n", perEngine(func(e string) string {
		p95 := stats.Percentile(b.FirstRouted[e], 0.95)
		return fmt.Sprintf("%s (%s)", p95.Round(time.Millisecond), withinTarget(p95, FirstRoutedTarget))
	}))
	fmt.Fprintf(&w, "| ghz (no transparent retries), scale 2 -> 5 -> 2 -> 5, unlimited rate, 50 in flight on 4 connections: failed calls | %s |\n", perEngine(func(e string) string {
		g := b.GhzScale[e]
		return fmt.Sprintf("%d of %d (%.0f calls/s)", g.Failed, g.Calls, g.CallsPerSecond)
	}))
	fmt.Fprintf(&w, "| the same: changes of servers (nginx: reloads; HAProxy: Runtime API), and failed calls after each | %s |\n", perEngine(func(e string) string {
		g := b.GhzScale[e]
		return fmt.Sprintf("%d changes: %v", len(g.PerReload), g.PerReload)
	}))
	fmt.Fprintf(&w, "| the same: failed calls per change | %s |\n", perEngine(func(e string) string {
		g := b.GhzScale[e]
		if len(g.PerReload) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(g.Failed)/float64(len(g.PerReload)))
	}))
	fmt.Fprintf(&w, "| grpc_client (a current grpc-go), scale 2 -> 5 -> 2 at 2000 calls/s: failed calls | %d of %d | - |\n", b.ScaleLoad.Failed, b.ScaleLoad.Calls)
	var mem []string
	sums := map[string][]float64{}
	for _, m := range b.Memory {
		sums[m.Service] = append(sums[m.Service], m.MiB)
	}
	for svc, v := range sums {
		mem = append(mem, fmt.Sprintf("%s %.0f MiB", svc, v[0]))
	}
	sort.Strings(mem)
	fmt.Fprintf(&w, "\n| measure | value |\n|---|---|\n")
	fmt.Fprintf(&w, "| idle memory per container (nginx engine) | %s |\n", strings.Join(mem, ", "))
	var sizes []string
	for image, n := range b.ImageSizes {
		sizes = append(sizes, fmt.Sprintf("%s %.0f MB", image, float64(n)/1e6))
	}
	sort.Strings(sizes)
	fmt.Fprintf(&w, "| image sizes | %s |\n", strings.Join(sizes, ", "))
	for _, e := range Engines {
		fmt.Fprintf(&w, "\nEach scale-up with %s, from the new replica's server listening (medians in the last row):\n\n", e)
		fmt.Fprintf(&w, "| scale-up | registered in Consul | %s routes to it (logged) | first routed call |\n|---|---|---|---|\n", e)
		var registered, reloaded []time.Duration
		for i, st := range b.RoutingSteps[e] {
			registered, reloaded = append(registered, st.Registered), append(reloaded, st.LBReloaded)
			fmt.Fprintf(&w, "| %d | +%s | +%s | +%s |\n", i+1, st.Registered.Round(time.Millisecond),
				st.LBReloaded.Round(time.Millisecond), st.FirstCall.Round(time.Millisecond))
		}
		fmt.Fprintf(&w, "| median | +%s | +%s | +%s |\n", stats.Percentile(registered, 0.5).Round(time.Millisecond),
			stats.Percentile(reloaded, 0.5).Round(time.Millisecond), stats.Percentile(b.FirstRouted[e], 0.5).Round(time.Millisecond))
	}
	fmt.Fprintf(&w, "\n![calls per second and failures during scale 2 -> 5 -> 2 through nginx](scale-event.png)\n")
	return w.String()
}

// find is the path through engine to n replicas at c in flight (nil if
// none was measured).
func (b *Bench) find(engine string, n, c int) *Path {
	for _, p := range b.Paths {
		if p.Engine == engine && p.Replicas == n && p.Concurrency == c {
			return p
		}
	}
	return nil
}

// findRoutes is the routes step's path through engine with services
// routed, at c in flight (nil if none).
func (b *Bench) findRoutes(engine string, services, c int) *Path {
	name := fmt.Sprintf("client -> %s -> 1 replica, %d routed service(s)", engine, services)
	for _, p := range b.Routes {
		if p.Name == name && p.Concurrency == c {
			return p
		}
	}
	return nil
}

// perRound is p's calls/s in each round, comma-separated.
func perRound(p *Path) string {
	var rs []string
	for _, r := range p.Runs {
		rs = append(rs, fmt.Sprintf("%.0f", r.CallsPerSecond))
	}
	return strings.Join(rs, ", ")
}

// findBefore is nginx -> 3 with the settings before #10, at c in flight.
func (b *Bench) findBefore(c int) *Path { return findConcurrency(b.NginxBefore, c) }

// findConcurrency is the path of paths at c in flight (nil if none).
func findConcurrency(paths []*Path, c int) *Path {
	for _, p := range paths {
		if p.Concurrency == c {
			return p
		}
	}
	return nil
}

// vsDirect is p's calls/s over the direct path's at the same concurrency.
func (b *Bench) vsDirect(p *Path) float64 {
	d := b.rate(b.find("", 1, p.Concurrency))
	if d == 0 {
		return 0
	}
	return b.rate(p) / d
}

// rate is p's median calls/s, 0 for a path not measured.
func (b *Bench) rate(p *Path) float64 {
	if p == nil || len(p.Runs) == 0 {
		return 0
	}
	return median(p.Runs, rps)
}

// lbCPU is p's median load-balancer CPU per call, in microseconds.
func (b *Bench) lbCPU(p *Path) float64 {
	if p == nil || len(p.CPU) == 0 {
		return 0
	}
	v := make([]time.Duration, len(p.CPU))
	for i, c := range p.CPU {
		v[i] = c.LB
	}
	return float64(stats.Median(v)) / float64(time.Microsecond)
}

// ratio is a/b as "1.23x", or "-" when either is missing.
func ratio(a, b float64) string {
	if a == 0 || b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2fx", a/b)
}

func failedOf(p *Path) int {
	failed := 0
	for _, run := range p.Runs {
		failed += run.Failed
	}
	return failed
}

func rps(s loadclient.Summary) float64 { return s.CallsPerSecond }

// medianCPU is the median of one part's CPU per call, in microseconds.
func medianCPU(runs []CPUPerCall, part func(CPUPerCall) time.Duration) string {
	if len(runs) == 0 {
		return "-"
	}
	v := make([]time.Duration, len(runs))
	for i, r := range runs {
		v[i] = part(r)
	}
	return fmt.Sprintf("%.1f µs", float64(stats.Median(v))/float64(time.Microsecond))
}

// FirstRoutedTarget is the README's promise for a new replica: routed within
// this long of its server listening, at p95.
const FirstRoutedTarget = 2 * time.Second

// withinTarget says whether d meets target, in the report's words.
func withinTarget(d, target time.Duration) string {
	if d <= target {
		return fmt.Sprintf("within the %s target", target)
	}
	return fmt.Sprintf("OVER the %s target", target)
}
