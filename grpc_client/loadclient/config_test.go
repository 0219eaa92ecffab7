package loadclient

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig(nil, io.Discard)
	if err != nil {
		t.Fatalf("ParseConfig(no flags): unexpected error: %v", err)
	}
	want := Config{Host: "localhost", Port: 5000, Calls: 1, Concurrency: 1, Connections: 1,
		Timeout: 5 * time.Second, Greeting: "hello"}
	if cfg != want {
		t.Errorf("ParseConfig(no flags):\n got  %+v\n want %+v", cfg, want)
	}
	if cfg.Target() != "localhost:5000" {
		t.Errorf("Target(): got %q, want %q", cfg.Target(), "localhost:5000")
	}
	if cfg.LoadMode() {
		t.Errorf("LoadMode() with no flags: got true, want false (one plain call)")
	}
}

func TestLoadMode(t *testing.T) {
	cases := []struct {
		args []string
		want bool
	}{
		{[]string{"-n=1"}, false},
		{[]string{"-n=2"}, true},
		{[]string{"-c=2"}, true},
		{[]string{"-duration=1s"}, true},
		{[]string{"-json"}, true},
	}
	for _, tc := range cases {
		cfg, err := ParseConfig(tc.args, io.Discard)
		if err != nil {
			t.Fatalf("ParseConfig(%q): unexpected error: %v", tc.args, err)
		}
		if got := cfg.LoadMode(); got != tc.want {
			t.Errorf("LoadMode() for %q: got %v, want %v", tc.args, got, tc.want)
		}
	}
}

func TestParseConfigRejects(t *testing.T) {
	// want lists what the error must contain: the flag, the value and what
	// is accepted. -port's own cases are grpc_server/portflag's; these two
	// show ParseConfig uses it for parsing and for the range.
	cases := []struct {
		arg  string
		want []string
	}{
		{"-port=0", []string{"-port=0", "1-65535"}},
		{"-port=abc", []string{"-port", `"abc"`, "1-65535"}},
		{"-n=0", []string{"-n=0", "1 or more"}},
		{"-c=0", []string{"-c=0", "1-10000"}},
		{"-connections=0", []string{"-connections=0", "1-1000"}},
		{"-duration=-1s", []string{"-duration=-1s", "positive duration"}},
		{"-timeout=0", []string{"-timeout=0s", "positive duration"}},
		{"-host=", []string{`-host=""`, "host name or IP address"}},
		{"extra", []string{`"extra"`, "flags only"}},
	}
	for _, tc := range cases {
		_, err := ParseConfig([]string{tc.arg}, io.Discard)
		testenv.RequireOneError(t, fmt.Sprintf("ParseConfig(%q)", tc.arg), err, tc.want...)
	}
}
