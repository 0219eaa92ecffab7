package pingserver_test

import (
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/grpc_server/pingserver"
)

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := pingserver.ParseConfig(nil, io.Discard)
	if err != nil {
		t.Fatalf("ParseConfig(no flags): unexpected error: %v", err)
	}
	want := pingserver.Config{Port: 7777, DrainPeriod: 3 * time.Second, ShutdownTimeout: 10 * time.Second, FlowControl: "static"}
	if cfg != want {
		t.Errorf("ParseConfig(no flags):\n got  %+v\n want %+v", cfg, want)
	}
}

func TestParseConfigAcceptsEdges(t *testing.T) {
	args := []string{"-port=65535", "-drain=0s", "-shutdown-timeout=1ms", "-log-calls", "-flow-control=dynamic"}
	cfg, err := pingserver.ParseConfig(args, io.Discard)
	if err != nil {
		t.Fatalf("ParseConfig(%q): unexpected error: %v", args, err)
	}
	want := pingserver.Config{Port: 65535, DrainPeriod: 0, ShutdownTimeout: time.Millisecond, LogCalls: true, FlowControl: "dynamic"}
	if cfg != want {
		t.Errorf("ParseConfig(%q):\n got  %+v\n want %+v", args, cfg, want)
	}
}

func TestParseConfigRejects(t *testing.T) {
	// want lists what the error must contain: the flag, the value and the
	// accepted range. -port's own cases are grpc_server/portflag's; these two
	// show ParseConfig uses it for parsing and for the range.
	cases := []struct {
		arg  string
		want []string
	}{
		{"-port=0", []string{"-port=0", "1-65535"}},
		{"-port=abc", []string{"-port", `"abc"`, "1-65535"}},
		{"-drain=-1s", []string{"-drain=-1s", "0s to 5m"}},
		{"-drain=6m", []string{"-drain=6m0s", "0s to 5m"}},
		{"-shutdown-timeout=0", []string{"-shutdown-timeout=0s", "1ms to 10m"}},
		{"extra", []string{`"extra"`, "flags only"}},
		{"-flow-control=bdp", []string{`-flow-control="bdp"`, "static or dynamic"}},
		{"-flow-control=", []string{`-flow-control=""`, "static or dynamic"}},
	}
	for _, tc := range cases {
		_, err := pingserver.ParseConfig([]string{tc.arg}, io.Discard)
		testenv.RequireOneError(t, fmt.Sprintf("ParseConfig(%q)", tc.arg), err, tc.want...)
	}
}
