package loadclient

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
)

func TestReplicaOf(t *testing.T) {
	cases := map[string]string{
		"Hello from a.":             "a",
		"Hello from web-1.example.": "web-1.example",
		"Hello from b":              "b",
		"Hi there":                  `unrecognised reply "Hi there"`,
		"":                          `unrecognised reply ""`,
	}
	for in, want := range cases {
		if got := ReplicaOf(in); got != want {
			t.Errorf("ReplicaOf(%q): got %q, want %q", in, got, want)
		}
	}
}

// okResult and failedResult build the results a call would report.
func okResult(start time.Time, latency time.Duration, replica string) result {
	return result{start: start, latency: latency, code: codes.OK, replica: replica, reply: "Hello from " + replica + "."}
}

func failedResult(start time.Time, latency time.Duration, code codes.Code, msg string) result {
	return result{start: start, latency: latency, code: code, message: msg}
}

func TestSummarizeCountsAndPercentiles(t *testing.T) {
	t0 := time.UnixMilli(1_700_000_000_000)
	var rs []result
	// Ten OK calls of 1..10 ms ending in second 0: four on a, three on b and c.
	for i, replica := range []string{"a", "b", "c", "a", "b", "c", "a", "b", "c", "a"} {
		rs = append(rs, okResult(t0, time.Duration(i+1)*time.Millisecond, replica))
	}
	// Two failures ending in second 1.
	rs = append(rs,
		failedResult(t0.Add(1500*time.Millisecond), 20*time.Millisecond, codes.Unavailable, "connection refused"),
		failedResult(t0.Add(1200*time.Millisecond), 30*time.Millisecond, codes.DeadlineExceeded, "context deadline exceeded"))

	s := summarize("lb:5000", t0, 2*time.Second, rs)

	if s.Target != "lb:5000" || s.Calls != 12 || s.OK != 10 || s.Failed != 2 {
		t.Errorf("target/calls/ok/failed: got %q/%d/%d/%d, want lb:5000/12/10/2", s.Target, s.Calls, s.OK, s.Failed)
	}
	wantReplicas := map[string]int{"a": 4, "b": 3, "c": 3}
	if !maps.Equal(s.ByReplica, wantReplicas) {
		t.Errorf("by_replica: got %v, want %v (failed calls have no replica)", s.ByReplica, wantReplicas)
	}
	wantCodes := map[string]int{"OK": 10, "Unavailable": 1, "DeadlineExceeded": 1}
	if !maps.Equal(s.Codes, wantCodes) {
		t.Errorf("codes: got %v, want %v", s.Codes, wantCodes)
	}
	// Nearest rank over the 12 sorted latencies 1..10, 20, 30 ms:
	// p50 is the 6th, p90 the 11th, p99 the 12th.
	if s.P50Ms != 6 || s.P90Ms != 20 || s.P99Ms != 30 || s.MaxMs != 30 {
		t.Errorf("p50/p90/p99/max: got %v/%v/%v/%v ms, want 6/20/30/30 ms", s.P50Ms, s.P90Ms, s.P99Ms, s.MaxMs)
	}
	if s.DurationS != 2 || s.CallsPerSecond != 6 || s.StartUnixMs != t0.UnixMilli() {
		t.Errorf("duration_s/calls_per_second/start: got %v/%v/%d, want 2/6/%d", s.DurationS, s.CallsPerSecond, s.StartUnixMs, t0.UnixMilli())
	}
	// The first reply of each replica: a's 1 ms call, b's 2 ms, c's 3 ms.
	wantFirst := map[string]int64{"a": t0.UnixMilli() + 1, "b": t0.UnixMilli() + 2, "c": t0.UnixMilli() + 3}
	if !maps.Equal(s.FirstReplyUnixMs, wantFirst) {
		t.Errorf("first_reply_unix_ms: got %v, want %v", s.FirstReplyUnixMs, wantFirst)
	}
	wantTimeline := []Second{{Second: 0, OK: 10}, {Second: 1, Failed: 2}}
	if !slices.Equal(s.Timeline, wantTimeline) {
		t.Errorf("timeline: got %+v, want %+v", s.Timeline, wantTimeline)
	}
	wantFailures := []Failure{
		{StartUnixMs: t0.UnixMilli() + 1500, Code: "Unavailable", Message: "connection refused"},
		{StartUnixMs: t0.UnixMilli() + 1200, Code: "DeadlineExceeded", Message: "context deadline exceeded"},
	}
	if !slices.Equal(s.Failures, wantFailures) {
		t.Errorf("failures: got %+v, want %+v", s.Failures, wantFailures)
	}
}

func TestSummarizePercentilesOfHundred(t *testing.T) {
	t0 := time.Now()
	var rs []result
	// Given in reverse so summarize has to sort.
	for i := 100; i >= 1; i-- {
		rs = append(rs, okResult(t0, time.Duration(i)*time.Millisecond, "a"))
	}
	s := summarize("x:1", t0, time.Second, rs)
	if s.P50Ms != 50 || s.P90Ms != 90 || s.P99Ms != 99 || s.MaxMs != 100 {
		t.Errorf("p50/p90/p99/max of 1..100 ms: got %v/%v/%v/%v, want 50/90/99/100", s.P50Ms, s.P90Ms, s.P99Ms, s.MaxMs)
	}
}

func TestSummarizeNoCalls(t *testing.T) {
	s := summarize("x:1", time.Now(), 0, nil)
	if s.Calls != 0 || s.P50Ms != 0 || s.MaxMs != 0 || s.CallsPerSecond != 0 {
		t.Errorf("empty run: got calls %d p50 %v max %v rate %v, want all 0", s.Calls, s.P50Ms, s.MaxMs, s.CallsPerSecond)
	}
	// JSON readers expect {} and [], not null.
	if s.ByReplica == nil || s.Codes == nil || s.Timeline == nil || s.Failures == nil {
		t.Errorf("empty run: got nil maps or slices %+v, want empty ones", s)
	}
}

func TestSummarizeKeepsBoundedFailures(t *testing.T) {
	t0 := time.Now()
	rs := make([]result, maxKeptFailures+5)
	for i := range rs {
		rs[i] = failedResult(t0, time.Millisecond, codes.Unavailable, "down")
	}
	s := summarize("x:1", t0, time.Second, rs)
	if s.Failed != maxKeptFailures+5 || len(s.Failures) != maxKeptFailures {
		t.Errorf("failed %d, kept %d: want failed %d, kept %d", s.Failed, len(s.Failures), maxKeptFailures+5, maxKeptFailures)
	}
}

func TestWriteText(t *testing.T) {
	t0 := time.Now()
	rs := []result{
		okResult(t0, time.Millisecond, "a"), okResult(t0, time.Millisecond, "a"), okResult(t0, time.Millisecond, "b"),
		failedResult(t0, time.Millisecond, codes.Unavailable, "no healthy upstream"),
	}
	var out bytes.Buffer
	summarize("lb:5000", t0, time.Second, rs).WriteText(&out)
	text := out.String()
	for _, want := range []string{
		"target:  lb:5000\n",
		"ok:      3\n",
		"failed:  1\n",
		"calls per replica:\n",
		"  a                          2   66.7%  " + strings.Repeat("#", 26) + "\n",
		"  b                          1   33.3%  " + strings.Repeat("#", 13) + "\n",
		"status codes:\n",
		"  OK                         3\n",
		"  Unavailable                1\n",
		"  first Unavailable: no healthy upstream\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("WriteText output lacks %q; got:\n%s", want, text)
		}
	}
}
