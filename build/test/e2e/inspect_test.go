//go:build e2e

package e2e

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// What the suite reads from inside the containers, to check the state it
// claims rather than the commands it sent.

// processes lists the pids of the container's processes whose command line
// (arguments joined by spaces) starts with prefix.
func (d *Deployment) processes(container, prefix string) []string {
	d.t.Helper()
	out, err := d.run(time.Minute, "docker", "exec", container, "sh", "-c",
		`for p in /proc/[0-9]*; do printf '%s %s\n' "${p#/proc/}" "$(tr '\0' ' ' < $p/cmdline 2>/dev/null)"; done`)
	if err != nil {
		d.t.Fatalf("listing the processes of %s: %v\n%s", container, err, out)
	}
	return pidsWithPrefix(out, prefix)
}

// pidsWithPrefix picks, from "pid cmdline" lines, the pids whose command
// line starts with prefix, sorted.
func pidsWithPrefix(listing, prefix string) []string {
	var pids []string
	for _, line := range strings.Split(listing, "\n") {
		pid, cmdline, ok := strings.Cut(line, " ")
		if ok && pid != "" && strings.HasPrefix(cmdline, prefix) {
			pids = append(pids, pid)
		}
	}
	slices.Sort(pids)
	return pids
}

// ContainerIP is the container's address on the compose network.
func (d *Deployment) ContainerIP(id string) string {
	d.t.Helper()
	return d.Docker("inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id)
}

// renderedUpstream lists the servers of the file consul-template rendered
// for the engine, as address:port.
func (d *Deployment) renderedUpstream(lb string) ([]string, error) {
	out, err := d.run(time.Minute, "docker", "exec", lb, "cat", d.engine.rendered)
	if err != nil {
		return nil, fmt.Errorf("reading the rendered config: %v: %s", err, out)
	}
	return d.engine.parseRendered(out), nil
}

// servingUpstream lists the servers that the engine's running workers route to:
// the load balancer's :8080/upstream is answered by the workers of the
// config in force, from the upstream they were started with.
func (d *Deployment) servingUpstream(lb string) ([]string, error) {
	out, err := d.run(time.Minute, "docker", "exec", lb, "wget", "-q", "-O", "-", "http://127.0.0.1:8080/upstream")
	if err != nil {
		return nil, fmt.Errorf("GET :8080/upstream in the load balancer: %v: %s", err, out)
	}
	servers := strings.Fields(out)
	slices.Sort(servers)
	return servers, nil
}

// upstreamHas checks that servers (rendered or serving) include addr, or,
// with want false, that they do not.
func upstreamHas(servers []string, addr string, want bool) error {
	if slices.Contains(servers, addr) != want {
		if want {
			return fmt.Errorf("expected %s among the upstream servers, received %v", addr, servers)
		}
		return fmt.Errorf("expected %s gone from the upstream servers, received %v", addr, servers)
	}
	return nil
}

// requireUpstream waits until both the rendered file and the running
// workers have addr (want true) or no longer have it (want false).
func (d *Deployment) requireUpstream(lb, addr string, want bool, deadline time.Duration) {
	d.t.Helper()
	what := map[bool]string{true: "in", false: "gone from"}[want]
	eventually(d.t, deadline, fmt.Sprintf("%s %s %s's rendered and running upstream", addr, what, d.engine.name), func() error {
		rendered, err := d.renderedUpstream(lb)
		if err != nil {
			return err
		}
		if err := upstreamHas(rendered, addr, want); err != nil {
			return fmt.Errorf("rendered %s: %w", d.engine.rendered, err)
		}
		serving, err := d.servingUpstream(lb)
		if err != nil {
			return err
		}
		if err := upstreamHas(serving, addr, want); err != nil {
			return fmt.Errorf("running %s (:8080/upstream): %w", d.engine.name, err)
		}
		return nil
	})
}
