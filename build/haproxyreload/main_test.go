package main

import (
	"bufio"
	"bytes"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestFlagDefaultsAreTheImagesPaths(t *testing.T) {
	cfg, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	want := config{
		haproxyConfig: "/etc/lb/haproxy/haproxy.cfg",
		servers:       "/tmp/haproxy/load-balancer.cfg",
		lastGood:      "/tmp/haproxy/load-balancer.cfg.last-good",
		pidfile:       "/tmp/haproxy/haproxy.pid",
		socket:        "/tmp/haproxy/haproxy.sock",
		haproxy:       "haproxy",
	}
	if cfg != want {
		t.Errorf("defaults:\n  expected %+v\n  received %+v", want, cfg)
	}
}

func TestBadFlagsExit2NamingTheFlag(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		// Every backend of the render follows it: there is no flag to
		// name one.
		{[]string{"-backend", "hello_server"}, "flag provided but not defined: -backend"},
		{[]string{"-socket", ""}, `reload-haproxy: -socket "" is invalid: accepted is the path of HAProxy's Runtime API socket`},
		{[]string{"-config", ""}, `reload-haproxy: -config "" is invalid: accepted is the path of HAProxy's main config`},
		{[]string{"-servers", ""}, `reload-haproxy: -servers "" is invalid`},
		{[]string{"-last-good", ""}, `reload-haproxy: -last-good "" is invalid`},
		{[]string{"-pidfile", ""}, `reload-haproxy: -pidfile "" is invalid`},
		{[]string{"-haproxy", ""}, `reload-haproxy: -haproxy "" is invalid`},
		{[]string{"extra"}, `reload-haproxy: argument "extra" is invalid: accepted is no argument, only flags`},
		{[]string{"-no-such-flag"}, "flag provided but not defined: -no-such-flag"},
		{[]string{"-socket"}, "flag needs an argument: -socket"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(c.args, &stdout, &stderr); code != exitFlags {
			t.Errorf("%q: exit %d, expected %d", c.args, code, exitFlags)
		}
		if !strings.Contains(stderr.String(), c.want) || stdout.Len() != 0 {
			t.Errorf("%q: expected %q on stderr and nothing on stdout, received stderr %q, stdout %q", c.args, c.want, stderr.String(), stdout.String())
		}
	}
	var stderr bytes.Buffer
	if code := run([]string{"-help"}, &bytes.Buffer{}, &stderr); code != exitOK || !strings.Contains(stderr.String(), "-last-good") {
		t.Errorf("-help: exit %d, expected %d and the flags; received %q", code, exitOK, stderr.String())
	}
}

// The steps' bounds add up to less than consul-template's command_timeout
// for haproxy-reload (build/config/lb/haproxy/consul-template.hcl), which it
// treats as a failure and exits.
func TestStepsFitCommandTimeout(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "config", "lb", "haproxy", "consul-template.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*command_timeout\s*=\s*"([^"]+)"`).FindSubmatch(raw)
	if m == nil {
		t.Fatal("build/config/lb/haproxy/consul-template.hcl has no command_timeout")
	}
	limit, err := time.ParseDuration(string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^\s*command\s*=\s*"/usr/local/bin/haproxy-reload"`).Match(raw) {
		t.Errorf("build/config/lb/haproxy/consul-template.hcl's command is not /usr/local/bin/haproxy-reload")
	}
	if worst := checkTimeout + apiBudget + reloadWait; worst >= limit {
		t.Errorf("check %v + Runtime API %v + reload wait %v = %v, not below build/config/lb/haproxy/consul-template.hcl's command_timeout %v", checkTimeout, apiBudget, reloadWait, worst, limit)
	}
}

// files is one run's world: the render, the last good copy and a fake
// haproxy -c that accepts or rejects.
type files struct {
	dir  string
	args []string
}

// newFiles writes render and a last good copy that is the render itself:
// the config HAProxy runs has the render's layout, as after a change of
// replicas.
func newFiles(t *testing.T, render string, checkExit int) files {
	t.Helper()
	return newFilesAfter(t, render, render, checkExit)
}

// newFilesAfter is newFiles with lastGood as the last good copy.
func newFilesAfter(t *testing.T, render, lastGood string, checkExit int) files {
	t.Helper()
	dir := t.TempDir()
	f := files{dir: dir}
	write := func(name, body string, mode os.FileMode) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		return path
	}
	check := "#!/bin/sh\nexit 0\n"
	if checkExit != 0 {
		check = "#!/bin/sh\necho \"[NOTICE]   (1) : haproxy version is 3.0\"\necho \"[ALERT]    (1) : config : parsing [$6:2] : unknown keyword 'no-such-keyword'\"\nexit 1\n"
	}
	f.args = []string{
		"-config", write("haproxy.cfg", "global\n", 0o644),
		"-servers", write("load-balancer.cfg", render, 0o644),
		"-last-good", write("load-balancer.cfg.last-good", lastGood, 0o644),
		"-pidfile", filepath.Join(dir, "haproxy.pid"),
		"-socket", filepath.Join(dir, "haproxy.sock"),
		"-haproxy", write("haproxy", check, 0o755),
	}
	return f
}

func (f files) read(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(f.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func (f files) run(t *testing.T) (stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := run(f.args, &out, &errOut); code != exitOK {
		t.Fatalf("exit %d, expected %d; stdout %q, stderr %q", code, exitOK, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

func TestRejectedRenderIsReplacedByTheLastGood(t *testing.T) {
	f := newFilesAfter(t, "backend hello_server\n    server replica-1 10.0.0.1:7001 no-such-keyword\n", "the last good render\n", 1)
	stdout, stderr := f.run(t)
	want := "reload-haproxy: haproxy -c rejected the rendered " + filepath.Join(f.dir, "load-balancer.cfg") +
		"; keeping the last good config: [NOTICE] (1) : haproxy version is 3.0 [ALERT] (1) : config : parsing [" +
		filepath.Join(f.dir, "load-balancer.cfg") + ":2] : unknown keyword 'no-such-keyword'\n"
	if stdout != "" || stderr != want {
		t.Errorf("expected no stdout and stderr %q, received %q, %q", want, stdout, stderr)
	}
	if got := f.read(t, "load-balancer.cfg"); got != "the last good render\n" {
		t.Errorf("the render is %q, expected the last good one", got)
	}
}

func TestAcceptedRenderBeforeHAProxyRuns(t *testing.T) {
	render := captured(t, "load-balancer.cfg")
	f := newFilesAfter(t, render, "the last good render\n", 0)
	stdout, stderr := f.run(t)
	wantOut := "reload-haproxy: haproxy is not running yet; it will start with " + capturedRoutes + "\n"
	if stdout != wantOut || stderr != capturedSkipped {
		t.Errorf("expected stdout %q and stderr %q\nreceived %q and %q", wantOut, capturedSkipped, stdout, stderr)
	}
	if got := f.read(t, "load-balancer.cfg.last-good"); got != render {
		t.Errorf("the last good copy is %q, expected the render", got)
	}
}

// What a run logs for testdata/load-balancer.cfg: its routes, in the
// render's order, and its skipped lines.
const (
	capturedRoutes  = "1 echo_server replica(s): 10.20.30.51:7002; 2 hello_server replica(s): 10.20.30.41:7001 10.20.30.42:7001"
	capturedSkipped = "reload-haproxy: skipped declaration line 5 (a Consul service and its gRPC services, each once): no-such-name protos.Bad\n" +
		"reload-haproxy: skipped hello_server instance (not an IPv4 address with a port from 1 to 65535): id=name node=bad-name address=not-an-ip port=7001\n" +
		"reload-haproxy: skipped hello_server instance (not an IPv4 address with a port from 1 to 65535): id=port-0 node=bad-port address=10.20.30.49 port=0\n"
)

// fakeRuntimeAPI answers on a unix socket as HAProxy does: one command per
// connection, the answer, then close.
type fakeRuntimeAPI struct {
	mu      sync.Mutex
	answers map[string]string
	got     []string
}

func serveFakeRuntimeAPI(t *testing.T, socket string, answers map[string]string) *fakeRuntimeAPI {
	t.Helper()
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	f := &fakeRuntimeAPI{answers: answers}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(conn).ReadString('\n')
			cmd := strings.TrimSuffix(line, "\n")
			f.mu.Lock()
			f.got = append(f.got, cmd)
			answer, ok := f.answers[cmd]
			f.mu.Unlock()
			if !ok {
				answer = "\n"
			}
			_, _ = conn.Write([]byte(answer))
			conn.Close()
		}
	}()
	return f
}

func (f *fakeRuntimeAPI) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// This test process stands in for HAProxy's master (its pid in the pid
// file).
func writeMasterPID(t *testing.T, f files) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, "haproxy.pid"), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestAcceptedRenderThroughTheRuntimeAPI(t *testing.T) {
	before := captured(t, "load-balancer.cfg")
	render := strings.Replace(before, "server replica-1 10.20.30.41:7001\n", "server replica-1 10.20.30.43:7001\n", 1)
	f := newFilesAfter(t, render, before, 0)
	writeMasterPID(t, f)
	api := serveFakeRuntimeAPI(t, filepath.Join(f.dir, "haproxy.sock"), map[string]string{
		"show servers state echo_server":                               captured(t, "show-servers-state-echo-server.txt"),
		"show servers state hello_server":                              captured(t, "show-servers-state-2-replicas.txt"),
		"set server hello_server/replica-3 addr 10.20.30.43 port 7001": captured(t, "answer-set-server-addr.txt"),
	})
	stdout, stderr := f.run(t)
	wantOut := "reload-haproxy: haproxy routes to 1 echo_server replica(s): 10.20.30.51:7002; 2 hello_server replica(s): 10.20.30.43:7001 10.20.30.42:7001 (Runtime API, no reload)\n"
	if stdout != wantOut || stderr != capturedSkipped {
		t.Errorf("expected stdout %q and stderr %q\nreceived %q and %q", wantOut, capturedSkipped, stdout, stderr)
	}
	want := []string{
		"show servers state echo_server",
		"show servers state hello_server",
		`experimental-mode on; set var proc.echo_server_upstream fmt 10.20.30.51:7002\ `,
		"disable server hello_server/replica-1",
		"set server hello_server/replica-3 addr 10.20.30.43 port 7001",
		"enable server hello_server/replica-3",
		`experimental-mode on; set var proc.hello_server_upstream fmt 10.20.30.43:7001\ 10.20.30.42:7001\ `,
	}
	if got := api.commands(); !slices.Equal(got, want) {
		t.Errorf("Runtime API commands:\n  expected %q\n  received %q", want, got)
	}
}

// catchReload makes this test process, HAProxy's master in the pid file,
// take USR2 as the master does: with worker, it starts a child (the new
// worker); without, it starts none. The channel yields the child, or nil.
func catchReload(t *testing.T, worker bool) <-chan *exec.Cmd {
	t.Helper()
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	t.Cleanup(func() { signal.Stop(usr2) })
	started := make(chan *exec.Cmd, 1)
	go func() {
		<-usr2
		if !worker {
			started <- nil
			return
		}
		cmd := exec.Command("sleep", "5")
		if err := cmd.Start(); err != nil {
			t.Error(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		started <- cmd
	}()
	return started
}

func signalled(t *testing.T, reloads <-chan *exec.Cmd) {
	t.Helper()
	select {
	case <-reloads:
	case <-time.After(time.Second):
		t.Error("the master got no USR2")
	}
}

// With no Runtime API, the master gets USR2 and the run waits for its new
// worker: here the test process catches USR2 and starts a child. One
// backend: the log line is the one the end-to-end suite reads.
func TestRuntimeAPIFailureFallsBackToAReload(t *testing.T) {
	f := newFiles(t, "backend hello_server from replicas\n    server replica-1 10.20.30.41:7001\n    server replica-2 127.0.0.1:1 disabled\n", 0)
	writeMasterPID(t, f)
	reloads := catchReload(t, true)
	stdout, stderr := f.run(t)
	signalled(t, reloads)
	wantOut := "reload-haproxy: haproxy routes to 1 hello_server replica(s): 10.20.30.41:7001 (reloaded)\n"
	wantErr := "reload-haproxy: show servers state hello_server: dial unix " + filepath.Join(f.dir, "haproxy.sock") + ": connect: no such file or directory\n" +
		"reload-haproxy: changing the servers through the Runtime API failed (above); reloading haproxy instead\n"
	if stdout != wantOut || stderr != wantErr {
		t.Errorf("expected stdout %q and stderr %q\nreceived %q and %q", wantOut, wantErr, stdout, stderr)
	}
}

// A render that changes more than servers (a second Consul service was
// declared) reloads HAProxy without trying the Runtime API, which cannot
// add a backend or a route.
func TestNewLayoutReloads(t *testing.T) {
	render := captured(t, "load-balancer.cfg")
	// The config before: hello_server alone.
	before := render[:strings.Index(render, "\nbackend echo_server")] + render[strings.Index(render, "\nbackend hello_server"):]
	f := newFilesAfter(t, render, before, 0)
	writeMasterPID(t, f)
	api := serveFakeRuntimeAPI(t, filepath.Join(f.dir, "haproxy.sock"), nil)
	reloads := catchReload(t, true)
	stdout, stderr := f.run(t)
	signalled(t, reloads)
	wantOut := "reload-haproxy: the render changes more than servers (the declaration of routes, or the template); reloading haproxy\n" +
		"reload-haproxy: haproxy routes to " + capturedRoutes + " (reloaded)\n"
	if stdout != wantOut || stderr != capturedSkipped {
		t.Errorf("expected stdout %q and stderr %q\nreceived %q and %q", wantOut, capturedSkipped, stdout, stderr)
	}
	if got := api.commands(); len(got) != 0 {
		t.Errorf("Runtime API commands: expected none, received %q", got)
	}
	if got := f.read(t, "load-balancer.cfg.last-good"); got != render {
		t.Errorf("the last good copy is %q, expected the render", got)
	}
}

// When that reload starts no new worker, the last good copy stays the
// config HAProxy runs, so the next render reloads again.
func TestNewLayoutReloadThatFailsIsTriedAgain(t *testing.T) {
	defer func(wait time.Duration) { newWorkerWait = wait }(newWorkerWait)
	newWorkerWait = 300 * time.Millisecond
	render := captured(t, "load-balancer.cfg")
	before := "backend hello_server from replicas\n    server replica-1 10.20.30.41:7001\n"
	f := newFilesAfter(t, render, before, 0)
	writeMasterPID(t, f)
	reloads := catchReload(t, false)
	stdout, stderr := f.run(t)
	signalled(t, reloads)
	wantOut := "reload-haproxy: the render changes more than servers (the declaration of routes, or the template); reloading haproxy\n"
	wantErr := capturedSkipped + "reload-haproxy: haproxy's master started no new worker within 10 s of the reload signal; the next render tries again\n"
	if stdout != wantOut || stderr != wantErr {
		t.Errorf("expected stdout %q and stderr %q\nreceived %q and %q", wantOut, wantErr, stdout, stderr)
	}
	if got := f.read(t, "load-balancer.cfg.last-good"); got != before {
		t.Errorf("the last good copy is %q, expected the one from before the run", got)
	}
	if got := f.read(t, "load-balancer.cfg"); got != render {
		t.Errorf("the render is %q, expected it unchanged", got)
	}
}

// Without a last good copy there is nothing to compare with: HAProxy is
// reloaded.
func TestNoLastGoodCopyReloads(t *testing.T) {
	render := captured(t, "load-balancer.cfg")
	f := newFiles(t, render, 0)
	if err := os.Remove(filepath.Join(f.dir, "load-balancer.cfg.last-good")); err != nil {
		t.Fatal(err)
	}
	writeMasterPID(t, f)
	reloads := catchReload(t, true)
	stdout, _ := f.run(t)
	signalled(t, reloads)
	if want := "reload-haproxy: haproxy routes to " + capturedRoutes + " (reloaded)\n"; !strings.HasSuffix(stdout, want) {
		t.Errorf("expected stdout ending %q, received %q", want, stdout)
	}
}
