//go:build e2e

package e2e

import (
	"strings"
	"testing"
)

// TestFailureSummaryCollectsMessages checks what TestMain repeats at the end:
// each failure message with its continuation lines and its test's name, and
// nothing else of the output, which is passed on unchanged.
func TestFailureSummaryCollectsMessages(t *testing.T) {
	output := `=== RUN   TestResilience/LB_ENGINE=nginx/R7
$ docker stop a b c
load: 10 calls
    fault_scenarios_test.go:205: timed out after 2m0s waiting for Consul healthy: 3 servers, 1 failure tolerated
        autopilot: healthy false, failure tolerance 0
        servers [consul-server-1 healthy=false]
 Container grpclb-consul-server-1-1  Removed
=== RUN   TestSwarm
    swarm_test.go:91: second
--- FAIL: TestSwarm (1.00s)
`
	var passedOn strings.Builder
	failures := passOnCollectingFailures(strings.NewReader(output), &passedOn)
	if passedOn.String() != output {
		t.Errorf("the output was changed on its way:\n%s", passedOn.String())
	}
	want := []string{
		"--- TestResilience/LB_ENGINE=nginx/R7\n" +
			"    fault_scenarios_test.go:205: timed out after 2m0s waiting for Consul healthy: 3 servers, 1 failure tolerated\n" +
			"        autopilot: healthy false, failure tolerance 0\n" +
			"        servers [consul-server-1 healthy=false]",
		"--- TestSwarm\n    swarm_test.go:91: second",
	}
	if strings.Join(failures, "\n\n") != strings.Join(want, "\n\n") {
		t.Errorf("expected the failures\n%s\nreceived\n%s", strings.Join(want, "\n\n"), strings.Join(failures, "\n\n"))
	}
}
