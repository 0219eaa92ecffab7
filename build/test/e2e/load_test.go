//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/grpc_client/loadclient"
)

// BackgroundLoad is a grpc_client load run that goes on while a scenario
// changes the deployment.
type BackgroundLoad struct {
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan error
}

// StartLoad starts the client against the load balancer until Stop; args add e.g. -c and -rate.
func (d *Deployment) StartLoad(t *testing.T, args ...string) *BackgroundLoad {
	t.Helper()
	l := &BackgroundLoad{done: make(chan error, 1)}
	l.cmd = exec.Command(d.client, append([]string{"-port=" + lbPort, "-json", "-duration=1h"}, args...)...)
	l.cmd.Stdout, l.cmd.Stderr = &l.stdout, &l.stderr
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { l.done <- l.cmd.Wait() }()
	t.Cleanup(func() { _ = l.cmd.Process.Kill() })
	return l
}

// Stop ends the run (SIGINT: no new calls, calls in flight finish) and
// returns its summary.
func (l *BackgroundLoad) Stop(t *testing.T) loadclient.Summary {
	t.Helper()
	_ = l.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-l.done:
	case <-time.After(time.Minute):
		_ = l.cmd.Process.Kill()
		t.Fatalf("load client did not stop within a minute; stderr:\n%s", l.stderr.String())
	}
	var s loadclient.Summary
	if err := json.Unmarshal(l.stdout.Bytes(), &s); err != nil {
		t.Fatalf("load client: no JSON summary (%v); stdout:\n%s\nstderr:\n%s", err, l.stdout.String(), l.stderr.String())
	}
	fmt.Printf("load: %d calls, %d ok, %d failed, %.0f calls/s, p99 %.1f ms, codes %v, replicas %v\n",
		s.Calls, s.OK, s.Failed, s.CallsPerSecond, s.P99Ms, s.Codes, s.ByReplica)
	return s
}

// requireNoFailures fails the test with the first failures when any call failed.
func requireNoFailures(t *testing.T, s loadclient.Summary, scenario string) {
	t.Helper()
	fmt.Printf("%s: %d calls, %d failed, %.0f calls/s, p99 %.1f ms\n", scenario, s.Calls, s.Failed, s.CallsPerSecond, s.P99Ms)
	if s.Calls == 0 {
		t.Fatalf("%s: the load client made no calls", scenario)
	}
	if s.Failed != 0 {
		t.Fatalf("%s: expected 0 failed calls, received %d of %d (codes %v); first failures: %v",
			scenario, s.Failed, s.Calls, s.Codes, s.Failures[:min(5, len(s.Failures))])
	}
}

// failedStartedAfter counts the failed calls that started after at. The
// summary keeps the first 1000 failures only; those it left out are counted
// too, since when they started is unknown.
func failedStartedAfter(s loadclient.Summary, at time.Time) int {
	n := s.Failed - len(s.Failures)
	for _, f := range s.Failures {
		if time.UnixMilli(f.StartUnixMs).After(at) {
			n++
		}
	}
	return n
}
