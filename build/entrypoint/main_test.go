package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// helloEntrypoint is the hello_server image's entrypoint with supervisord
// replaced by script, a shell script.
func helloEntrypoint(t *testing.T, script string, signals chan os.Signal) (entrypoint, *testenv.SyncBuffer, *testenv.SyncBuffer) {
	var stdout, stderr testenv.SyncBuffer
	return entrypoint{
		env:         envOf(nil),
		layout:      imageLayout(t, helloImage...),
		supervisord: []string{"sh", "-c", script},
		ctl:         newFakeCtl(t),
		signals:     signals,
		stdout:      &stdout,
		stderr:      &stderr,
	}, &stdout, &stderr
}

// Wrong settings or an argument: exit 2 with one line on stderr, and
// supervisord never starts.
func TestRunRefusesBeforeStarting(t *testing.T) {
	started := filepath.Join(t.TempDir(), "started")
	for _, c := range []struct {
		name string
		edit func(*entrypoint)
		want string
	}{
		{"two programs of the same priority", func(e *entrypoint) {
			setPriority(t, e.layout, "supervisord/programs/registrar.conf", "priority=30")
		}, "entrypoint: {programs}/registrar.conf: program registrar: priority=30 is invalid: accepted is a whole number that no other program the container runs has (the highest stops first); program grpc-server ({programs}/grpc-server.conf) has 30 too\n"},
		{"a wrong engine", func(e *entrypoint) {
			e.layout = imageLayout(t, lbImage...)
			e.env = envOf(map[string]string{"LB_ENGINE": "envoy"})
		}, `entrypoint: LB_ENGINE="envoy" is invalid: accepted is one of this image's load-balancer engines: haproxy nginx` + "\n"},
		{"an argument", func(e *entrypoint) {
			e.args = []string{"sh"}
		}, `entrypoint: argument "sh" is invalid: accepted is none (the setting is LB_ENGINE)` + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e, stdout, stderr := helloEntrypoint(t, "touch "+started, nil)
			c.edit(&e)
			if code := e.run(); code != exitSettings {
				t.Errorf("exit %d, expected %d", code, exitSettings)
			}
			if want := strings.ReplaceAll(c.want, "{programs}", e.layout.ProgramsDir); stderr.String() != want {
				t.Errorf("expected on stderr %q, received %q", want, stderr.String())
			}
			if stdout.String() != "" {
				t.Errorf("expected nothing on stdout, received %q", stdout.String())
			}
			if _, err := os.Stat(started); err == nil {
				t.Error("supervisord was started")
			}
		})
	}
}

// Without a signal, the entrypoint exits as supervisord did.
func TestRunForwardsSupervisordsExit(t *testing.T) {
	for script, want := range map[string]int{
		"echo supervisord runs; exit 0": 0,
		"exit 3":                        3,
		"kill -KILL $$":                 128 + int(syscall.SIGKILL),
	} {
		e, stdout, _ := helloEntrypoint(t, script, nil)
		if code := e.run(); code != want {
			t.Errorf("supervisord %q: exit %d, expected %d", script, code, want)
		}
		if script == "echo supervisord runs; exit 0" && stdout.String() != "supervisord runs\n" {
			t.Errorf("expected supervisord's output on stdout, received %q", stdout.String())
		}
	}
	e, _, _ := helloEntrypoint(t, "", nil)
	e.supervisord = []string{filepath.Join(t.TempDir(), "no-supervisord")}
	if code := e.run(); code != exitFailed {
		t.Errorf("supervisord missing: exit %d, expected %d", code, exitFailed)
	}
}

// On SIGTERM: the programs stop in order, then ctl shutdown, after which
// supervisord exits 0 and so does the entrypoint; a second signal starts
// no second stop. Should ctl shutdown fail, supervisord gets SIGTERM.
func TestRunStopsInOrderOnSignal(t *testing.T) {
	for _, shutdownWorks := range []bool{true, false} {
		dir := t.TempDir()
		shutdown := filepath.Join(dir, "shutdown")
		// supervisord exits 0 on ctl shutdown, 255 on SIGTERM (as v0.7.3 does).
		signals := make(chan os.Signal, 2)
		e, stdout, _ := helloEntrypoint(t, `trap 'exit 255' TERM; while [ ! -e `+shutdown+` ]; do sleep 0.01; done`, signals)
		ctl := e.ctl.(*fakeCtl)
		for _, name := range []string{"registrar", "grpc-server", "consul-agent"} {
			ctl.start(name, `trap 'exit 0' TERM; echo ready; while :; do sleep 0.01; done`)
		}
		ctl.shutdown = func() error {
			if !shutdownWorks {
				return os.ErrNotExist
			}
			return os.WriteFile(shutdown, nil, 0o644)
		}
		signals <- syscall.SIGTERM
		signals <- syscall.SIGINT
		code := make(chan int, 1)
		go func() { code <- e.run() }()
		select {
		case got := <-code:
			if want := map[bool]int{true: 0, false: 255}[shutdownWorks]; got != want {
				t.Errorf("ctl shutdown works: %v: exit %d, expected %d", shutdownWorks, got, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("the entrypoint did not exit within 10 s; its log:\n%s", stdout.String())
		}
		want := []string{"stop registrar", "exited registrar", "stop grpc-server", "exited grpc-server",
			"stop consul-agent", "exited consul-agent", "shutdown"}
		if got := ctl.recorded(); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("expected the events %q, received %q", want, got)
		}
		if n := strings.Count(stdout.String(), "received a stop signal"); n != 1 {
			t.Errorf("expected one stop, received %d:\n%s", n, stdout.String())
		}
	}
}

// supervisordCtl's commands and how it reads `ctl pid`, against a
// stand-in that answers as supervisord v0.7.3 does.
func TestSupervisordCtl(t *testing.T) {
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	fake := filepath.Join(dir, "supervisord")
	script := `#!/bin/sh
echo "$*" >> ` + calls + `
case "$4 $5" in
"pid registrar") echo 42 ;;
"pid nginx") echo 0 ;;
"pid consul-agent2") echo "program 'consul-agent2' not found"; exit 1 ;;
"shutdown ") exit 0 ;;
esac
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c := supervisordCtl{binary: fake, server: "unix:///tmp/supervisord.sock"}
	for program, want := range map[string]int{"registrar": 42, "nginx": 0, "consul-agent2": 0} {
		if got := c.PID(program); got != want {
			t.Errorf("PID(%s): expected %d, received %d", program, want, got)
		}
	}
	c.Stop("registrar")
	if err := c.Shutdown(); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	testenv.Eventually(t, 5*time.Second, "ctl stop run", func() error {
		raw, _ := os.ReadFile(calls)
		for _, want := range []string{"ctl -s unix:///tmp/supervisord.sock pid registrar", "ctl -s unix:///tmp/supervisord.sock stop registrar", "ctl -s unix:///tmp/supervisord.sock shutdown"} {
			if !strings.Contains(string(raw), want+"\n") {
				return os.ErrNotExist
			}
		}
		return nil
	})
}
