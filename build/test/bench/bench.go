package main

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/grpc_client/loadclient"
	"github.com/grpc-lb/nginx-consul/grpc_client/stats"
)

// Engines are the load balancer's engines (LB_ENGINE): the folders of
// build/config/lb/ that hold a supervisord.conf, nginx (the default) first.
// main reads them (supervisorconf.RepoEngines).
var Engines []string

// Concurrencies are the calls in flight every throughput path is measured
// at: 50, and 200, where nginx needs more upstream connections than a small
// keepalive pool holds.
var Concurrencies = []int{50, 200}

// Path is one way calls reach the replicas, at one concurrency.
type Path struct {
	Name string
	// Engine is "" for the direct path.
	Engine      string
	Replicas    int
	Concurrency int
	Runs        []loadclient.Summary
	CPU         []CPUPerCall // one per run
}

// Bench holds every measurement of one run.
type Bench struct {
	Compose  []string
	Rounds   int
	Duration time.Duration
	ScaleUps int
	// Ghz is bin/ghz, for the failed calls per reload of a client that does
	// not retry transparently; LBAddr is the load balancer's published
	// address on this host, which it calls.
	Ghz, LBAddr string
	// Steps are the keys of the steps to run (StepKeys); nil runs them all.
	Steps map[string]bool

	// engine is the LB_ENGINE, and flowControl the replicas'
	// GRPC_SERVER_FLOW_CONTROL, every compose command runs with.
	engine, flowControl string

	Paths []*Path // direct, then each engine -> 1 and -> 3, at each concurrency
	// NginxBefore is nginx -> 3 replicas with the settings before issue
	// #10 (replicas with dynamic flow control, keepalive 64), measured in
	// the same rounds as the matching Paths.
	NginxBefore []*Path
	// HAProxyMultiplexed is HAProxy -> 3 replicas multiplexing calls on its
	// connections to them (haproxy.cfg without tune.h2.be.max-concurrent-streams
	// 1, as before issue #19), measured in the same rounds.
	HAProxyMultiplexed []*Path
	// Routes is each engine -> 1 replica with the deployment's declaration
	// of routes and with IdleServices more Consul services declared, in
	// rounds of their own.
	Routes       []*Path
	FirstRouted  map[string][]time.Duration // per engine: server listening -> first routed call, per scale-up
	RoutingSteps map[string][]RoutingSteps  // the same scale-ups, step by step
	ScaleLoad    loadclient.Summary
	ScaleEvents  []ScaleEvent // when each scale command started, for the plot
	GhzScale     map[string]GhzScale
	Memory       []ContainerMemory
	ImageSizes   map[string]int64
	Started      time.Time
}

// ScaleEvent marks a scale command on the plot.
type ScaleEvent struct {
	At       time.Time
	Replicas int
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

// Run brings the deployment up, measures, and takes it down unless keep.
func (b *Bench) Run(keep bool) error {
	b.Started = time.Now()
	b.engine, b.flowControl = "nginx", "static"
	logf("make up")
	if out, err := runEnv([]string{"LB_ENGINE=nginx", "GRPC_SERVER_FLOW_CONTROL=static"}, "make", "up"); err != nil {
		return fmt.Errorf("make up: %v\n%s", err, out)
	}
	if !keep {
		defer func() {
			logf("make down")
			_, _ = run("make", "down")
		}()
	}
	for _, s := range b.steps() {
		if b.Steps != nil && !b.Steps[s.key] {
			continue
		}
		logf("%s", s.name)
		if err := s.f(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return b.useEngine("nginx", 1)
}

// step is one part of the benchmark; key names it for -steps.
type step struct {
	key, name string
	f         func() error
}

func (b *Bench) steps() []step {
	return []step{
		{"memory", "idle memory and image sizes", b.measureMemory},
		{"paths", "throughput: direct, nginx and HAProxy -> 1 and -> 3, at 50 and 200 in flight; nginx before issue #10", b.measurePaths},
		{"routes", fmt.Sprintf("throughput: each engine -> 1 replica with 1 routed service against %d (%d idle)", 1+IdleServices, IdleServices), b.measureRoutes},
		{"first-routed", "time from listening to first routed call, per engine", b.measureFirstRouted},
		{"scale-load", "failed calls while scaling 2 -> 5 -> 2 under load (grpc_client, nginx)", b.measureScaleLoad},
		{"ghz-scale", "failed calls per reload while scaling 2 -> 5 -> 2 -> 5 under ghz, per engine", b.measureGhzScale},
	}
}

// StepKeys are the accepted values of -steps, in the order they run.
func StepKeys() []string {
	var keys []string
	for _, s := range (&Bench{}).steps() {
		keys = append(keys, s.key)
	}
	return keys
}

// ParseSteps reads -steps: "all", or a comma-separated list of StepKeys.
func ParseSteps(v string) (map[string]bool, error) {
	if v == "all" {
		return nil, nil
	}
	accepted := StepKeys()
	set := map[string]bool{}
	for _, k := range strings.Split(v, ",") {
		if !slices.Contains(accepted, k) {
			return nil, fmt.Errorf("-steps=%q is invalid: %q is not a step; accepted is all, or a comma-separated list of %s", v, k, strings.Join(accepted, ", "))
		}
		set[k] = true
	}
	return set, nil
}

// ParseEngines reads -engines, for a partial run (steps not nil) that
// leaves out the throughput paths, which compare both engines in each round.
func ParseEngines(v string, steps map[string]bool) ([]string, error) {
	if steps == nil || steps["paths"] {
		return nil, fmt.Errorf("-engines=%q needs -steps without paths: a full run and the throughput paths measure every engine (%s)", v, strings.Join(Engines, ", "))
	}
	var engines []string
	for _, e := range strings.Split(v, ",") {
		if !slices.Contains(Engines, e) || slices.Contains(engines, e) {
			return nil, fmt.Errorf("-engines=%q is invalid: accepted is one or more of %s, comma-separated, each once", v, strings.Join(Engines, ", "))
		}
		engines = append(engines, e)
	}
	return engines, nil
}

// measurePaths interleaves every path in every round, so a noisy moment on
// the shared machine hits all of them alike. The engines take turns going
// first.
func (b *Bench) measurePaths() error {
	path := func(name, engine string, replicas, c int) *Path {
		p := &Path{Name: name, Engine: engine, Replicas: replicas, Concurrency: c}
		b.Paths = append(b.Paths, p)
		return p
	}
	direct := map[int]*Path{}
	lb := map[string]map[int]*Path{}
	before := map[int]*Path{}
	multiplexed := map[int]*Path{}
	for _, c := range Concurrencies {
		direct[c] = path("client -> replica (direct)", "", 1, c)
	}
	for _, e := range Engines {
		for _, n := range []int{1, 3} {
			for _, c := range Concurrencies {
				key := fmt.Sprintf("%s/%d", e, n)
				if lb[key] == nil {
					lb[key] = map[int]*Path{}
				}
				lb[key][c] = path(fmt.Sprintf("client -> %s -> %d replica(s)", e, n), e, n, c)
			}
		}
	}
	for _, c := range Concurrencies {
		before[c] = &Path{Name: "client -> nginx -> 3 replicas, before #10 (dynamic flow control, keepalive 64)", Engine: "nginx", Replicas: 3, Concurrency: c}
		b.NginxBefore = append(b.NginxBefore, before[c])
		multiplexed[c] = &Path{Name: "client -> haproxy -> 3 replicas, calls multiplexed on backend connections (before #19)", Engine: "haproxy", Replicas: 3, Concurrency: c}
		b.HAProxyMultiplexed = append(b.HAProxyMultiplexed, multiplexed[c])
	}
	for round := 1; round <= b.Rounds; round++ {
		// Round r starts with engine r-1 (mod their number).
		first := (round - 1) % len(Engines)
		order := slices.Concat(Engines[first:], Engines[:first])
		if err := b.scale(1); err != nil {
			return err
		}
		ips, err := b.replicaIPs()
		if err != nil || len(ips) != 1 {
			return fmt.Errorf("replica addresses %v: %v", ips, err)
		}
		for _, c := range Concurrencies {
			if err := b.measureRun(round, direct[c], ips[0], 7777); err != nil {
				return err
			}
		}
		for _, e := range order {
			if err := b.useEngine(e, 1); err != nil {
				return err
			}
			for _, c := range Concurrencies {
				if err := b.measureRun(round, lb[e+"/1"][c], "load-balancer", 5000); err != nil {
					return err
				}
			}
		}
		// At 3 replicas in the opposite order: the engine in use stays.
		for i := len(order) - 1; i >= 0; i-- {
			e := order[i]
			if err := b.useEngine(e, 3); err != nil {
				return err
			}
			for _, c := range Concurrencies {
				if err := b.measureRun(round, lb[e+"/3"][c], "load-balancer", 5000); err != nil {
					return err
				}
			}
			if e == "nginx" {
				if err := b.measureNginxBefore(round, before); err != nil {
					return err
				}
			}
			if e == "haproxy" {
				if err := b.measureHAProxyMultiplexed(round, multiplexed); err != nil {
					return err
				}
			}
		}
	}
	return b.useEngine("nginx", 1)
}

// measureNginxBefore measures nginx -> 3 replicas with the settings before
// issue #10: the replicas recreated with -flow-control=dynamic, and the
// rendered upstream's keepalive set back to 64 (then nginx reloaded). It
// restores today's settings afterwards. consul-template would undo the
// keepalive on a render, so the file is checked again after the runs.
func (b *Bench) measureNginxBefore(round int, before map[int]*Path) error {
	if err := b.setFlowControl("dynamic", 3); err != nil {
		return err
	}
	if err := b.setNginxKeepalive(64); err != nil {
		return err
	}
	for _, c := range Concurrencies {
		if err := b.measureRun(round, before[c], "load-balancer", 5000); err != nil {
			return err
		}
	}
	if err := b.requireNginxKeepalive(64); err != nil {
		return fmt.Errorf("the runs of the settings before #10 are void: %w", err)
	}
	return b.setFlowControl("static", 3)
}

// measureHAProxyMultiplexed measures HAProxy -> 3 replicas with calls
// multiplexed on its backend connections: haproxy.cfg without its one-call
// limit, HAProxy reloaded; the production file is put back and HAProxy
// reloaded again afterwards.
func (b *Bench) measureHAProxyMultiplexed(round int, multiplexed map[int]*Path) error {
	if err := b.setHAProxyOneCallPerConnection(false); err != nil {
		return err
	}
	for _, c := range Concurrencies {
		if err := b.measureRun(round, multiplexed[c], "load-balancer", 5000); err != nil {
			return err
		}
	}
	return b.setHAProxyOneCallPerConnection(true)
}

// measureRun runs the load generator against host:port once, at the path's
// concurrency over 4 connections, and records the summary and where the
// CPU time went.
func (b *Bench) measureRun(round int, path *Path, host string, port int) error {
	lb, err := b.serviceIDs("load-balancer")
	if err != nil || len(lb) != 1 {
		return fmt.Errorf("load-balancer container %v: %v", lb, err)
	}
	replicas, err := b.serviceIDs("hello_server")
	if err != nil {
		return err
	}
	if len(replicas) != path.Replicas {
		return fmt.Errorf("%s: %d replicas running, expected %d", path.Name, len(replicas), path.Replicas)
	}
	before, err := takeCPUSnapshot(lb[0], replicas)
	if err != nil {
		return err
	}
	s, err := clientRun(host, port, fmt.Sprintf("-duration=%s", b.Duration), fmt.Sprintf("-c=%d", path.Concurrency), "-connections=4")
	if err != nil {
		return err
	}
	after, err := takeCPUSnapshot(lb[0], replicas)
	if err != nil {
		return err
	}
	cpu := perCall(before, after, s.CPUSeconds, s.Calls)
	logf("round %d %s, %d in flight: %.0f calls/s, p50 %.2f ms, p99 %.2f ms, failed %d; CPU per call: client %s, LB %s, replicas %s, machine %s",
		round, path.Name, path.Concurrency, s.CallsPerSecond, s.P50Ms, s.P99Ms, s.Failed, cpu.Client, cpu.LB, cpu.Replicas, cpu.Machine)
	path.Runs = append(path.Runs, s)
	path.CPU = append(path.CPU, cpu)
	return nil
}

// waitRouted waits until calls through the LB reach n replicas.
func waitRouted(n int) error {
	return testenv.Poll(60*time.Second, 250*time.Millisecond, func() error {
		s, err := clientRun("load-balancer", 5000, "-n=200", "-c=8")
		if err == nil && len(s.ByReplica) == n && s.Failed == 0 {
			return nil
		}
		return fmt.Errorf("calls reach %v, want %d replicas (err %v)", s.ByReplica, n, err)
	})
}

// median of the runs' values.
func median(runs []loadclient.Summary, value func(loadclient.Summary) float64) float64 {
	v := make([]float64, len(runs))
	for i, r := range runs {
		v[i] = value(r)
	}
	return stats.Median(v)
}
