//go:build e2e

package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func scalingUnderLoad(t *testing.T, d *Deployment) {
	load := d.StartLoad(t, "-c=50", "-rate=2000")
	for _, n := range []int{2, 5, 2, 5} {
		hosts := d.ScaleTo(t, n)
		d.routedTo(t, 30*time.Second, hosts)
		fmt.Printf("scaled to %d: %v\n", n, hosts)
	}
	requireNoFailures(t, load.Stop(t), "scaling under load")
	d.ScaleTo(t, 3)
}

// scaleDownDrains stops one replica the way compose does (SIGTERM, then
// SIGKILL after the grace period) and checks, in the replica's and the load
// balancer's logs, that the drain happens in order: deregistered, then
// NOT_SERVING, then the LB stops routing to it, then the calls in flight
// finish, then it exits by itself within the grace period.
func scaleDownDrains(t *testing.T, d *Deployment) {
	ids := d.ContainerIDs("hello_server")
	victim := ids[0]
	host := d.Docker("inspect", "--format", "{{.Config.Hostname}}", victim)
	lb := d.ContainerIDs("load-balancer")[0]
	load := d.StartLoad(t, "-c=50", "-rate=2000")
	time.Sleep(2 * time.Second) // let the load reach every replica before the stop
	stopAt := time.Now()
	d.Docker("stop", "--time=30", victim)
	stopped := time.Since(stopAt)
	time.Sleep(2 * time.Second)
	requireNoFailures(t, load.Stop(t), "replica stop under load")

	logs := d.Logs(victim, stopAt.Add(-time.Second))
	lbLogs := d.Logs(lb, stopAt)
	deregistered := firstLog(t, logs, "deregistered hello_server-"+host)
	notServing := firstLog(t, logs, "shutdown 1/3: health NOT_SERVING")
	lbReloaded := firstLog(t, lbLogs, "reload-nginx: reloaded nginx with 2 hello_server replica(s)")
	graceful := firstLog(t, logs, "shutdown 3/3: graceful stop")
	completed := firstLog(t, logs, "stopped: all calls in flight completed")
	fmt.Printf("timeline after docker stop: deregistered +%s, NOT_SERVING +%s, LB reloaded without it +%s, graceful stop +%s, calls done +%s, container exited +%s\n",
		deregistered.Sub(stopAt).Round(time.Millisecond), notServing.Sub(stopAt).Round(time.Millisecond),
		lbReloaded.Sub(stopAt).Round(time.Millisecond), graceful.Sub(stopAt).Round(time.Millisecond),
		completed.Sub(stopAt).Round(time.Millisecond), stopped.Round(time.Millisecond))
	exited := stopAt.Add(stopped)
	// The order the issue asks for, each step strictly after the one before.
	steps := []struct {
		at   time.Time
		what string
	}{
		{deregistered, "1. deregistered from Consul"},
		{notServing, "2. health reports NOT_SERVING"},
		{lbReloaded, "3. the LB stops routing to it"},
		{completed, "4. calls in flight finish"},
		{exited, "5. it exits"},
	}
	for i := 1; i < len(steps); i++ {
		if !steps[i-1].at.Before(steps[i].at) {
			t.Errorf("order: expected %q (%s) before %q (%s)", steps[i-1].what, steps[i-1].at.Format("15:04:05.000"),
				steps[i].what, steps[i].at.Format("15:04:05.000"))
		}
	}
	// The server keeps accepting calls until nginx no longer sends it any.
	if !lbReloaded.Before(graceful) {
		t.Errorf("order: the LB stopped routing (%s) after the server stopped accepting calls (%s)",
			lbReloaded.Format("15:04:05.000"), graceful.Format("15:04:05.000"))
	}
	if code := d.Docker("inspect", "--format", "{{.State.ExitCode}} {{.State.OOMKilled}}", victim); strings.HasPrefix(code, "137") {
		t.Errorf("the replica was SIGKILLed at the end of the grace period (exit %s) instead of exiting by itself", code)
	}
	if stopped > 30*time.Second {
		t.Errorf("docker stop took %s, longer than the 30 s grace period", stopped)
	}
	d.Docker("rm", victim)
	d.ScaleTo(t, 3)
}

func sustainedLoad(t *testing.T, d *Deployment) {
	s := d.Load(3*time.Minute, "-duration=60s", "-c=50")
	requireNoFailures(t, s, "60 s of sustained load")
	if s.DurationS < 59 {
		t.Fatalf("the load ran %.1f s, expected 60 s", s.DurationS)
	}
}

func nginxReloads(t *testing.T, d *Deployment) {
	lb := d.ContainerIDs("load-balancer")[0]
	load := d.StartLoad(t, "-c=50", "-rate=2000")
	for i := 0; i < 3; i++ {
		d.Docker("exec", "-u", "app", lb, "nginx", "-e", "stderr", "-s", "reload")
		time.Sleep(time.Second)
	}
	// A new config: one more upstream keepalive connection, then back.
	for _, n := range []string{"65", "64"} {
		d.Docker("exec", "-u", "app", lb, "sh", "-c",
			fmt.Sprintf("sed -i 's/keepalive [0-9]*;/keepalive %s;/' /etc/nginx/conf.d/load-balancer.conf && nginx -e stderr -s reload", n))
		time.Sleep(time.Second)
	}
	requireNoFailures(t, load.Stop(t), "nginx reloads under load")
}
