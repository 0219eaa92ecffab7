package testenv

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestPollReturnsOnceCheckPasses(t *testing.T) {
	calls := 0
	err := Poll(time.Minute, time.Millisecond, func() error {
		calls++
		if calls < 3 {
			return fmt.Errorf("call %d: not yet", calls)
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("Poll with a check that passes on its 3rd call: got error %v after %d calls, want nil after 3", err, calls)
	}
}

func TestPollGivesUpWithTheLastError(t *testing.T) {
	calls := 0
	start := time.Now()
	err := Poll(100*time.Millisecond, 10*time.Millisecond, func() error {
		calls++
		return fmt.Errorf("call %d failed", calls)
	})
	took := time.Since(start)
	if want := fmt.Sprintf("call %d failed", calls); err == nil || err.Error() != want {
		t.Errorf("Poll with a check that never passes: got error %v, want the last one, %q", err, want)
	}
	if calls < 2 || took < 100*time.Millisecond || took > 5*time.Second {
		t.Errorf("Poll(100ms, every 10ms) with a check that never passes: %d calls in %s, want several, ending just after 100ms", calls, took)
	}
}

func TestPollChecksAtLeastOnce(t *testing.T) {
	calls := 0
	err := Poll(0, time.Hour, func() error { calls++; return errors.New("no") })
	if calls != 1 || err == nil {
		t.Errorf("Poll with no time left: got %d calls and error %v, want 1 call and its error", calls, err)
	}
}

// fatalRecorder stands in for a test, to see what Eventually reports.
type fatalRecorder struct {
	testing.TB
	fatal string
}

func (r *fatalRecorder) Helper() {}

func (r *fatalRecorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }

func TestEventuallyFailsWithWhatAndTheLastError(t *testing.T) {
	r := &fatalRecorder{TB: t}
	calls := 0
	EventuallyEvery(r, 30*time.Millisecond, 5*time.Millisecond, "the replica is routed", func() error {
		calls++
		return fmt.Errorf("call %d: no", calls)
	})
	if want := fmt.Sprintf("the replica is routed: not true after 30ms: call %d: no", calls); r.fatal != want {
		t.Errorf("EventuallyEvery with a check that never passes: got fatal %q, want %q", r.fatal, want)
	}
	r = &fatalRecorder{TB: t}
	Eventually(r, time.Second, "passes", func() error { return nil })
	if r.fatal != "" {
		t.Errorf("Eventually with a check that passes: got fatal %q, want none", r.fatal)
	}
}
