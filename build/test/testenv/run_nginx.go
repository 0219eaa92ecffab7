package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StartRunNginx runs build/config/lb/nginx/run-nginx.sh, the program
// supervisord runs in the load balancer, with the deployment's nginx.conf on
// loopback (as StartProdNginx) and in a process group of its own, as
// supervisord starts every program. The script is the returned Process; it
// returns once nginx accepts connections. When the test ends, whatever is
// left of the group is SIGKILLed, so a failed test leaves no nginx behind.
func StartRunNginx(t testing.TB, upstreamAddrs []string) *ProdNginx {
	t.Helper()
	n, dir, conf := prodNginxFiles(t, upstreamAddrs)
	script := filepath.Join(dir, "run-nginx.sh")
	if err := os.WriteFile(script, []byte(runNginxScript(t, dir, conf)), 0o755); err != nil {
		t.Fatal(err)
	}
	p := &Process{Cmd: exec.Command("/bin/sh", script), output: &SyncBuffer{}, done: make(chan struct{})}
	p.Cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	p.Cmd.Stdout, p.Cmd.Stderr = p.output, p.output
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("starting run-nginx.sh: %v", err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	pgid := p.Cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("output of run-nginx.sh:\n%s", p.Output())
		}
	})
	for _, addr := range []string{n.Addr, n.HealthAddr} {
		Eventually(t, 10*time.Second, "nginx under run-nginx.sh accepts connections on "+addr, func() error {
			if p.Exited() {
				t.Fatalf("run-nginx.sh exited with %v before nginx accepted connections; output:\n%s", p.err, p.Output())
			}
			return dialOnce(addr)
		})
	}
	n.Process = p
	return n
}

// runNginxScript is run-nginx.sh with the container's paths replaced by the
// test's. Each rewrite must match: a changed script fails here instead of
// running against container paths.
func runNginxScript(t testing.TB, dir, conf string) string {
	t.Helper()
	return RewriteEngineFile(t, "nginx", "run-nginx.sh", "StartRunNginx",
		Rewrite{"conf=/etc/lb/nginx/nginx.conf\n", "conf=" + conf + "\n"},
		Rewrite{"pidfile=/tmp/nginx/nginx.pid\n", "pidfile=" + filepath.Join(dir, "nginx.pid") + "\n"},
		Rewrite{`nginx -c "$conf" -e stderr &`, NginxBin() + ` -c "$conf" -e stderr -p ` + dir + ` &`})
}

// GroupProcess is one live process of a process group.
type GroupProcess struct {
	PID     int
	Command string // the name in /proc/PID/stat, e.g. "nginx"
}

func (g GroupProcess) String() string { return fmt.Sprintf("%s (pid %d)", g.Command, g.PID) }

// ProcessGroup lists the live (not zombie) processes whose process group is
// pgid.
func ProcessGroup(pgid int) []GroupProcess {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var procs []GroupProcess
	for _, path := range stats {
		raw, err := os.ReadFile(path)
		if err != nil {
			continue // exited meanwhile
		}
		line := string(raw)
		open, closing := strings.IndexByte(line, '('), strings.LastIndexByte(line, ')')
		if open < 0 || closing < open {
			continue
		}
		// After "(comm) ": state ppid pgrp ...
		fields := strings.Fields(line[closing+1:])
		if len(fields) < 3 || fields[0] == "Z" || fields[2] != strconv.Itoa(pgid) {
			continue
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(line[:open]))
		procs = append(procs, GroupProcess{PID: pid, Command: line[open+1 : closing]})
	}
	return procs
}
