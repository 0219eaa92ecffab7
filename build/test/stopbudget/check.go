package stopbudget

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/grpc-lb/nginx-consul/build/supervisorconf"
	"github.com/grpc-lb/nginx-consul/registrar/registration"
)

// Margin is what the stop needs beyond the programs' own budgets: docker's
// SIGTERM reaching the entrypoint through Docker's init, the entrypoint's
// `supervisord ctl` calls (tens of milliseconds each), and `ctl shutdown`,
// after which supervisord v0.7.3 sleeps 1 s before it exits 0
// (supervisor.go, Shutdown).
const Margin = 2 * time.Second

// ConsulAgentLeave is how long a client agent's leave took, measured in the
// deployment (about 3 s); its stopwaitsecs must be at least twice that.
const ConsulAgentLeave = 3 * time.Second

// ConsulServerEntrypoint is the Consul servers' compose entrypoint.
var ConsulServerEntrypoint = []string{"/etc/consul/run-server.sh"}

// ACLBootstrapEntrypoint is the one-shot consul-acl-bootstrap job's.
var ACLBootstrapEntrypoint = []string{"/etc/consul/acl-bootstrap.sh"}

// ACLBootstrapStop is how long the bootstrap job takes to end on TERM: it is
// a shell under Docker's init (init: true), which does not ignore TERM the
// way a PID 1 would, and its consul commands are killed with it.
const ACLBootstrapStop = time.Second

// Line is one step of a service's stop: a program (or process) and the
// longest it may take.
type Line struct {
	What   string
	Budget time.Duration
	Why    string
}

// Plan is how a service's stop adds up.
type Plan struct {
	Service string
	Grace   time.Duration
	Lines   []Line
}

// Total is the sum of the lines plus Margin.
func (p Plan) Total() time.Duration {
	total := Margin
	for _, l := range p.Lines {
		total += l.Budget
	}
	return total
}

// Check returns every service's plan and every way the tree breaks its
// budget: a stop that may outlast the grace period, a program whose
// stopwaitsecs is shorter than what it was derived from, a setting missing.
func Check(tree *Tree) ([]Plan, error) {
	var errs []error
	var plans []Plan
	names := make([]string, 0, len(tree.Services))
	for name := range tree.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	checked := map[string]bool{}
	for _, name := range names {
		s := tree.Services[name]
		plan := Plan{Service: name, Grace: s.Grace}
		switch {
		case slices.Equal(s.Entrypoint, ACLBootstrapEntrypoint):
			if !s.Init {
				errs = append(errs, fmt.Errorf("service %s: init is not true: the script would be PID 1, which ignores TERM, and docker stop would wait the whole grace period", name))
			}
			plan.Lines = []Line{{"acl-bootstrap.sh", ACLBootstrapStop, "a shell under Docker's init: TERM ends it"}}
		case slices.Equal(s.Entrypoint, ConsulServerEntrypoint):
			plan.Lines = []Line{{"consul agent (server)", tree.ConsulServerStop,
				"run-server.sh stop_secs: SIGKILL after it"}}
		case s.Entrypoint == nil && s.Dockerfile != "":
			// An image with engines runs one of them: one plan per engine,
			// each with the programs of that engine and none of the others'.
			for _, engine := range tree.Engines(name) {
				plan := Plan{Service: name, Grace: s.Grace}
				if engine != "" {
					plan.Service = fmt.Sprintf("%s (LB_ENGINE=%s)", name, engine)
				}
				order, err := tree.StopOrder(name, engine)
				if err != nil {
					errs = append(errs, fmt.Errorf("service %s: %w", plan.Service, err))
					continue
				}
				for _, p := range order {
					if !checked[p.Name] {
						errs = append(errs, checkProgram(tree, p)...)
						checked[p.Name] = true
					}
					plan.Lines = append(plan.Lines, Line{p.Name, p.StopWait + tree.GuardSlack,
						fmt.Sprintf("stopwaitsecs %s + entrypoint guard %s", p.StopWait, tree.GuardSlack)})
				}
				errs = append(errs, plan.check(name)...)
				plans = append(plans, plan)
			}
			continue
		default:
			errs = append(errs, fmt.Errorf("service %s: no stop budget is known for entrypoint %q with build.dockerfile %q: accepted is the image's supervisord-entrypoint (with a build.dockerfile), %q or %q", name, s.Entrypoint, s.Dockerfile, ConsulServerEntrypoint, ACLBootstrapEntrypoint))
		}
		errs = append(errs, plan.check(name)...)
		plans = append(plans, plan)
	}
	return plans, errors.Join(errs...)
}

// Engines are the load-balancer engines of the service's programs, sorted;
// [""] for an image without engines.
func (t *Tree) Engines(service string) []string {
	engines := map[string]bool{}
	for _, name := range t.Services[service].Programs {
		if engine := t.Programs[name].Engine; engine != "" {
			engines[engine] = true
		}
	}
	if len(engines) == 0 {
		return []string{""}
	}
	return slices.Sorted(maps.Keys(engines))
}

// StopOrder is the order in which the service's entrypoint stops its
// programs with engine running: supervisorconf.StopOrder, by their
// priorities.
func (t *Tree) StopOrder(service, engine string) ([]Program, error) {
	var programs []Program
	for _, name := range t.Services[service].Programs {
		programs = append(programs, t.Programs[name])
	}
	return supervisorconf.StopOrder(programs, engine)
}

// check fails a plan whose stop may outlast the service's grace period.
func (p Plan) check(service string) []error {
	if total := p.Total(); total > p.Grace {
		return []error{fmt.Errorf("service %s: its stop may take %s (%s), more than its stop_grace_period %s in %s",
			p.Service, total, p.sum(), p.Grace, ComposeFile)}
	}
	return nil
}

// checkProgram checks one program's settings and, where its stopwaitsecs is
// derived from something else, the derivation.
func checkProgram(tree *Tree, p Program) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("program %s (%s): %s", p.Name, p.File, fmt.Sprintf(format, args...)))
	}
	if len(p.StopSignals) != 1 {
		// supervisord's default is an immediate SIGKILL; with several it
		// waits stopwaitsecs after each.
		bad("stopsignal=%q: accepted is exactly one signal", strings.Join(p.StopSignals, " "))
	}
	if !p.HasStopWait {
		bad("stopwaitsecs is not set: accepted is an explicit whole number of seconds (supervisord's default 10 would be a budget nobody wrote down)")
	}
	need := func(min time.Duration, why string) {
		if p.StopWait < min {
			bad("stopwaitsecs=%d is less than %s (%s): supervisord would SIGKILL it before it is done", int(p.StopWait/time.Second), min, why)
		}
	}
	switch p.Name {
	case "registrar":
		need(registration.StopBudget, fmt.Sprintf("registration.StopBudget: AgentTimeout %s for the deregistration + 500ms", registration.AgentTimeout))
	case "grpc-server":
		drain, err1 := commandDuration(p.Command, "drain")
		shutdown, err2 := commandDuration(p.Command, "shutdown-timeout")
		if err := errors.Join(err1, err2); err != nil {
			bad("%v", err)
			break
		}
		need(drain+shutdown+time.Second, fmt.Sprintf("-drain %s + -shutdown-timeout %s + 1s to exit", drain, shutdown))
	case "nginx":
		need(tree.NginxDrain+tree.NginxFast+time.Second, fmt.Sprintf("run-nginx.sh stop_drain_secs %s + stop_fast_secs %s + 1s", tree.NginxDrain, tree.NginxFast))
		if !p.KillAsGroup {
			bad("killasgroup is not true: supervisord's SIGKILL would reach only run-nginx.sh and leave nginx's master and workers running")
		}
		if len(p.StopSignals) == 1 && p.StopSignals[0] != "QUIT" {
			bad("stopsignal=%s: accepted is QUIT, nginx's graceful stop (run-nginx.sh passes it on)", p.StopSignals[0])
		}
	case "haproxy":
		if !p.KillAsGroup {
			bad("killasgroup is not true: supervisord's SIGKILL would reach only HAProxy's master and leave its workers running")
		}
		if len(p.StopSignals) == 1 && p.StopSignals[0] != "USR1" {
			bad("stopsignal=%s: accepted is USR1, HAProxy's soft stop (calls in flight finish; TERM would cut them)", p.StopSignals[0])
		}
	case "consul-agent":
		need(2*ConsulAgentLeave, fmt.Sprintf("twice the measured leave of %s", ConsulAgentLeave))
	case "consul-template":
		if len(p.StopSignals) == 1 && p.StopSignals[0] != "INT" {
			bad("stopsignal=%s: accepted is INT (consul-template ignores TERM)", p.StopSignals[0])
		}
	}
	return errs
}

// commandDuration is the value of -name=DURATION in a command line.
func commandDuration(command, name string) (time.Duration, error) {
	m := regexp.MustCompile(`(?:^|\s)--?` + regexp.QuoteMeta(name) + `=(\S+)`).FindStringSubmatch(command)
	if m == nil {
		return 0, fmt.Errorf("command %q does not set -%s=DURATION: the budget is derived from it", command, name)
	}
	d, err := time.ParseDuration(m[1])
	if err != nil {
		return 0, fmt.Errorf("command %q: -%s=%q is not a duration", command, name, m[1])
	}
	return d, nil
}

// sum is the plan as an addition, e.g. "registrar 4s + ... + margin 2s".
func (p Plan) sum() string {
	var parts []string
	for _, l := range p.Lines {
		parts = append(parts, fmt.Sprintf("%s %s", l.What, l.Budget))
	}
	return strings.Join(append(parts, fmt.Sprintf("margin %s", Margin)), " + ")
}

// Report is the plans as a table, one block per service.
func Report(plans []Plan) string {
	var b strings.Builder
	for _, p := range plans {
		fmt.Fprintf(&b, "%s: stop_grace_period %s\n", p.Service, p.Grace)
		for _, l := range p.Lines {
			fmt.Fprintf(&b, "  %-22s %4s  %s\n", l.What, l.Budget, l.Why)
		}
		fmt.Fprintf(&b, "  %-22s %4s  %s\n", "margin", Margin, "signal delivery, ctl calls, exits")
		fmt.Fprintf(&b, "  %-22s %4s  of %s\n", "total", p.Total(), p.Grace)
	}
	return b.String()
}
