package loadclient

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// The summary's cpu_seconds is the client's own CPU time over the run: more
// for an unpaced run than for a slow paced one, and never more than the
// run's wall time on every core.
func TestLoadReportsItsCPU(t *testing.T) {
	host, p := pingServer(t)
	run := func(rate float64) Summary {
		cfg := Config{Host: host, Port: p, Calls: 1, Concurrency: 8, Connections: 1,
			Duration: time.Second, Timeout: time.Second, Greeting: "hi", Rate: rate}
		s, err := RunLoad(context.Background(), cfg)
		if err != nil || s.Failed != 0 {
			t.Fatalf("load at rate %v: %v, %d failed", rate, err, s.Failed)
		}
		return s
	}
	unpaced, paced := run(0), run(20)
	for _, s := range []Summary{unpaced, paced} {
		if limit := s.DurationS * float64(runtime.NumCPU()); s.CPUSeconds <= 0 || s.CPUSeconds > limit {
			t.Errorf("%d calls in %.2fs: expected cpu_seconds in (0, %.2f], received %v", s.Calls, s.DurationS, limit, s.CPUSeconds)
		}
	}
	if paced.CPUSeconds >= unpaced.CPUSeconds {
		t.Errorf("expected %d paced calls to use less CPU than %d unpaced calls, received %.4fs >= %.4fs",
			paced.Calls, unpaced.Calls, paced.CPUSeconds, unpaced.CPUSeconds)
	}
}
