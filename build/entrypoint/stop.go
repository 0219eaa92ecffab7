package main

import (
	"errors"
	"strings"
	"syscall"
	"time"

	"github.com/grpc-lb/nginx-consul/build/supervisorconf"
)

// pollInterval is how often the stop checks whether the program it stopped
// has exited. The next program is signalled within tens of milliseconds: a
// replica must report NOT_SERVING well before nginx, 250 ms after the
// deregistration at the earliest, reloads without it.
const pollInterval = 20 * time.Millisecond

// ctl is what the stop asks supervisord: `supervisord ctl` in the image, a
// fake in the tests.
type ctl interface {
	// PID is the program's pid, 0 when supervisord does not run it.
	PID(program string) int
	// Stop asks supervisord to stop the program and returns at once.
	Stop(program string)
	// Shutdown makes supervisord exit 0.
	Shutdown() error
}

// stopper stops programs one at a time.
type stopper struct {
	ctl  ctl
	logf func(format string, args ...any)
}

// stopInOrder stops each program of order, each only once the one before
// has exited, then shuts supervisord down (terminate, should ctl fail).
func (s stopper) stopInOrder(order []supervisorconf.Program, terminate func()) {
	names := make([]string, len(order))
	for i, p := range order {
		names[i] = p.Name
	}
	s.logf("received a stop signal; stopping in order: %s", strings.Join(names, " "))
	for _, p := range order {
		s.stop(p)
	}
	// Nothing is left running. shutdown exits 0 (a SIGTERM would make
	// supervisord exit 255).
	if err := s.ctl.Shutdown(); err != nil {
		s.logf("supervisord ctl shutdown failed (%v); sending supervisord SIGTERM", err)
		terminate()
	}
}

// stop stops one program and returns once it has exited, or once it has
// outlived its stopwaitsecs by GuardSlack and its process group has been
// killed. supervisord SIGKILLs it at stopwaitsecs; the guard is there only
// should supervisord not.
func (s stopper) stop(p supervisorconf.Program) {
	pid := s.ctl.PID(p.Name)
	if pid <= 0 {
		s.logf("%s is not running", p.Name)
		return
	}
	started := time.Now()
	s.logf("stopping %s (pid %d)", p.Name, pid)
	s.ctl.Stop(p.Name)
	guard := p.StopWait + supervisorconf.GuardSlack
	for alive(pid) {
		if time.Since(started) > guard {
			s.logf("%s still running after %s; killing its process group and going on", p.Name, guard)
			killGroup(pid)
			return
		}
		time.Sleep(pollInterval)
	}
	s.logf("%s stopped after %d ms", p.Name, time.Since(started).Milliseconds())
}

// alive reports whether a process with the pid exists (EPERM: one that is
// not ours, but there).
func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// killGroup SIGKILLs the process group the pid leads (supervisord starts
// each program in its own), or the process alone if it leads none.
func killGroup(pid int) {
	if syscall.Kill(-pid, syscall.SIGKILL) != nil {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}
