package testenv

import (
	"testing"
	"time"
)

// The one poll loop of the project's tests, end-to-end suite and benchmark:
// every wait for readiness goes through Poll, so each has a deadline and
// reports what it last saw, and none is a bare sleep.

// Poll calls check, pausing every between calls, until it returns nil or
// deadline has passed; it returns check's last error (nil on success).
// check runs at least once, and Poll gives up only after a check that
// ended past the deadline, so a slow check is never cut short.
func Poll(deadline, every time.Duration, check func() error) error {
	end := time.Now().Add(deadline)
	for {
		err := check()
		if err == nil || time.Now().After(end) {
			return err
		}
		time.Sleep(every)
	}
}

// Eventually polls check every 50 ms, for checks cheap enough to run that
// often (loopback servers, a local Consul agent), and fails the test with
// the last error once deadline has passed.
func Eventually(t testing.TB, deadline time.Duration, what string, check func() error) {
	t.Helper()
	EventuallyEvery(t, deadline, 50*time.Millisecond, what, check)
}

// EventuallyEvery is Eventually with its own pause between checks, for
// checks that cost more (a docker command, a burst of calls).
func EventuallyEvery(t testing.TB, deadline, every time.Duration, what string, check func() error) {
	t.Helper()
	if err := Poll(deadline, every, check); err != nil {
		t.Fatalf("%s: not true after %s: %v", what, deadline, err)
	}
}
