package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runningMaster returns HAProxy's master pid from the pid file (in
// master-worker mode the pid file holds the master's), if that process
// exists and this user may signal it.
func runningMaster(pidfile string) (int, bool) {
	raw, err := os.ReadFile(pidfile)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	// kill(2) with 0 or a negative pid signals process groups.
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, syscall.Kill(pid, 0) == nil
}

// errNoNewWorker: the master took the signal, but no new worker showed up
// in time.
var errNoNewWorker = errors.New("no new worker")

// reload is the fallback when the Runtime API fails: a seamless reload.
// SIGUSR2 makes the master re-read both files and start a new worker on the
// same listening sockets (expose-fd listeners); the old worker soft-stops:
// it finishes the calls in flight, sends GOAWAY to its clients and exits (at
// the latest after hard-stop-after). The master re-executes itself on USR2,
// and a second USR2 that arrives before it is back is lost, so reload
// returns only once a worker that was not there before exists, or after
// wait (errNoNewWorker).
func reload(master int, procDir string, wait time.Duration) error {
	before := children(procDir, master)
	if err := syscall.Kill(master, syscall.SIGUSR2); err != nil {
		return fmt.Errorf("kill -USR2 %d: %w", master, err)
	}
	deadline := time.Now().Add(wait)
	for {
		for pid := range children(procDir, master) {
			if !before[pid] {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return errNoNewWorker
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// children returns the pids whose parent is ppid (HAProxy's workers, for
// the master), from procDir/<pid>/stat.
func children(procDir string, ppid int) map[int]bool {
	out := map[int]bool{}
	stats, _ := filepath.Glob(filepath.Join(procDir, "[0-9]*", "stat"))
	for _, stat := range stats {
		raw, err := os.ReadFile(stat)
		if err != nil {
			// The process ended since the glob.
			continue
		}
		if pid, parent, ok := parseStat(string(raw)); ok && parent == ppid {
			out[pid] = true
		}
	}
	return out
}

// parseStat reads the pid and the parent's pid from a /proc/<pid>/stat
// line: "PID (COMM) STATE PPID ...". COMM may hold spaces and parentheses,
// so the fields are counted from its last ")".
func parseStat(line string) (pid, ppid int, ok bool) {
	head, _, found := strings.Cut(line, " (")
	end := strings.LastIndex(line, ")")
	if !found || end < len(head) {
		return 0, 0, false
	}
	f := strings.Fields(line[end+1:])
	if len(f) < 2 {
		return 0, 0, false
	}
	pid, err1 := strconv.Atoi(head)
	ppid, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return pid, ppid, true
}
