//go:build e2e

package e2e

import (
	"fmt"
	"slices"

	"github.com/grpc-lb/nginx-consul/grpc_client/loadclient"
)

// spreadOver checks that all calls succeeded and reached exactly hosts, and,
// when maxRatio > 0, that the busiest replica got at most maxRatio times the
// calls of the least busy one.
func spreadOver(s loadclient.Summary, hosts []string, calls int, maxRatio float64) error {
	if s.Calls != calls || s.Failed != 0 {
		return fmt.Errorf("calls %d failed %d (codes %v): expected %d calls, 0 failed", s.Calls, s.Failed, s.Codes, calls)
	}
	var got []string
	lo, hi := calls, 0
	for host, n := range s.ByReplica {
		got = append(got, host)
		lo, hi = min(lo, n), max(hi, n)
	}
	slices.Sort(got)
	want := slices.Sorted(slices.Values(hosts))
	if !slices.Equal(got, want) {
		return fmt.Errorf("replicas that answered: expected %v, received %v (%v)", want, got, s.ByReplica)
	}
	if maxRatio > 0 && float64(hi) > maxRatio*float64(lo) {
		return fmt.Errorf("spread %v: max/min = %d/%d, expected at most %.1f", s.ByReplica, hi, lo, maxRatio)
	}
	return nil
}
