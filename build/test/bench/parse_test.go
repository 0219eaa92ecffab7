package main

import (
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/supervisorconf"
	"github.com/grpc-lb/nginx-consul/build/test/testenv"
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

func TestParseCgroupCPU(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"usage_usec 1500000\nuser_usec 1000000\nsystem_usec 500000\n": 1500 * time.Millisecond, // cgroup v2
		"cpuacct_ns 5085305112\n":                                     5085305112,              // cgroup v1
	} {
		got, err := parseCgroupCPU(in)
		if err != nil || got != want {
			t.Errorf("parseCgroupCPU(%q): expected %s, received %s (err %v)", in, want, got, err)
		}
	}
	if _, err := parseCgroupCPU("cpuacct_ns \n"); err == nil {
		t.Error("parseCgroupCPU with no number: expected an error")
	}
}

func TestParseProcStatBusy(t *testing.T) {
	// user nice system idle iowait irq softirq steal guest guest_nice
	stat := "cpu  100 5 50 9000 20 1 4 0 30 0\ncpu0 50 2 25 4500 10 0 2 0 15 0\n"
	got, err := parseProcStatBusy(stat)
	if want := 160 * 10 * time.Millisecond; err != nil || got != want {
		t.Errorf("expected %s busy (idle, iowait and guest left out), received %s (err %v)", want, got, err)
	}
	if _, err := parseProcStatBusy("intr 1 2 3\n"); err == nil {
		t.Error("expected an error for a /proc/stat without the cpu line")
	}
}

func TestPerCall(t *testing.T) {
	before := cpuSnapshot{lb: time.Second, replicas: 2 * time.Second, machine: 10 * time.Second}
	after := cpuSnapshot{lb: 3 * time.Second, replicas: 6 * time.Second, machine: 20 * time.Second}
	got := perCall(before, after, 1.0, 100000)
	want := CPUPerCall{Client: 10 * time.Microsecond, LB: 20 * time.Microsecond, Replicas: 40 * time.Microsecond, Machine: 100 * time.Microsecond}
	if got != want {
		t.Errorf("expected %+v, received %+v", want, got)
	}
	if zero := perCall(before, after, 1, 0); zero != (CPUPerCall{}) {
		t.Errorf("no calls: expected zeros, received %+v", zero)
	}
}

func TestFirstStamp(t *testing.T) {
	logs := "2026-11-26T03:59:33.318Z registrar: 2026/11/26 03:59:33 retrying 1/10: connection refused\n" +
		"2026-11-26T03:59:33.662Z registrar: 2026/11/26 03:59:33 registered hello_server-a-7777 (service hello_server)\n" +
		"2026-11-26T04:10:00.000Z registrar: 2026/11/26 04:10:00 registered hello_server-a-7777 (service hello_server)\n"
	since := time.Date(2026, 11, 26, 3, 59, 33, 0, time.UTC)
	got, err := firstStamp(logs, "registrar: ", "registered ", since)
	if want := time.Date(2026, 11, 26, 3, 59, 33, 662e6, time.UTC); err != nil || !got.Equal(want) {
		t.Errorf("expected %s, received %s (err %v)", want, got, err)
	}
	got, err = firstStamp(logs, "registrar: ", "registered ", since.Add(time.Minute))
	if want := time.Date(2026, 11, 26, 4, 10, 0, 0, time.UTC); err != nil || !got.Equal(want) {
		t.Errorf("lines before since are skipped: expected %s, received %s (err %v)", want, got, err)
	}
	if _, err := firstStamp(logs, "reload-nginx: ", "reloaded", since); err == nil {
		t.Error("expected an error when no line matches")
	}
}

func TestWithinTarget(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{1500 * time.Millisecond, "within the 2s target"},
		{2 * time.Second, "within the 2s target"},
		{2001 * time.Millisecond, "OVER the 2s target"},
	} {
		if got := withinTarget(c.d, FirstRoutedTarget); got != c.want {
			t.Errorf("withinTarget(%s): expected %q, received %q", c.d, c.want, got)
		}
	}
}

func TestParseSteps(t *testing.T) {
	if s, err := ParseSteps("all"); err != nil || s != nil {
		t.Errorf(`ParseSteps("all"): expected every step (nil), received %v (err %v)`, s, err)
	}
	s, err := ParseSteps("first-routed,ghz-scale")
	if err != nil || len(s) != 2 || !s["first-routed"] || !s["ghz-scale"] {
		t.Errorf(`ParseSteps("first-routed,ghz-scale"): expected those two, received %v (err %v)`, s, err)
	}
	for _, bad := range []string{"", "ghz", "paths,", "all,paths"} {
		_, err := ParseSteps(bad)
		if err == nil || !strings.Contains(err.Error(), "-steps=") || !strings.Contains(err.Error(), "ghz-scale") {
			t.Errorf("ParseSteps(%q): expected an error naming -steps and the accepted steps, received %v", bad, err)
		}
	}
}

func TestParseEngines(t *testing.T) {
	engines, err := supervisorconf.RepoEngines(testenv.RepoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	Engines = engines
	partial := map[string]bool{"ghz-scale": true}
	if e, err := ParseEngines("nginx", partial); err != nil || len(e) != 1 || e[0] != "nginx" {
		t.Errorf(`ParseEngines("nginx"): expected [nginx], received %v (err %v)`, e, err)
	}
	for _, c := range []struct {
		v     string
		steps map[string]bool
	}{{"nginx", nil}, {"nginx", map[string]bool{"paths": true}}, {"envoy", partial}, {"nginx,nginx", partial}, {"", partial}} {
		if _, err := ParseEngines(c.v, c.steps); err == nil || !strings.Contains(err.Error(), "-engines=") {
			t.Errorf("ParseEngines(%q, %v): expected an error naming -engines, received %v", c.v, c.steps, err)
		}
	}
}
