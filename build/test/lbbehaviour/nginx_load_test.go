package lbbehaviour

import (
	"encoding/json"
	"maps"
	"regexp"
	"strconv"
	"testing"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/grpc_client/loadclient"
)

// startReplicas serves the Ping service as each hostname and returns the addresses.
func startReplicas(t *testing.T, hostnames ...string) []string {
	t.Helper()
	var addrs []string
	for _, h := range hostnames {
		addrs = append(addrs, testenv.StartPingServer(t, h).Addr)
	}
	return addrs
}

func TestLoadThroughNginxJSON(t *testing.T) {
	lb := testenv.StartNginx(t, startReplicas(t, "a", "b", "c"))
	out, code := testenv.RunClient(t, append(testenv.ClientTargetFlags(t, lb), "-n=300", "-c=10", "-json")...)
	if code != loadclient.ExitOK {
		t.Fatalf("exit code: got %d, want %d; output:\n%s", code, loadclient.ExitOK, out)
	}
	var s loadclient.Summary
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("output is not one JSON summary: %v\n%s", err, out)
	}
	if s.Calls != 300 || s.OK != 300 || s.Failed != 0 || s.Target != lb {
		t.Errorf("calls/ok/failed/target: got %d/%d/%d/%s, want 300/300/0/%s", s.Calls, s.OK, s.Failed, s.Target, lb)
	}
	if len(s.ByReplica) != 3 || s.ByReplica["a"] == 0 || s.ByReplica["b"] == 0 || s.ByReplica["c"] == 0 {
		t.Errorf("by_replica: got %v, want exactly a, b and c", s.ByReplica)
	}
	if !maps.Equal(s.Codes, map[string]int{"OK": 300}) {
		t.Errorf("codes: got %v, want map[OK:300]", s.Codes)
	}
}

func TestLoadThroughNginxText(t *testing.T) {
	lb := testenv.StartNginx(t, startReplicas(t, "a", "b", "c"))
	out, code := testenv.RunClient(t, append(testenv.ClientTargetFlags(t, lb), "-n=60", "-c=3")...)
	if code != loadclient.ExitOK {
		t.Fatalf("exit code: got %d, want %d; output:\n%s", code, loadclient.ExitOK, out)
	}
	// One table row per replica: name, calls, share, bar.
	row := regexp.MustCompile(`(?m)^  (\S+)\s+(\d+)\s+[\d.]+%\s+#*$`)
	got := map[string]int{}
	for _, m := range row.FindAllStringSubmatch(out, -1) {
		n, _ := strconv.Atoi(m[2])
		got[m[1]] = n
	}
	if len(got) != 3 || got["a"]+got["b"]+got["c"] != 60 || got["a"] == 0 || got["b"] == 0 || got["c"] == 0 {
		t.Errorf("per-replica rows: got %v, want a, b and c sharing 60 calls; output:\n%s", got, out)
	}
	codes := regexp.MustCompile(`(?m)^status codes:\n  OK\s+60$`)
	if !codes.MatchString(out) {
		t.Errorf("status codes: want a section with exactly %q; output:\n%s", "OK 60", out)
	}
}
