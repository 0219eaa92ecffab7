package registration

import (
	"testing"
	"time"
)

func testConfig() Config {
	return Config{
		AppName: "ping", AppPort: 7777, CheckType: "grpc", CheckPort: 7777,
		CheckInterval: time.Second, CheckTimeout: 2 * time.Second, DeregisterCriticalAfter: time.Minute,
		Tags: []string{"grpc", "v1"},
	}
}

func TestRegistrationGRPCCheck(t *testing.T) {
	for _, tc := range []struct{ endpoint, want string }{
		{"", "172.18.0.5:7777"},
		{"protos.Ping", "172.18.0.5:7777/protos.Ping"},
	} {
		cfg := testConfig()
		cfg.CheckEndpoint = tc.endpoint
		reg := Registration(cfg, "host1", "172.18.0.5")
		if reg.Check == nil {
			t.Fatalf("endpoint %q: registration has no check", tc.endpoint)
		}
		if reg.Check.GRPC != tc.want || reg.Check.HTTP != "" {
			t.Errorf("endpoint %q: got GRPC %q HTTP %q, want GRPC %q and no HTTP", tc.endpoint, reg.Check.GRPC, reg.Check.HTTP, tc.want)
		}
		if reg.Check.CheckID != "ping-host1-7777-grpc" {
			t.Errorf("check ID: got %q, want %q", reg.Check.CheckID, "ping-host1-7777-grpc")
		}
		if want := "gRPC health 172.18.0.5:7777"; reg.Check.Name != want {
			t.Errorf("endpoint %q: check name: got %q, want %q", tc.endpoint, reg.Check.Name, want)
		}
		if len(reg.Checks) != 0 {
			t.Errorf("endpoint %q: got Checks %+v, want only Check", tc.endpoint, reg.Checks)
		}
	}
}

// A list of gRPC services is one check each, in Checks: the instance passes
// only while all of them do.
func TestRegistrationGRPCCheckList(t *testing.T) {
	cfg := testConfig()
	cfg.CheckEndpoint = "protos.Ping,protos.Echo"
	reg := Registration(cfg, "host1", "172.18.0.5")
	if reg.Check != nil {
		t.Errorf("got Check %+v, want none: a list goes in Checks", reg.Check)
	}
	want := []struct{ id, name, grpc string }{
		{"ping-host1-7777-grpc-protos.Ping", "gRPC health 172.18.0.5:7777 protos.Ping", "172.18.0.5:7777/protos.Ping"},
		{"ping-host1-7777-grpc-protos.Echo", "gRPC health 172.18.0.5:7777 protos.Echo", "172.18.0.5:7777/protos.Echo"},
	}
	if len(reg.Checks) != len(want) {
		t.Fatalf("got %d checks, want %d", len(reg.Checks), len(want))
	}
	for i, w := range want {
		c := reg.Checks[i]
		if c.CheckID != w.id || c.Name != w.name || c.GRPC != w.grpc || c.HTTP != "" {
			t.Errorf("check %d: got ID %q name %q GRPC %q HTTP %q, want ID %q name %q GRPC %q and no HTTP",
				i, c.CheckID, c.Name, c.GRPC, c.HTTP, w.id, w.name, w.grpc)
		}
		if c.Interval != "1s" || c.Timeout != "2s" || c.DeregisterCriticalServiceAfter != "1m0s" || c.Status != "" {
			t.Errorf("check %d: got interval %q timeout %q deregister %q status %q, want 1s 2s 1m0s and no status (critical)",
				i, c.Interval, c.Timeout, c.DeregisterCriticalServiceAfter, c.Status)
		}
	}
	if got := Checks(reg); len(got) != 2 || got[0] != reg.Checks[0] || got[1] != reg.Checks[1] {
		t.Errorf("Checks(reg): got %v, want reg.Checks", got)
	}
}

func TestChecksOfSingleCheck(t *testing.T) {
	reg := Registration(testConfig(), "host1", "172.18.0.5")
	if got := Checks(reg); len(got) != 1 || got[0] != reg.Check {
		t.Errorf("Checks(reg): got %v, want [reg.Check]", got)
	}
}

func TestRegistrationHTTPCheck(t *testing.T) {
	cfg := testConfig()
	cfg.CheckType, cfg.CheckEndpoint, cfg.CheckPort = "http", "/healthz", 9090
	reg := Registration(cfg, "host1", "172.18.0.5")
	if want := "http://172.18.0.5:9090/healthz"; reg.Check.HTTP != want || reg.Check.GRPC != "" {
		t.Errorf("got HTTP %q GRPC %q, want HTTP %q and no GRPC", reg.Check.HTTP, reg.Check.GRPC, want)
	}
	// The service itself stays on APP_PORT; only the check uses HEALTH_CHECK_PORT.
	if reg.Port != 7777 {
		t.Errorf("service port: got %d, want 7777", reg.Port)
	}
}

func TestRegistrationFields(t *testing.T) {
	reg := Registration(testConfig(), "host1", "172.18.0.5")
	if reg.ID != "ping-host1-7777" || reg.Name != "ping" || reg.Address != "172.18.0.5" || reg.Port != 7777 {
		t.Errorf("got ID %q name %q address %q port %d, want ping-host1-7777 ping 172.18.0.5 7777", reg.ID, reg.Name, reg.Address, reg.Port)
	}
	if len(reg.Tags) != 2 || reg.Tags[0] != "grpc" || reg.Tags[1] != "v1" {
		t.Errorf("tags: got %q, want [grpc v1]", reg.Tags)
	}
	if reg.Meta["hostname"] != "host1" {
		t.Errorf("meta hostname: got %q, want host1", reg.Meta["hostname"])
	}
	c := reg.Check
	if c.Interval != "1s" || c.Timeout != "2s" || c.DeregisterCriticalServiceAfter != "1m0s" {
		t.Errorf("check timing: got interval %q timeout %q deregister %q, want 1s 2s 1m0s", c.Interval, c.Timeout, c.DeregisterCriticalServiceAfter)
	}
	// No status: Consul starts the check critical unless the registrar's probe passed.
	if c.Status != "" {
		t.Errorf("check status: got %q, want none", c.Status)
	}
}

func TestServiceIDUnique(t *testing.T) {
	cfg := testConfig()
	other := cfg
	other.AppPort = 7778
	ids := map[string]string{}
	for _, c := range []struct {
		label string
		cfg   Config
		host  string
	}{
		{"host1:7777", cfg, "host1"},
		{"host2:7777", cfg, "host2"},
		{"host1:7778", other, "host1"},
	} {
		id := ServiceID(c.cfg, c.host)
		if prev, dup := ids[id]; dup {
			t.Errorf("ServiceID for %s and %s: both %q, want distinct IDs", prev, c.label, id)
		}
		ids[id] = c.label
	}
	// A restarted registrar on the same host reuses its ID and so replaces its entry.
	if a, b := ServiceID(cfg, "host1"), ServiceID(cfg, "host1"); a != b {
		t.Errorf("ServiceID is not stable: %q then %q", a, b)
	}
}

// The registrar polls the local agent every 100 ms for 2 s, then backs off
// from 200 ms to 5 s; the default 30 attempts wait about 28 s in all.
func TestDefaultBackoff(t *testing.T) {
	want := map[int]time.Duration{1: 100 * time.Millisecond, 20: 100 * time.Millisecond,
		21: 200 * time.Millisecond, 22: 400 * time.Millisecond, 24: 1600 * time.Millisecond,
		25: 3200 * time.Millisecond, 26: 5 * time.Second, 29: 5 * time.Second, 1000: 5 * time.Second}
	for attempt, d := range want {
		if got := DefaultBackoff(attempt); got != d {
			t.Errorf("DefaultBackoff(%d): expected %s, received %s", attempt, d, got)
		}
	}
	var total time.Duration
	for attempt := 1; attempt < 30; attempt++ { // 30 attempts, 29 pauses
		total += DefaultBackoff(attempt)
	}
	if total != 28200*time.Millisecond {
		t.Errorf("30 attempts: expected 28.2s of pauses, received %s", total)
	}
}
