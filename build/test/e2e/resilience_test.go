//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestResilience runs the zero-downtime and fault scenarios, each under load
// through :5000, against a deployment of each load-balancer engine (nginx,
// then HAProxy; E2E_ENGINES may choose), with Compose v2 (what most users
// have) unless E2E_COMPOSE leaves it out.
func TestResilience(t *testing.T) {
	c := composeUnderTest(t, newestComposeVersion(composeVersions(t)))
	for _, e := range enginesUnderTest(t) {
		t.Run("LB_ENGINE="+e.name, func(t *testing.T) {
			resilience(t, NewEngineDeployment(t, c, e))
		})
	}
}

// resilience brings d up, runs every scenario against it and tears it down.
func resilience(t *testing.T, d *Deployment) {
	// The replicas of both services (echo_server's protos.Echo is the
	// transparency checks' service) run grpc-go's default flow control, as a
	// stock server (TestREADME runs the project's default).
	t.Setenv("GRPC_SERVER_FLOW_CONTROL", defaultFlowControl)
	// Registered before make up, so a failed start still dumps the logs and
	// tears down.
	t.Cleanup(func() {
		if t.Failed() {
			d.DumpLogs()
		}
		if out, err := d.run(5*time.Minute, "make", "down"); err != nil {
			t.Errorf("make down during cleanup: %v\n%s", err, out)
		}
	})
	d.Step("R0: LB_ENGINE=%s make up (replicas in grpc-go's default flow control), scale hello_server to 3", d.engine.name)
	d.mustRun(45*time.Minute, "make", "up")
	d.requireEngine(t)
	d.routedTo(t, time.Minute, d.ScaleTo(t, 3))
	d.requireFlowControl(t, defaultFlowControl)

	scenarios := []struct {
		name string
		run  func(*testing.T, *Deployment)
	}{
		{"R1: scaling 2 -> 5 -> 2 -> 5 under load, zero failed calls", scalingUnderLoad},
		{"RJ: scaling 2 -> 5 -> 2 -> 5 under ghz (no transparent retries) at unlimited rate: HAProxy zero failed calls, nginx's counted per reload", scalingUnderGhz},
		{"RK: after the scaling runs, 6 x 2,000 large calls to one replica, stuck and canceled streams: no failed or slow call", largeCallsAfterScaling},
		{"RL: two services: echo_server 2 -> 5 -> 2 under load of both, zero failed calls, each service on its own replicas; echo_server's token takes no Ping call", twoServices},
		{"R2: a replica stopping drains in order, zero failed calls", scaleDownDrains},
		{"R3: 30 s of sustained load, zero failed calls", sustainedLoad},
		{"R4: the engine reloads under load, same and new config, zero failed calls", engineReloads},
		{"R5: SIGKILL one replica under load", killReplica},
		{"R6: one Consul server stops under load", oneConsulServerDown},
		{"R7: all Consul servers stop for 1 min under load; meanwhile every call shape passes the LB unchanged", allConsulServersDown},
		{"R8: the engine's master and consul-template killed inside the LB", killLBProcesses},
		{"R9: an instance whose address does not answer", deadInstance},
		{"RA: grpcurl, grpc-health-probe and an unknown service through :5000", grpcTools},
		{"RB: instances at a bad address or port (the replicas' own token) are skipped and logged; scaling still routes", badInstancesSkipped},
		{"RC: a wrong program priority or LB_ENGINE: exit 2 with a clear error, nothing started", badSettings},
		{"RD: docker stop of every kind of container under load: exit 0 by itself, in order, within the grace period", stopEveryKind},
		{"RE: no token: registering hello_server from the host or the compose network is refused; anonymous reads nothing", noTokenRefused},
		{"RF: the load balancer's and consul-template's tokens, and the UI's, cannot register hello_server", otherTokensRefused},
		{"RG: an agent without the gossip key cannot join", gossipKeyRequired},
		{"RH: Consul RPC refuses a client without a certificate from the project's CA", rpcNeedsCertificate},
		{"RI: no secret in git, docker inspect or an image's history; .secrets is closed to other users", secretsNotExposed},
	}
	// Every scenario runs and reports, also after one has failed: the
	// deployment is brought back to its starting state and the suite goes on.
	var report []string
	for _, sc := range scenarios {
		start := time.Now()
		ran := false
		passed := t.Run(sc.name[:2], func(t *testing.T) {
			ran = true
			d.Step("%s (LB_ENGINE=%s)", sc.name, d.engine.name)
			// The deployment's helpers fail the test they are given: this subtest.
			sub := *d
			sub.t = t
			sc.run(t, &sub)
		})
		if !ran { // left out by go test -run
			report = append(report, "SKIP "+sc.name+" (not selected by -run)")
			continue
		}
		result := map[bool]string{true: "PASS", false: "FAIL"}[passed]
		report = append(report, fmt.Sprintf("%s %s (%s)", result, sc.name, time.Since(start).Round(time.Second)))
		if !passed {
			d.Step("restoring the deployment after %s failed", sc.name[:2])
			d.restore(t)
		}
	}
	fmt.Printf("\n=== scenarios, LB_ENGINE=%s\n%s\n", d.engine.name, strings.Join(report, "\n"))
}

// restore brings the deployment back to the state every scenario starts
// from: every container running (a scenario may have stopped a Consul server
// or killed a replica), 3 healthy hello_server replicas, all of them routed,
// and one echo_server replica.
func (d *Deployment) restore(t *testing.T) {
	t.Helper()
	d.Compose(10*time.Minute, "up", "-d", "--no-recreate", "--scale", "hello_server=3", "--scale", echoService+"=1")
	d.mustRun(5*time.Minute, "build/scripts/wait-healthy.sh", "180")
	waitConsulHealthy(t, consulClient(t), 2*time.Minute)
	d.routedTo(t, time.Minute, d.waitReplicas(t, 3))
}
