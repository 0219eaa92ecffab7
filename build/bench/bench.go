package main

import (
	"fmt"
	"os"
	"time"

	"github.com/grpc-lb/nginx-consul/build/testenv"
	"github.com/grpc-lb/nginx-consul/grpc_client/loadclient"
	"github.com/grpc-lb/nginx-consul/grpc_client/stats"
)

// Path is one way calls reach a replica.
type Path struct {
	Name string
	Runs []loadclient.Summary
	CPU  []CPUPerCall // one per run
}

// Bench holds every measurement of one run.
type Bench struct {
	Compose  []string
	Rounds   int
	Duration time.Duration
	ScaleUps int

	Paths        []*Path         // direct, LB -> 1, LB -> 3
	FirstRouted  []time.Duration // server listening -> first routed call, per scale-up
	RoutingSteps []RoutingSteps  // the same scale-ups, step by step
	ScaleLoad    loadclient.Summary
	ScaleEvents  []ScaleEvent // when each scale command started, for the plot
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
	logf("make up")
	if out, err := run("make", "up"); err != nil {
		return fmt.Errorf("make up: %v\n%s", err, out)
	}
	if !keep {
		defer func() {
			logf("make down")
			_, _ = run("make", "down")
		}()
	}
	steps := []struct {
		name string
		f    func() error
	}{
		{"idle memory and image sizes", b.measureMemory},
		{"throughput: direct, LB -> 1, LB -> 3", b.measurePaths},
		{"time from listening to first routed call", b.measureFirstRouted},
		{"failed calls while scaling 2 -> 5 -> 2 under load", b.measureScaleLoad},
	}
	for _, s := range steps {
		logf("%s", s.name)
		if err := s.f(); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// measurePaths interleaves the three paths in every round, so a noisy
// moment on the shared machine hits all of them alike.
func (b *Bench) measurePaths() error {
	direct, lb1, lb3 := &Path{Name: "client -> replica (direct)"}, &Path{Name: "client -> nginx -> 1 replica"}, &Path{Name: "client -> nginx -> 3 replicas"}
	b.Paths = []*Path{direct, lb1, lb3}
	load := []string{fmt.Sprintf("-duration=%s", b.Duration), "-c=50", "-connections=4"}
	for round := 1; round <= b.Rounds; round++ {
		if err := b.scale(1); err != nil {
			return err
		}
		ips, err := b.replicaIPs()
		if err != nil || len(ips) != 1 {
			return fmt.Errorf("replica addresses %v: %v", ips, err)
		}
		if err := b.measureRun(round, direct, ips[0], 7777, load); err != nil {
			return err
		}
		if err := b.measureRun(round, lb1, "load-balancer", 5000, load); err != nil {
			return err
		}
		if err := b.scale(3); err != nil {
			return err
		}
		if err := waitRouted(3); err != nil {
			return err
		}
		if err := b.measureRun(round, lb3, "load-balancer", 5000, load); err != nil {
			return err
		}
	}
	return b.scale(1)
}

// measureRun runs the load generator against host:port once and records the
// summary and where the CPU time went.
func (b *Bench) measureRun(round int, path *Path, host string, port int, load []string) error {
	lb, err := b.serviceIDs("load-balancer")
	if err != nil || len(lb) != 1 {
		return fmt.Errorf("load-balancer container %v: %v", lb, err)
	}
	replicas, err := b.serviceIDs("hello_server")
	if err != nil {
		return err
	}
	before, err := takeCPUSnapshot(lb[0], replicas)
	if err != nil {
		return err
	}
	s, err := clientRun(host, port, load...)
	if err != nil {
		return err
	}
	after, err := takeCPUSnapshot(lb[0], replicas)
	if err != nil {
		return err
	}
	cpu := perCall(before, after, s.CPUSeconds, s.Calls)
	logf("round %d %s: %.0f calls/s, p50 %.2f ms, p99 %.2f ms, failed %d; CPU per call: client %s, LB %s, replicas %s, machine %s",
		round, path.Name, s.CallsPerSecond, s.P50Ms, s.P99Ms, s.Failed, cpu.Client, cpu.LB, cpu.Replicas, cpu.Machine)
	path.Runs = append(path.Runs, s)
	path.CPU = append(path.CPU, cpu)
	return nil
}

// waitRouted waits until calls through the LB reach n replicas.
func waitRouted(n int) error {
	return testenv.Poll(30*time.Second, 250*time.Millisecond, func() error {
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
