//go:build e2e

package e2e

import (
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// eventually polls check every 250 ms (each check runs docker or a burst of
// calls) until it returns nil, and fails the test with the last error once
// deadline has passed.
func eventually(t *testing.T, deadline time.Duration, what string, check func() error) {
	t.Helper()
	testenv.EventuallyEvery(t, deadline, 250*time.Millisecond, what, check)
}
