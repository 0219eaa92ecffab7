// Command bench measures the deployment: throughput and latency straight to
// a replica and through the load balancer, how soon a new replica gets
// calls, failed calls while scaling, memory and image sizes. It brings the
// deployment up with `make up`, writes results.md and scale-event.png into
// -out, and takes it down again. Run it with `make bench`.
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/grpc-lb/nginx-consul/build/supervisorconf"
	"github.com/grpc-lb/nginx-consul/build/test/compose"
)

func main() {
	// Run from the repository root (make bench): the Compose that make up
	// uses, and the engines of its build/config/lb/.
	engines, err := supervisorconf.RepoEngines(".")
	if err != nil || len(engines) == 0 {
		fmt.Fprintf(os.Stderr, "bench: no engine in %s (%v): run it from the repository root (make bench)\n", supervisorconf.RepoEnginesDir, err)
		os.Exit(1)
	}
	Engines = engines
	out := flag.String("out", "build/test/bench", "directory for results.md and scale-event.png")
	rounds := flag.Int("rounds", 3, "interleaved rounds of the three throughput paths")
	duration := flag.Duration("duration", 8*time.Second, "length of each throughput run")
	scaleUps := flag.Int("scale-ups", 10, "scale-ups timed for the time to first routed call, per engine")
	keep := flag.Bool("keep", false, "leave the deployment running afterwards")
	stepsFlag := flag.String("steps", "all", "the steps to run: all, or a comma-separated list of "+strings.Join(StepKeys(), ", ")+
		"; a partial run logs its measurements and writes no results.md")
	enginesFlag := flag.String("engines", strings.Join(Engines, ","),
		"the engines that first-routed, ghz-scale and scale-load measure in a partial run: one or more of "+strings.Join(Engines, ", ")+", comma-separated")
	flag.StringVar(&clientCPUs, "client-cpus", "1", "CPUs the load generator may use in the throughput runs (docker run --cpus; empty: no limit)")
	flag.Parse()
	if *rounds < 1 || *duration < time.Second || *scaleUps < 1 {
		fmt.Fprintln(os.Stderr, "bench: -rounds and -scale-ups must be at least 1, -duration at least 1s")
		os.Exit(2)
	}
	steps, err := ParseSteps(*stepsFlag)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	if *enginesFlag != strings.Join(Engines, ",") {
		engines, err = ParseEngines(*enginesFlag, steps)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: %v\n", err)
			os.Exit(2)
		}
		Engines = engines
	}
	c, err := compose.Find(".")
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
	port := os.Getenv("LB_PORT")
	if port == "" {
		port = "5000"
	}
	b := &Bench{Compose: c.Args, Rounds: *rounds, Duration: *duration, ScaleUps: *scaleUps,
		Ghz: filepath.Join("bin", "ghz"), LBAddr: "127.0.0.1:" + port, Steps: steps}
	if err := b.Run(*keep); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
	if steps != nil {
		fmt.Println("bench: a partial run (-steps): its measurements are in the log above; results.md is not written")
		return
	}
	md := filepath.Join(*out, "results.md")
	png := filepath.Join(*out, "scale-event.png")
	if err := os.WriteFile(md, []byte(b.Markdown()), 0o644); err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
	if err := b.Plot(png); err != nil {
		fmt.Fprintf(os.Stderr, "bench: plot: %v\n", err)
		os.Exit(1)
	}
	fmt.Print(b.Markdown())
	fmt.Printf("\nwrote %s and %s\n", md, png)
}
