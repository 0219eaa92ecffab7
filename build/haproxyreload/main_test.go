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
		backend:       "hello_server",
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
		{[]string{"-backend", "hello server"}, `reload-haproxy: -backend "hello server" is invalid: accepted is a HAProxy backend name: letters, digits and "_", ".", ":", "-"`},
		{[]string{"-backend", "x;disable server y/z"}, `reload-haproxy: -backend "x;disable server y/z" is invalid: accepted is a HAProxy backend name`},
		{[]string{"-backend", ""}, `reload-haproxy: -backend "" is invalid`},
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

func newFiles(t *testing.T, render string, checkExit int) files {
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
		"-last-good", write("load-balancer.cfg.last-good", "the last good render\n", 0o644),
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
	f := newFiles(t, "backend hello_server\n    server replica-1 10.0.0.1:7001 no-such-keyword\n", 1)
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
	f := newFiles(t, render, 0)
	stdout, stderr := f.run(t)
	wantOut := "reload-haproxy: haproxy is not running yet; it will start with 2 hello_server replica(s): 10.20.30.41:7001 10.20.30.42:7001\n"
	wantErr := "reload-haproxy: skipped hello_server instance (not an IPv4 address with a port from 1 to 65535): id=name node=bad-name address=not-an-ip port=7001\n" +
		"reload-haproxy: skipped hello_server instance (not an IPv4 address with a port from 1 to 65535): id=port-0 node=bad-port address=10.20.30.49 port=0\n"
	if stdout != wantOut || stderr != wantErr {
		t.Errorf("expected stdout %q and stderr %q\nreceived %q and %q", wantOut, wantErr, stdout, stderr)
	}
	if got := f.read(t, "load-balancer.cfg.last-good"); got != render {
		t.Errorf("the last good copy is %q, expected the render", got)
	}
}

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
	render := strings.Replace(captured(t, "load-balancer.cfg"), "server replica-1 10.20.30.41:7001\n", "server replica-1 10.20.30.43:7001\n", 1)
	f := newFiles(t, render, 0)
	writeMasterPID(t, f)
	api := serveFakeRuntimeAPI(t, filepath.Join(f.dir, "haproxy.sock"), map[string]string{
		"show servers state hello_server":                              captured(t, "show-servers-state-2-replicas.txt"),
		"set server hello_server/replica-3 addr 10.20.30.43 port 7001": captured(t, "answer-set-server-addr.txt"),
	})
	stdout, stderr := f.run(t)
	wantOut := "reload-haproxy: haproxy routes to 2 hello_server replica(s): 10.20.30.43:7001 10.20.30.42:7001 (Runtime API, no reload)\n"
	if stdout != wantOut || strings.Count(stderr, "\n") != 2 || !strings.Contains(stderr, "skipped hello_server instance") {
		t.Errorf("expected stdout %q and the two skipped lines on stderr, received %q, %q", wantOut, stdout, stderr)
	}
	want := []string{
		"show servers state hello_server",
		"disable server hello_server/replica-1",
		"set server hello_server/replica-3 addr 10.20.30.43 port 7001",
		"enable server hello_server/replica-3",
		`experimental-mode on; set var proc.hello_server_upstream fmt 10.20.30.43:7001\ 10.20.30.42:7001\ `,
	}
	if got := api.commands(); !slices.Equal(got, want) {
		t.Errorf("Runtime API commands:\n  expected %q\n  received %q", want, got)
	}
}

// With no Runtime API, the master gets USR2 and the run waits for its new
// worker: here the test process catches USR2 and starts a child.
func TestRuntimeAPIFailureFallsBackToAReload(t *testing.T) {
	f := newFiles(t, "backend hello_server from hello_server\n    server replica-1 10.20.30.41:7001\n    server replica-2 127.0.0.1:1 disabled\n", 0)
	writeMasterPID(t, f)
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)
	worker := make(chan *exec.Cmd, 1)
	go func() {
		<-usr2
		cmd := exec.Command("sleep", "5")
		if err := cmd.Start(); err != nil {
			t.Error(err)
		}
		worker <- cmd
	}()
	stdout, stderr := f.run(t)
	select {
	case cmd := <-worker:
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	case <-time.After(time.Second):
		t.Error("the master got no USR2")
	}
	wantOut := "reload-haproxy: haproxy routes to 1 hello_server replica(s): 10.20.30.41:7001 (reloaded)\n"
	wantErr := "reload-haproxy: show servers state hello_server: dial unix " + filepath.Join(f.dir, "haproxy.sock") + ": connect: no such file or directory\n" +
		"reload-haproxy: changing the servers through the Runtime API failed (above); reloading haproxy instead\n"
	if stdout != wantOut || stderr != wantErr {
		t.Errorf("expected stdout %q and stderr %q\nreceived %q and %q", wantOut, wantErr, stdout, stderr)
	}
}
