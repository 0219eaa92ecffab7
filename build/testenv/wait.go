package testenv

import (
	"testing"
	"time"
)

// Eventually calls check until it returns nil or the deadline passes, then
// fails the test with the last error.
func Eventually(t testing.TB, deadline time.Duration, what string, check func() error) {
	t.Helper()
	if err := WaitFor(deadline, check); err != nil {
		t.Fatalf("%s: not true after %s: %v", what, deadline, err)
	}
}

// WaitFor polls check every 50 ms until it returns nil or deadline passes.
func WaitFor(deadline time.Duration, check func() error) error {
	end := time.Now().Add(deadline)
	for {
		err := check()
		if err == nil || time.Now().After(end) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
