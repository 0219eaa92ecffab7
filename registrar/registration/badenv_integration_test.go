package registration

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// Every bad environment makes the real binary exit 2 naming the variable,
// and registers nothing.
func TestRegistrarBadEnvExits2(t *testing.T) {
	t.Parallel()
	consul := testenv.StartConsul(t)
	for _, tc := range badEnvCases {
		t.Run(tc.name, func(t *testing.T) {
			p := startRegistrar(t, tc.env(consul.HTTPAddr))
			if code := p.Wait(t, 10*time.Second); code != ExitUsage {
				t.Errorf("exit code: got %d, want %d", code, ExitUsage)
			}
			out := p.Output()
			want := tc.key + "=" + strconv.Quote(tc.value)
			if !strings.HasPrefix(out, "registrar: ") || !strings.Contains(out, want) || strings.Count(out, "\n") != 1 {
				t.Errorf("output: got %q, want one line starting %q that names %s", out, "registrar: ", want)
			}
		})
	}
	services, err := consul.Client.Agent().Services()
	if err != nil {
		t.Fatal(err)
	}
	if len(services) != 0 {
		t.Errorf("agent services after the bad runs: got %v, want none", services)
	}

	// Control: the environment the cases start from does register, so an
	// empty agent above means the bad runs stopped before registering.
	startRegistered(t, consul, "ping", "7777", nil)
}

// An unreachable agent: a few attempts with backoff, then exit 1.
func TestRegistrarAgentUnreachable(t *testing.T) {
	t.Parallel()
	env := goodEnv(testenv.ClosedAddr(t))
	env["REGISTER_ATTEMPTS"] = "3"
	p := startRegistrar(t, env)
	if code := p.Wait(t, 15*time.Second); code != ExitFailed {
		t.Errorf("exit code: got %d, want %d", code, ExitFailed)
	}
	out := p.Output()
	for _, want := range []string{"retrying 1/3", "retrying 2/3", "giving up after 3 attempts"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q; got:\n%s", want, out)
		}
	}
	if strings.Contains(out, "retrying 3/3") {
		t.Errorf("output has %q: the last attempt should give up, not retry; got:\n%s", "retrying 3/3", out)
	}
}
