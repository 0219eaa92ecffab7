package main

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	for _, c := range []struct {
		line      string
		pid, ppid int
		ok        bool
	}{
		{"4242 (haproxy) S 4200 4200 1 0 -1 4194560 ...", 4242, 4200, true},
		// COMM is free text: the fields count from its last ")".
		{"7 (a) b (c) S 1 7 7 0", 7, 1, true},
		{"8 (x y) R 3 8", 8, 3, true},
		{"", 0, 0, false},
		{"9 (haproxy)", 0, 0, false},
		{"x (haproxy) S 1", 0, 0, false},
		{"9 haproxy S 1", 0, 0, false},
	} {
		pid, ppid, ok := parseStat(c.line)
		if pid != c.pid || ppid != c.ppid || ok != c.ok {
			t.Errorf("parseStat(%q): expected %d, %d, %v; received %d, %d, %v", c.line, c.pid, c.ppid, c.ok, pid, ppid, ok)
		}
	}
}

// fakeProc writes procDir/<pid>/stat for a process whose parent is ppid.
func fakeProc(t *testing.T, procDir string, pid, ppid int) {
	t.Helper()
	dir := filepath.Join(procDir, strconv.Itoa(pid))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	line := fmt.Sprintf("%d (haproxy) S %d %d %d 0 -1 4194560\n", pid, ppid, ppid, ppid)
	if err := os.WriteFile(filepath.Join(dir, "stat"), []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestChildren(t *testing.T) {
	proc := t.TempDir()
	fakeProc(t, proc, 100, 1)
	fakeProc(t, proc, 101, 100)
	fakeProc(t, proc, 102, 100)
	fakeProc(t, proc, 200, 101)
	// Not a process: /proc/self, /proc/net.
	_ = os.MkdirAll(filepath.Join(proc, "self"), 0o755)
	got := slices.Sorted(maps.Keys(children(proc, 100)))
	if want := []int{101, 102}; !slices.Equal(got, want) {
		t.Errorf("children of 100: expected %v, received %v", want, got)
	}
	// This process is a child of its parent in the real /proc.
	if !children("/proc", os.Getppid())[os.Getpid()] {
		t.Errorf("/proc: pid %d is not listed as a child of %d", os.Getpid(), os.Getppid())
	}
}

func TestRunningMaster(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		content string
		pid     int
		ok      bool
	}{
		{fmt.Sprintf("%d\n", os.Getpid()), os.Getpid(), true},
		{"", 0, false},
		{"not a pid\n", 0, false},
		// kill(2) would signal process groups, or every process.
		{"0\n", 0, false},
		{"-1\n", 0, false},
	} {
		path := filepath.Join(dir, "haproxy.pid")
		if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
			t.Fatal(err)
		}
		if pid, ok := runningMaster(path); pid != c.pid || ok != c.ok {
			t.Errorf("pid file %q: expected %d, %v; received %d, %v", c.content, c.pid, c.ok, pid, ok)
		}
	}
	if _, ok := runningMaster(filepath.Join(dir, "missing.pid")); ok {
		t.Error("a missing pid file: expected no master")
	}
	// A pid that no process has (above the kernel's pid_max).
	if err := os.WriteFile(filepath.Join(dir, "gone.pid"), []byte("2147483646\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, ok := runningMaster(filepath.Join(dir, "gone.pid")); ok {
		t.Error("the pid of no process: expected no master")
	}
}

// reload signals the master and returns once the master has a child it
// did not have before. The test process stands in for the master: it
// catches USR2 and then "starts a worker" in a fake /proc.
func TestReloadWaitsForANewWorker(t *testing.T) {
	proc := t.TempDir()
	master := os.Getpid()
	fakeProc(t, proc, 1001, master) // the old worker
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)
	go func() {
		<-usr2
		time.Sleep(200 * time.Millisecond)
		fakeProc(t, proc, 1002, master)
	}()
	start := time.Now()
	if err := reload(master, proc, 5*time.Second); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if took := time.Since(start); took < 200*time.Millisecond {
		t.Errorf("reload returned after %v, before the new worker existed", took)
	}
}

func TestReloadGivesUpWithoutANewWorker(t *testing.T) {
	proc := t.TempDir()
	master := os.Getpid()
	fakeProc(t, proc, 1001, master)
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)
	start := time.Now()
	if err := reload(master, proc, 300*time.Millisecond); !errors.Is(err, errNoNewWorker) {
		t.Fatalf("reload: expected errNoNewWorker, received %v", err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 3*time.Second {
		t.Errorf("reload gave up after %v, expected about 300ms", took)
	}
	select {
	case <-usr2:
	case <-time.After(time.Second):
		t.Error("the master got no USR2")
	}
}

func TestReloadReportsAFailedSignal(t *testing.T) {
	err := reload(2147483646, t.TempDir(), time.Second)
	if err == nil || errors.Is(err, errNoNewWorker) || err.Error() != "kill -USR2 2147483646: no such process" {
		t.Errorf("reload of a pid no process has: expected %q, received %v", "kill -USR2 2147483646: no such process", err)
	}
}
