//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
	"time"
)

// ContainerIDs lists the IDs of a compose service's containers.
func (d *Deployment) ContainerIDs(service string) []string {
	d.t.Helper()
	out, err := d.run(time.Minute, d.compose.Args[0], d.composeArgs("ps", "-q", service)...)
	if err != nil {
		d.t.Fatalf("%s ps -q %s: %v\n%s", d.compose, service, err, out)
	}
	return strings.Fields(out)
}

// Docker runs a docker command and returns its output.
func (d *Deployment) Docker(args ...string) string {
	d.t.Helper()
	return strings.TrimSpace(d.mustRun(5*time.Minute, "docker", args...))
}

// LogLine is one line of `docker logs -t`.
type LogLine struct {
	At   time.Time
	Text string
}

// Logs returns a container's log lines with docker's timestamps.
func (d *Deployment) Logs(id string, since time.Time) []LogLine {
	d.t.Helper()
	out, _ := d.run(time.Minute, "docker", "logs", "-t", "--since", since.UTC().Format(time.RFC3339Nano), id)
	var lines []LogLine
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		stamp, text, ok := strings.Cut(sc.Text(), " ")
		at, err := time.Parse(time.RFC3339Nano, stamp)
		if ok && err == nil {
			lines = append(lines, LogLine{At: at, Text: text})
		}
	}
	return lines
}

// firstLog finds the first line containing substr, or fails the test.
func firstLog(t *testing.T, lines []LogLine, substr string) time.Time {
	t.Helper()
	return firstLogWhere(t, lines, fmt.Sprintf("a log line containing %q", substr), func(text string) bool {
		return strings.Contains(text, substr)
	})
}

// firstLogWhere finds the first line that matches, or fails the test.
func firstLogWhere(t *testing.T, lines []LogLine, what string, matches func(string) bool) time.Time {
	t.Helper()
	for _, l := range lines {
		if matches(l.Text) {
			return l.At
		}
	}
	var all strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&all, "%s %s\n", l.At.Format("15:04:05.000"), l.Text)
	}
	t.Fatalf("expected %s; the logs:\n%s", what, all.String())
	return time.Time{}
}

// waitReplicas waits until n hello_server containers are running and healthy.
func (d *Deployment) waitReplicas(t *testing.T, n int) []string {
	t.Helper()
	return d.waitServiceReplicas(t, "hello_server", n)
}

// waitServiceReplicas waits until n containers of the compose service are
// running and healthy, and returns their hostnames.
func (d *Deployment) waitServiceReplicas(t *testing.T, service string, n int) []string {
	t.Helper()
	var hosts []string
	eventually(t, 2*time.Minute, fmt.Sprintf("%d healthy %s containers", n, service), func() error {
		ids := d.ContainerIDs(service)
		if len(ids) == 0 && n == 0 {
			hosts = nil
			return nil
		}
		out, err := d.run(time.Minute, "docker", append([]string{"inspect", "--format",
			"{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}} {{.Config.Hostname}}"}, ids...)...)
		if err != nil {
			return fmt.Errorf("docker inspect: %v: %s", err, out)
		}
		hosts = nil
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 3 && f[0] == "running" && f[1] == "healthy" {
				hosts = append(hosts, f[2])
			}
		}
		if len(hosts) != n {
			return fmt.Errorf("healthy %s containers: expected %d, received %d (%s)", service, n, len(hosts), strings.TrimSpace(out))
		}
		return nil
	})
	return hosts
}

// ScaleTo scales hello_server alone to n and waits for n healthy replicas.
func (d *Deployment) ScaleTo(t *testing.T, n int) []string {
	t.Helper()
	return d.ScaleServiceTo(t, "hello_server", n)
}

// ScaleServiceTo scales the compose service alone to n and waits for n
// healthy replicas.
func (d *Deployment) ScaleServiceTo(t *testing.T, service string, n int) []string {
	t.Helper()
	// Only this service, and not its dependencies: a plain `up` would also
	// start a Consul server or load balancer that a scenario stopped.
	d.Compose(10*time.Minute, "up", "-d", "--no-deps", "--no-recreate", "--scale", fmt.Sprintf("%s=%d", service, n), service)
	return d.waitServiceReplicas(t, service, n)
}

// routedTo waits until calls through :5000 reach every one of hosts.
func (d *Deployment) routedTo(t *testing.T, deadline time.Duration, hosts []string) {
	t.Helper()
	eventually(t, deadline, fmt.Sprintf("calls reach all of %v", hosts), func() error {
		s := d.Load(time.Minute, fmt.Sprintf("-n=%d", 40*len(hosts)), "-c=8")
		for _, h := range hosts {
			if s.ByReplica[h] == 0 {
				return fmt.Errorf("replica %s got no calls: %v", h, s.ByReplica)
			}
		}
		return nil
	})
}
