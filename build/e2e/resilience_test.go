//go:build e2e

package e2e

import (
	"testing"
	"time"
)

// TestResilience runs the zero-downtime and fault scenarios against one
// deployment, each under load through :5000.
func TestResilience(t *testing.T) {
	d := NewDeployment(t)
	// The replicas also serve protos.Echo, the transparency checks' service.
	t.Setenv("GRPC_SERVER_ECHO", "true")
	d.Step("R0: make up (replicas with the Echo test service), scale to 3")
	d.mustRun(45*time.Minute, "make", "up")
	t.Cleanup(func() {
		if t.Failed() {
			d.DumpLogs()
		}
		if out, err := d.run(5*time.Minute, "make", "down"); err != nil {
			t.Errorf("make down during cleanup: %v\n%s", err, out)
		}
	})
	d.routedTo(t, time.Minute, d.ScaleTo(t, 3))

	scenarios := []struct {
		name string
		run  func(*testing.T, *Deployment)
	}{
		{"R1: scaling 2 -> 5 -> 2 -> 5 under load, zero failed calls", scalingUnderLoad},
		{"R2: a replica stopping drains in order, zero failed calls", scaleDownDrains},
		{"R3: 60 s of sustained load, zero failed calls", sustainedLoad},
		{"R4: nginx reloads under load, same and new config, zero failed calls", nginxReloads},
		{"R5: SIGKILL one replica under load", killReplica},
		{"R6: one Consul server stops under load", oneConsulServerDown},
		{"R7: all Consul servers stop for 2 min under load; meanwhile every call shape passes the LB unchanged", allConsulServersDown},
		{"R8: nginx and consul-template killed inside the LB", killLBProcesses},
		{"R9: an instance whose address does not answer", deadInstance},
		{"RA: grpcurl and grpc-health-probe through :5000", grpcTools},
		{"RB: an invalid render keeps nginx serving and consul-template running", invalidRender},
		{"RC: a wrong SUPERVISORD_STOP_ORDER: exit 2 with a clear error, nothing started", badStopOrder},
		{"RD: docker stop of every kind of container under load: exit 0 by itself, in order, within the grace period", stopEveryKind},
	}
	for _, sc := range scenarios {
		if t.Failed() {
			return
		}
		d.Step("%s", sc.name)
		start := time.Now()
		t.Run(sc.name[:2], func(t *testing.T) {
			// The deployment's helpers fail the test they are given: this subtest.
			sub := *d
			sub.t = t
			sc.run(t, &sub)
		})
		t.Logf("%s took %s", sc.name[:2], time.Since(start).Round(time.Second))
	}
}
