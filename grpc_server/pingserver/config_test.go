package pingserver

import (
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig(nil, io.Discard)
	if err != nil {
		t.Fatalf("ParseConfig(no flags): unexpected error: %v", err)
	}
	want := Config{Port: 7777, DrainPeriod: 3 * time.Second, ShutdownTimeout: 10 * time.Second}
	if cfg != want {
		t.Errorf("ParseConfig(no flags):\n got  %+v\n want %+v", cfg, want)
	}
}

func TestParseConfigAcceptsEdges(t *testing.T) {
	args := []string{"-port=65535", "-drain=0s", "-shutdown-timeout=1ms", "-log-calls"}
	cfg, err := ParseConfig(args, io.Discard)
	if err != nil {
		t.Fatalf("ParseConfig(%q): unexpected error: %v", args, err)
	}
	want := Config{Port: 65535, DrainPeriod: 0, ShutdownTimeout: time.Millisecond, LogCalls: true}
	if cfg != want {
		t.Errorf("ParseConfig(%q):\n got  %+v\n want %+v", args, cfg, want)
	}
}

func TestParseConfigRejects(t *testing.T) {
	// want lists what the error must contain: the flag, the value and the
	// accepted range.
	cases := []struct {
		arg  string
		want []string
	}{
		{"-port=0", []string{"-port=0", "1-65535"}},
		{"-port=70000", []string{"-port=70000", "1-65535"}},
		{"-port=abc", []string{"-port", `"abc"`, "1-65535"}},
		{"-drain=-1s", []string{"-drain=-1s", "0s to 5m"}},
		{"-drain=6m", []string{"-drain=6m0s", "0s to 5m"}},
		{"-shutdown-timeout=0", []string{"-shutdown-timeout=0s", "1ms to 10m"}},
		{"extra", []string{`"extra"`, "flags only"}},
	}
	for _, tc := range cases {
		t.Run(tc.arg, func(t *testing.T) {
			_, err := ParseConfig([]string{tc.arg}, io.Discard)
			if err == nil {
				t.Fatalf("ParseConfig(%q): got no error, want one containing %q", tc.arg, tc.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("ParseConfig(%q): got several errors, want only the one for %s:\n%v", tc.arg, tc.arg, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("ParseConfig(%q) error:\n got  %q\n want it to contain %q", tc.arg, err, w)
				}
			}
		})
	}
}
