//go:build e2e

package e2e

import (
	"testing"
	"time"
)

// eventually polls check every 250 ms until it returns nil, and fails the
// test with the last error once deadline has passed.
func eventually(t *testing.T, deadline time.Duration, what string, check func() error) {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(end) {
			t.Fatalf("%s: still not true after %s: %v", what, deadline, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
