package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/grpc-lb/nginx-consul/build/routes"
	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// IdleServices is how many Consul services the routes step declares beside
// the deployment's own: 10 routed services, of which calls reach one.
const IdleServices = 9

// declarationInLB is the declaration of routes in the load balancer's
// image; consul-template reads it on every render and notices a change.
const declarationInLB = "/etc/grpc-lb/services.conf"

// measureRoutes measures each engine -> 1 replica with one declared Consul
// service (hello_server's line of the deployment's declaration; its
// echo_server line is left out for the step) against a declaration of 10 Consul
// services, 9 of them idle: declared, each with its own gRPC service,
// upstream or backend and route, and no instance. The engine's hot path
// picks the upstream by the call's gRPC service among all the routes and
// has each upstream's servers, so what an idle service adds to a call is
// there whether or not it has instances (neither engine checks health
// itself). Both declarations are measured in every round, their order
// swapped each round, the engines taking turns going first.
func (b *Bench) measureRoutes() error {
	own, err := os.ReadFile("build/config/services.conf")
	if err != nil {
		return err
	}
	declared, err := routes.Parse(strings.NewReader(string(own)), "build/config/services.conf")
	if err != nil {
		return err
	}
	// One routed service against ten: hello_server's line alone (the
	// deployment also declares echo_server), then it and the idle ones.
	one := ""
	for _, r := range declared {
		if r.ConsulService == "hello_server" {
			one = r.ConsulService + " " + strings.Join(r.GRPCServices, " ") + "\n"
		}
	}
	if one == "" {
		return fmt.Errorf("build/config/services.conf declares no hello_server, which the throughput runs call")
	}
	many := one
	for i := 1; i <= IdleServices; i++ {
		many += fmt.Sprintf("idle_%d bench.Idle%d\n", i, i)
	}
	if _, err := routes.Parse(strings.NewReader(many), "the routes step's declaration"); err != nil {
		return err
	}
	declarations := []struct {
		text     string
		services int
	}{{one, 1}, {many, 1 + IdleServices}}
	paths := map[string]*Path{}
	for _, e := range Engines {
		for _, d := range declarations {
			for _, c := range Concurrencies {
				p := &Path{Name: fmt.Sprintf("client -> %s -> 1 replica, %d routed service(s)", e, d.services), Engine: e, Replicas: 1, Concurrency: c}
				paths[fmt.Sprintf("%s/%d/%d", e, d.services, c)] = p
				b.Routes = append(b.Routes, p)
			}
		}
	}
	for round := 1; round <= b.Rounds; round++ {
		first := (round - 1) % len(Engines)
		for i := range Engines {
			e := Engines[(first+i)%len(Engines)]
			if err := b.useEngine(e, 1); err != nil {
				return err
			}
			for j := range declarations {
				d := declarations[(j+round-1)%len(declarations)]
				if err := b.declare(d.text, d.services); err != nil {
					return err
				}
				for _, c := range Concurrencies {
					if err := b.measureRun(round, paths[fmt.Sprintf("%s/%d/%d", e, d.services, c)], "load-balancer", 5000); err != nil {
						return err
					}
				}
			}
			if err := b.declare(string(own), 1); err != nil {
				return err
			}
		}
	}
	return nil
}

// declare writes text as the load balancer's declaration of routes and waits
// until the engine's running config routes the last idle service (services
// > 1) or none (services == 1), and calls reach the replica again.
func (b *Bench) declare(text string, services int) error {
	lb, err := b.serviceIDs("load-balancer")
	if err != nil || len(lb) != 1 {
		return fmt.Errorf("load-balancer container %v: %v", lb, err)
	}
	// Written beside it and renamed, so a render never reads half a file.
	script := `printf '%s' "$DECLARATION" >` + declarationInLB + `.new && mv ` + declarationInLB + `.new ` + declarationInLB
	if _, err := run("docker", "exec", "-u", "0", "-e", "DECLARATION="+text, lb[0], "sh", "-c", script); err != nil {
		return err
	}
	last := fmt.Sprintf("idle_%d", IdleServices)
	err = testenv.Poll(60*time.Second, 250*time.Millisecond, func() error {
		_, err := run("docker", "exec", lb[0], "wget", "-q", "-T", "2", "-O", "-", "http://127.0.0.1:8080/upstream/"+last)
		switch {
		case services > 1 && err != nil:
			return fmt.Errorf("the load balancer does not route %s yet: %v", last, err)
		case services == 1 && err == nil:
			return fmt.Errorf("the load balancer still routes %s", last)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("%d routed service(s): %w", services, err)
	}
	return waitRouted(1)
}
