package main

import (
	"testing"
	"time"
)

func TestParseMiB(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
	}{{"38.5MiB", 38.5}, {"1.5GiB", 1536}, {"512KiB", 0.5}} {
		got, err := parseMiB(c.in)
		if err != nil || got != c.want {
			t.Errorf("parseMiB(%q): expected %v, received %v (err %v)", c.in, c.want, got, err)
		}
	}
	if _, err := parseMiB("12MB"); err == nil {
		t.Error(`parseMiB("12MB"): expected an error for an unknown unit`)
	}
}

func TestServiceOf(t *testing.T) {
	for in, want := range map[string]string{
		"grpclb_hello_server_3":    "hello_server",
		"grpclb-hello_server-12":   "hello_server",
		"grpclb_consul-server-1_1": "consul-server-1",
		"grpclb_load-balancer_1":   "load-balancer",
	} {
		if got := serviceOf(in); got != want {
			t.Errorf("serviceOf(%q): expected %q, received %q", in, want, got)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 20; i++ {
		d = append(d, time.Duration(21-i)*time.Millisecond) // unsorted on purpose
	}
	if got := percentile(d, 0.5); got != 10*time.Millisecond {
		t.Errorf("p50: expected 10ms, received %s", got)
	}
	if got := percentile(d, 0.95); got != 19*time.Millisecond {
		t.Errorf("p95: expected 19ms, received %s", got)
	}
	if got := percentile(nil, 0.95); got != 0 {
		t.Errorf("p95 of nothing: expected 0, received %s", got)
	}
}
