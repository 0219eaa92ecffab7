package loadclient

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/grpc-lb/nginx-consul/grpc_client/stats"
)

// Failure is one failed call, kept so a test can tell when failures happened.
type Failure struct {
	StartUnixMs int64  `json:"start_unix_ms"`
	Code        string `json:"code"`
	Message     string `json:"message"`
}

// Second counts the calls that ended in one second of the run.
type Second struct {
	Second int `json:"second"`
	OK     int `json:"ok"`
	Failed int `json:"failed"`
}

// Summary is the result of a load run; its JSON keys are part of the
// client's interface (tests and make bench read them).
type Summary struct {
	Target    string         `json:"target"`
	Calls     int            `json:"calls"`
	OK        int            `json:"ok"`
	Failed    int            `json:"failed"`
	ByReplica map[string]int `json:"by_replica"`
	// FirstReplyUnixMs is when each replica's first reply arrived: how soon
	// a new replica got traffic.
	FirstReplyUnixMs map[string]int64 `json:"first_reply_unix_ms"`
	Codes            map[string]int   `json:"codes"`
	P50Ms            float64          `json:"p50_ms"`
	P90Ms            float64          `json:"p90_ms"`
	P99Ms            float64          `json:"p99_ms"`
	MaxMs            float64          `json:"max_ms"`
	DurationS        float64          `json:"duration_s"`
	CallsPerSecond   float64          `json:"calls_per_second"`
	StartUnixMs      int64            `json:"start_unix_ms"`
	// CPUSeconds is the CPU time the client itself used while sending the
	// calls (user and system; -1 where the platform does not say).
	CPUSeconds float64   `json:"cpu_seconds"`
	Timeline   []Second  `json:"timeline"`
	Failures   []Failure `json:"failures"`
}

// maxKeptFailures bounds memory when every call fails for a long time (a
// failure is about 100 bytes); the end-to-end suite tells when failures
// started from the kept ones, so it must hold a second of failures at the
// suite's rates with room to spare.
const maxKeptFailures = 20000

// result is what one call reports back to the collector.
type result struct {
	start   time.Time
	latency time.Duration
	code    codes.Code
	message string
	replica string
	reply   string
}

// summarize turns the results into a Summary.
func summarize(target string, start time.Time, elapsed time.Duration, results []result) Summary {
	s := Summary{
		Target:           target,
		ByReplica:        map[string]int{},
		FirstReplyUnixMs: map[string]int64{},
		Codes:            map[string]int{},
		StartUnixMs:      start.UnixMilli(),
		DurationS:        elapsed.Seconds(),
		Timeline:         []Second{},
		Failures:         []Failure{},
	}
	latencies := make([]time.Duration, 0, len(results))
	for _, r := range results {
		s.Calls++
		s.Codes[r.code.String()]++
		latencies = append(latencies, r.latency)
		sec := int(r.start.Add(r.latency).Sub(start) / time.Second)
		for len(s.Timeline) <= sec {
			s.Timeline = append(s.Timeline, Second{Second: len(s.Timeline)})
		}
		if r.code == codes.OK {
			s.OK++
			s.ByReplica[r.replica]++
			end := r.start.Add(r.latency).UnixMilli()
			if first, seen := s.FirstReplyUnixMs[r.replica]; !seen || end < first {
				s.FirstReplyUnixMs[r.replica] = end
			}
			s.Timeline[sec].OK++
			continue
		}
		s.Failed++
		s.Timeline[sec].Failed++
		if len(s.Failures) < maxKeptFailures {
			s.Failures = append(s.Failures, Failure{StartUnixMs: r.start.UnixMilli(), Code: r.code.String(), Message: r.message})
		}
	}
	s.P50Ms = ms(stats.Percentile(latencies, 0.50))
	s.P90Ms = ms(stats.Percentile(latencies, 0.90))
	s.P99Ms = ms(stats.Percentile(latencies, 0.99))
	s.MaxMs = ms(stats.Percentile(latencies, 1))
	if elapsed > 0 {
		s.CallsPerSecond = float64(s.Calls) / elapsed.Seconds()
	}
	return s
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// WriteText prints the summary for a person.
func (s Summary) WriteText(w io.Writer) {
	fmt.Fprintf(w, "target:  %s\n", s.Target)
	fmt.Fprintf(w, "calls:   %d in %.2fs (%.0f/s)\n", s.Calls, s.DurationS, s.CallsPerSecond)
	fmt.Fprintf(w, "ok:      %d\n", s.OK)
	fmt.Fprintf(w, "failed:  %d\n", s.Failed)
	fmt.Fprintf(w, "latency: p50 %.2fms  p90 %.2fms  p99 %.2fms  max %.2fms\n", s.P50Ms, s.P90Ms, s.P99Ms, s.MaxMs)
	fmt.Fprintln(w, "calls per replica:")
	for _, host := range sortedKeys(s.ByReplica) {
		n := s.ByReplica[host]
		fmt.Fprintf(w, "  %-20s %7d  %5.1f%%  %s\n", host, n, 100*float64(n)/float64(max(s.OK, 1)), strings.Repeat("#", 40*n/max(s.OK, 1)))
	}
	fmt.Fprintln(w, "status codes:")
	for _, code := range sortedKeys(s.Codes) {
		fmt.Fprintf(w, "  %-20s %7d\n", code, s.Codes[code])
	}
	shown := map[string]bool{}
	for _, f := range s.Failures {
		if !shown[f.Code] {
			shown[f.Code] = true
			fmt.Fprintf(w, "  first %s: %s\n", f.Code, f.Message)
		}
	}
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
