package loadclient

import (
	"context"
	"testing"
	"time"
)

// -rate paces the calls: 2 s at 100 calls/s with 10 workers makes about 200
// calls, where an unpaced run against a local server makes thousands.
func TestRateLimitsCalls(t *testing.T) {
	host, p := pingServer(t)
	cfg := Config{Host: host, Port: p, Calls: 1, Concurrency: 10, Connections: 1,
		Duration: 2 * time.Second, Timeout: time.Second, Greeting: "hi", Rate: 100}
	s, err := RunLoad(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Up to one more call per worker: each may have passed the deadline check
	// just before the end and then taken a token.
	if s.Failed != 0 || s.Calls < 180 || s.Calls > 200+cfg.Concurrency {
		t.Fatalf("2 s at -rate=100: expected about 200 calls and 0 failed, received %d calls, %d failed", s.Calls, s.Failed)
	}
}

// Ending a run early stops new calls but lets calls in flight finish, so no
// good call is counted as failed.
func TestStopLetsCallsInFlightFinish(t *testing.T) {
	host, p := pingServer(t)
	cfg := Config{Host: host, Port: p, Calls: 1, Concurrency: 20, Connections: 2,
		Duration: time.Hour, Timeout: time.Second, Greeting: "hi"}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	s, err := RunLoad(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if s.Calls == 0 || s.Failed != 0 {
		t.Fatalf("stopped run: expected calls and 0 failed, received %d calls, %d failed (%v)", s.Calls, s.Failed, s.Codes)
	}
}
