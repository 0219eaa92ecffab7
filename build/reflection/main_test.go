package main

import (
	"bytes"
	"context"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A bad flag or declaration exits 2 with one line naming the setting, the
// value and what is accepted, and serves nothing.
func TestBadSettingsAreRefused(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.conf")
	claims := filepath.Join(dir, "claims.conf")
	if err := os.WriteFile(good, []byte("hello_server protos.Ping\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(claims, []byte("hello_server protos.Ping grpc.reflection.v1.ServerReflection\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-declaration", good, "-listen", "0.0.0.0:7780"}, `-listen="0.0.0.0:7780" is invalid: accepted is a loopback address`},
		{[]string{"-declaration", good, "-listen", "7780"}, `-listen="7780" is invalid`},
		{[]string{"-declaration", good, "-try-timeout", "0s"}, `-try-timeout=0s is invalid: accepted is a duration above 0`},
		{[]string{"-declaration", good, "extra"}, `argument "extra" is invalid: accepted is no argument`},
		{[]string{"-declaration", filepath.Join(dir, "missing.conf")}, "the declaration of routes -declaration=" + filepath.Join(dir, "missing.conf") + " is refused"},
		{[]string{"-declaration", claims}, `gRPC service "grpc.reflection.v1.ServerReflection" is the load balancer's own`},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), c.args, &stderr); code != exitFlags {
			t.Errorf("%q: exit %d, expected %d", c.args, code, exitFlags)
		}
		if !strings.Contains(stderr.String(), c.want) || !strings.HasPrefix(stderr.String(), logPrefix) {
			t.Errorf("%q: expected a line starting %q containing %q, received %q", c.args, logPrefix, c.want, stderr.String())
		}
	}
}

// It serves until its context ends, then exits 0.
func TestServesUntilStopped(t *testing.T) {
	decl := filepath.Join(t.TempDir(), "services.conf")
	if err := os.WriteFile(decl, []byte("hello_server protos.Ping\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"-declaration", decl, "-listen", "127.0.0.1:0"}, &stderr) }()
	cancel()
	if code := <-done; code != exitOK {
		t.Errorf("exit %d after the stop, expected 0: %s", code, stderr.String())
	}
}

// A new declaration is answered at once, as the engines follow it on their
// next render; one that no longer parses is logged once and the last good
// one is kept.
func TestDeclarationIsReadAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "services.conf")
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("hello_server protos.Ping\n")
	var logs bytes.Buffer
	d, err := newDeclarationFile(path, log.New(&logs, logPrefix, 0))
	if err != nil {
		t.Fatal(err)
	}
	listed := func() string { return strings.Join(d.current().listed(), " ") }
	reflectionNames := "grpc.reflection.v1.ServerReflection grpc.reflection.v1alpha.ServerReflection"
	if got, want := listed(), reflectionNames+" protos.Ping"; got != want {
		t.Errorf("first declaration: listed %q, expected %q", got, want)
	}
	write("hello_server protos.Ping\necho_server protos.Echo\n")
	if got, want := listed(), reflectionNames+" protos.Echo protos.Ping"; got != want {
		t.Errorf("after echo_server was declared: listed %q, expected %q", got, want)
	}
	write("Bad protos.Ping\n")
	for range 2 {
		if got, want := listed(), reflectionNames+" protos.Echo protos.Ping"; got != want {
			t.Errorf("after a bad declaration: listed %q, expected the last good %q", got, want)
		}
	}
	if n := strings.Count(logs.String(), "is refused, answering from the last good one"); n != 1 || !strings.Contains(logs.String(), `Consul service "Bad"`) {
		t.Errorf("expected one log line naming the bad line, received %q", logs.String())
	}
}
