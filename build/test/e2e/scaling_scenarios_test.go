//go:build e2e

package e2e

import (
	"fmt"
	"slices"
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
	addr := d.ContainerIP(victim) + ":7777"
	lb := d.ContainerIDs("load-balancer")[0]
	// The claim below is that the replica leaves nginx: first, it is there.
	d.requireUpstream(lb, addr, true, 10*time.Second)
	load := d.StartLoad(t, "-c=50", "-rate=2000")
	time.Sleep(2 * time.Second) // let the load reach every replica before the stop
	stopAt := time.Now()
	d.Docker("stop", "--time=30", victim)
	stopped := time.Since(stopAt)
	// Gone from the file consul-template rendered and from the config the
	// running workers use, whatever the number of replicas left.
	d.requireUpstream(lb, addr, false, 10*time.Second)
	time.Sleep(2 * time.Second)
	requireNoFailures(t, load.Stop(t), "replica stop under load")

	logs := d.Logs(victim, stopAt.Add(-time.Second))
	lbLogs := d.Logs(lb, stopAt)
	deregistered := firstLog(t, logs, "deregistered hello_server-"+host)
	notServing := firstLog(t, logs, "shutdown 1/3: health NOT_SERVING")
	lbReloaded := firstLogWhere(t, lbLogs, "the first reload of "+d.engine.name+" without "+addr, func(text string) bool {
		return d.engine.reloadWithout(text, addr)
	})
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
	s := d.Load(3*time.Minute, "-duration=30s", "-c=50")
	requireNoFailures(t, s, "30 s of sustained load")
	if s.DurationS < 29 {
		t.Fatalf("the load ran %.1f s, expected 30 s", s.DurationS)
	}
}

// engineReloads reloads the engine under load, three times with the same
// config and twice with a new one, and checks that each reload took effect:
// the workers serving are new ones, and a changed config is the one answering.
func engineReloads(t *testing.T, d *Deployment) {
	lb := d.ContainerIDs("load-balancer")[0]
	load := d.StartLoad(t, "-c=50", "-rate=2000")
	for i := 0; i < 3; i++ {
		before := d.engineWorkers(lb)
		d.Docker(append([]string{"exec", "-u", "app", lb}, d.engine.reload...)...)
		eventually(t, 10*time.Second, "new "+d.engine.name+" workers after the reload", func() error {
			return d.engine.workersReplaced(before, d.engineWorkers(lb))
		})
	}
	// A new config: the upstream's line on :8080/upstream gets a marker,
	// then loses it again; each time the running workers must answer with
	// the file's new content.
	original, err := d.servingUpstream(lb)
	if err != nil {
		t.Fatal(err)
	}
	for _, marker := range []string{"reload-check", ""} {
		d.Docker("exec", "-u", "app", lb, "sh", "-c",
			`sed -i '`+d.engine.markUpstream(marker)+`' `+d.engine.rendered)
		d.Docker(append([]string{"exec", "-u", "app", lb}, d.engine.reload...)...)
		want := slices.Clone(original)
		if marker != "" {
			want = append(want, marker)
			slices.Sort(want)
		}
		eventually(t, 10*time.Second, "the reloaded config answers", func() error {
			got, err := d.servingUpstream(lb)
			if err != nil {
				return err
			}
			if !slices.Equal(got, want) {
				return fmt.Errorf(":8080/upstream: expected %v, received %v", want, got)
			}
			return nil
		})
	}
	requireNoFailures(t, load.Stop(t), d.engine.name+" reloads under load")
}
