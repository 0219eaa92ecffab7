package main

import (
	"bufio"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/supervisorconf"
	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// fakeCtl plays supervisord for the stop: its programs are real processes,
// each in its own process group as supervisord starts them, and reaped when
// they exit as supervisord reaps them. It records what happened, in order.
type fakeCtl struct {
	t        *testing.T
	mu       sync.Mutex
	events   []string
	pids     map[string]int
	stuck    map[string]bool // Stop does nothing: a supervisord that fails to stop it
	shutdown func() error
}

func newFakeCtl(t *testing.T) *fakeCtl {
	return &fakeCtl{t: t, pids: map[string]int{}, stuck: map[string]bool{}, shutdown: func() error { return nil }}
}

func (f *fakeCtl) record(event string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, event)
}

func (f *fakeCtl) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// start runs a program: script under sh, and returns once it has printed
// its first line (once its traps are set), with that line.
func (f *fakeCtl) start(name, script string) (pid int, first string) {
	f.t.Helper()
	cmd := exec.Command("sh", "-c", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		f.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		f.t.Fatal(err)
	}
	f.t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })
	exited := make(chan struct{})
	f.t.Cleanup(func() { <-exited })
	go func() {
		_ = cmd.Wait()
		f.record("exited " + name)
		close(exited)
	}()
	f.mu.Lock()
	f.pids[name] = cmd.Process.Pid
	f.mu.Unlock()
	first, err = bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		f.t.Fatalf("program %s printed no first line: %v", name, err)
	}
	return cmd.Process.Pid, strings.TrimSpace(first)
}

func (f *fakeCtl) PID(program string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pids[program]
}

func (f *fakeCtl) Stop(program string) {
	f.record("stop " + program)
	if f.stuck[program] {
		return
	}
	_ = syscall.Kill(f.PID(program), syscall.SIGTERM)
}

func (f *fakeCtl) Shutdown() error {
	f.record("shutdown")
	return f.shutdown()
}

// logs collects what the stop logs, line by line.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func program(name string, stopWait time.Duration) supervisorconf.Program {
	return supervisorconf.Program{Name: name, StopWait: stopWait, HasStopWait: true}
}

// Each program is stopped only once the one before has exited, and the
// next within tens of milliseconds of that exit; a program that is not
// running is logged and passed; supervisord is shut down last.
func TestStopInOrder(t *testing.T) {
	ctl := newFakeCtl(t)
	// registrar exits 300 ms after TERM (its deregistration), the others at once.
	ctl.start("registrar", `trap 'sleep 0.3; exit 0' TERM; echo ready; while :; do sleep 0.01; done`)
	ctl.start("grpc-server", `trap 'exit 0' TERM; echo ready; while :; do sleep 0.01; done`)
	ctl.start("consul-agent", `trap 'exit 0' TERM; echo ready; while :; do sleep 0.01; done`)
	var l logs
	terminated := false
	order := []supervisorconf.Program{program("registrar", 3*time.Second), program("nginx", 3*time.Second),
		program("grpc-server", 15*time.Second), program("consul-agent", 6*time.Second)}
	start := time.Now()
	stopper{ctl: ctl, logf: l.logf}.stopInOrder(order, func() { terminated = true })
	took := time.Since(start)

	want := []string{"stop registrar", "exited registrar", "stop grpc-server", "exited grpc-server",
		"stop consul-agent", "exited consul-agent", "shutdown"}
	if got := ctl.recorded(); !slices.Equal(got, want) {
		t.Errorf("expected the events %q, received %q", want, got)
	}
	if terminated {
		t.Error("supervisord was sent SIGTERM although ctl shutdown succeeded")
	}
	if took < 300*time.Millisecond || took > 2*time.Second {
		t.Errorf("the stop took %s: expected the registrar's 300 ms plus tens of milliseconds a program", took)
	}
	wantLogs := []*regexp.Regexp{
		regexp.MustCompile(`^received a stop signal; stopping in order: registrar nginx grpc-server consul-agent$`),
		regexp.MustCompile(`^stopping registrar \(pid \d+\)$`),
		regexp.MustCompile(`^registrar stopped after (\d+) ms$`),
		regexp.MustCompile(`^nginx is not running$`),
		regexp.MustCompile(`^stopping grpc-server \(pid \d+\)$`),
		regexp.MustCompile(`^grpc-server stopped after \d+ ms$`),
		regexp.MustCompile(`^stopping consul-agent \(pid \d+\)$`),
		regexp.MustCompile(`^consul-agent stopped after \d+ ms$`),
	}
	if len(l.lines) != len(wantLogs) {
		t.Fatalf("expected %d log lines, received:\n%s", len(wantLogs), strings.Join(l.lines, "\n"))
	}
	for i, re := range wantLogs {
		if !re.MatchString(l.lines[i]) {
			t.Errorf("log line %d: expected %s, received %q", i+1, re, l.lines[i])
		}
	}
	// The registrar's time is its exit's, not its signal's.
	if m := wantLogs[2].FindStringSubmatch(l.lines[2]); m != nil {
		if ms, _ := strconv.Atoi(m[1]); ms < 300 {
			t.Errorf("%q: the registrar exits 300 ms after TERM", l.lines[2])
		}
	}
}

// A program supervisord fails to stop is killed with its whole process
// group once it has outlived its stopwaitsecs by GuardSlack, and the stop
// goes on; should ctl shutdown fail, supervisord is sent SIGTERM.
func TestStopGuardKillsTheProcessGroup(t *testing.T) {
	ctl := newFakeCtl(t)
	ctl.stuck["nginx"] = true
	// A master that ignores TERM and a worker in its group.
	master, worker := ctl.start("nginx", `trap '' TERM; sleep 60 & echo $!; wait`)
	ctl.start("consul-agent", `trap 'exit 0' TERM; echo ready; while :; do sleep 0.01; done`)
	ctl.shutdown = func() error { return errors.New("no socket") }
	var l logs
	terminated := false
	stopWait := 200 * time.Millisecond
	guard := stopWait + supervisorconf.GuardSlack

	start := time.Now()
	stopper{ctl: ctl, logf: l.logf}.stopInOrder(
		[]supervisorconf.Program{program("nginx", stopWait), program("consul-agent", 6*time.Second)},
		func() { terminated = true })
	took := time.Since(start)

	if took < guard || took > guard+time.Second {
		t.Errorf("the stop took %s: expected the guard of %s (stopwaitsecs %s + GuardSlack %s) and a little more", took, guard, stopWait, supervisorconf.GuardSlack)
	}
	testenv.Eventually(t, 5*time.Second, "nginx's process group killed", func() error {
		if left := testenv.ProcessGroup(master); len(left) > 0 {
			return fmt.Errorf("left in group %d (worker pid %s): %v", master, worker, left)
		}
		return nil
	})
	// SIGKILL is not waited for: nginx's exit may be seen after the next stop.
	got := slices.DeleteFunc(ctl.recorded(), func(e string) bool { return e == "exited nginx" })
	want := []string{"stop nginx", "stop consul-agent", "exited consul-agent", "shutdown"}
	if !slices.Equal(got, want) {
		t.Errorf("expected the events %q, received %q", want, got)
	}
	if !terminated {
		t.Error("ctl shutdown failed and supervisord was not sent SIGTERM")
	}
	wantLog := fmt.Sprintf("nginx still running after %s; killing its process group and going on", guard)
	if !slices.Contains(l.lines, wantLog) {
		t.Errorf("expected the log line %q, received:\n%s", wantLog, strings.Join(l.lines, "\n"))
	}
	if !slices.Contains(l.lines, "supervisord ctl shutdown failed (no socket); sending supervisord SIGTERM") {
		t.Errorf("expected the shutdown's failure logged, received:\n%s", strings.Join(l.lines, "\n"))
	}
}
