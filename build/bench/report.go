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

// Markdown renders the results table.
func (b *Bench) Markdown() string {
	var w strings.Builder
	fmt.Fprintf(&w, "# Benchmark results\n\n")
	cpus := clientCPUs
	if cpus == "" {
		cpus = "no limit"
	}
	fmt.Fprintf(&w, "Measured %s on %d cores by `make bench`: the same load generator (`grpc_client -c 50 -connections 4`, %s per run, in a container on the compose network, CPUs: %s) for every path, %d interleaved rounds, medians shown.\n\n",
		b.Started.UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), b.Duration, cpus, b.Rounds)
	fmt.Fprintf(&w, "| path | calls/s | p50 ms | p99 ms | failed | vs direct |\n|---|---|---|---|---|---|\n")
	direct := median(b.Paths[0].Runs, rps)
	for _, p := range b.Paths {
		r := median(p.Runs, rps)
		failed := 0
		for _, run := range p.Runs {
			failed += run.Failed
		}
		fmt.Fprintf(&w, "| %s | %.0f | %.2f | %.2f | %d | %.2fx |\n", p.Name, r,
			median(p.Runs, func(s loadclient.Summary) float64 { return s.P50Ms }),
			median(p.Runs, func(s loadclient.Summary) float64 { return s.P99Ms }), failed, r/direct)
	}
	fmt.Fprintf(&w, "\nPer round (calls/s):")
	for _, p := range b.Paths {
		var rs []string
		for _, r := range p.Runs {
			rs = append(rs, fmt.Sprintf("%.0f", r.CallsPerSecond))
		}
		fmt.Fprintf(&w, " %s: %s;", p.Name, strings.Join(rs, ", "))
	}
	fmt.Fprintf(&w, "\n\nWhere the CPU time went, per call (medians of the rounds; the machine column is every core's busy time, including the kernel's network work, which no container is charged for):\n\n")
	fmt.Fprintf(&w, "| path | client | load-balancer container | replica container(s) | whole machine |\n|---|---|---|---|---|\n")
	for _, p := range b.Paths {
		fmt.Fprintf(&w, "| %s | %s | %s | %s | %s |\n", p.Name,
			medianCPU(p.CPU, func(c CPUPerCall) time.Duration { return c.Client }),
			medianCPU(p.CPU, func(c CPUPerCall) time.Duration { return c.LB }),
			medianCPU(p.CPU, func(c CPUPerCall) time.Duration { return c.Replicas }),
			medianCPU(p.CPU, func(c CPUPerCall) time.Duration { return c.Machine }))
	}
	fmt.Fprintf(&w, "\n| measure | value |\n|---|---|\n")
	fmt.Fprintf(&w, "| LB/direct ratio (1 replica) | %.2f |\n", median(b.Paths[1].Runs, rps)/direct)
	fmt.Fprintf(&w, "| LB/direct ratio (3 replicas) | %.2f |\n", median(b.Paths[2].Runs, rps)/direct)
	fmt.Fprintf(&w, "| new replica: server listening -> first routed call, p50 (%d scale-ups) | %s |\n", len(b.FirstRouted), stats.Percentile(b.FirstRouted, 0.5).Round(time.Millisecond))
	p95 := stats.Percentile(b.FirstRouted, 0.95)
	fmt.Fprintf(&w, "| new replica: server listening -> first routed call, p95 | %s (%s) |\n", p95.Round(time.Millisecond), withinTarget(p95, FirstRoutedTarget))
	fmt.Fprintf(&w, "| failed calls while scaling 2 -> 5 -> 2 under load | %d of %d |\n", b.ScaleLoad.Failed, b.ScaleLoad.Calls)
	var mem []string
	sums := map[string][]float64{}
	for _, m := range b.Memory {
		sums[m.Service] = append(sums[m.Service], m.MiB)
	}
	for svc, v := range sums {
		mem = append(mem, fmt.Sprintf("%s %.0f MiB", svc, v[0]))
	}
	sort.Strings(mem)
	fmt.Fprintf(&w, "| idle memory per container | %s |\n", strings.Join(mem, ", "))
	var sizes []string
	for image, n := range b.ImageSizes {
		sizes = append(sizes, fmt.Sprintf("%s %.0f MB", image, float64(n)/1e6))
	}
	sort.Strings(sizes)
	fmt.Fprintf(&w, "| image sizes | %s |\n", strings.Join(sizes, ", "))
	fmt.Fprintf(&w, "\nEach scale-up, from the new replica's server listening (medians in the last row):\n\n")
	fmt.Fprintf(&w, "| scale-up | registered in Consul | nginx reloaded with it | first routed call |\n|---|---|---|---|\n")
	var registered, reloaded []time.Duration
	for i, st := range b.RoutingSteps {
		registered, reloaded = append(registered, st.Registered), append(reloaded, st.LBReloaded)
		fmt.Fprintf(&w, "| %d | +%s | +%s | +%s |\n", i+1, st.Registered.Round(time.Millisecond),
			st.LBReloaded.Round(time.Millisecond), st.FirstCall.Round(time.Millisecond))
	}
	fmt.Fprintf(&w, "| median | +%s | +%s | +%s |\n", stats.Percentile(registered, 0.5).Round(time.Millisecond),
		stats.Percentile(reloaded, 0.5).Round(time.Millisecond), stats.Percentile(b.FirstRouted, 0.5).Round(time.Millisecond))
	fmt.Fprintf(&w, "\n![calls per second and failures during scale 2 -> 5 -> 2](scale-event.png)\n")
	return w.String()
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
