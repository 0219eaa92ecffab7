package registration

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// hungListener accepts connections and never answers: a Consul agent that
// hangs. It returns its address.
func hungListener(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		lis.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return lis.Addr().String()
}

// timeoutProblem says what is wrong unless err is the agent's timeout and
// the call took about AgentTimeout: not much less (the timeout was not the
// reason) nor more (the timeout did not hold).
func timeoutProblem(call string, took time.Duration, err error) error {
	if err == nil {
		return fmt.Errorf("%s against a hung agent: expected an error, received none after %s", call, took)
	}
	if want := "did not answer within " + AgentTimeout.String(); !strings.Contains(err.Error(), want) {
		return fmt.Errorf("%s against a hung agent: expected an error saying %q, received %v", call, want, err)
	}
	if took < AgentTimeout-100*time.Millisecond || took > AgentTimeout+time.Second {
		return fmt.Errorf("%s against a hung agent returned after %s, expected about %s", call, took, AgentTimeout)
	}
	return nil
}

// Every call the registrar makes gives up on a hung agent after AgentTimeout.
func TestAgentCallsTimeOutOnHungAgent(t *testing.T) {
	t.Parallel()
	agent, err := NewAgent(Config{ConsulAddr: hungListener(t)})
	if err != nil {
		t.Fatal(err)
	}
	reg := Registration(testConfig(), "host", "127.0.0.1")
	// The test's own patience: without the agent's timeout the calls fail
	// the check below instead of hanging the test.
	ctx, cancel := context.WithTimeout(context.Background(), AgentTimeout+3*time.Second)
	defer cancel()
	calls := map[string]func() error{
		"LANAddress": func() error { _, err := agent.LANAddress(ctx); return err },
		"Register":   func() error { return agent.Register(ctx, reg) },
		"Deregister": func() error { return agent.Deregister(ctx, reg.ID) },
		"Registered": func() error { return agent.Registered(ctx, reg.ID) },
	}
	var wg sync.WaitGroup
	for name, call := range calls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			err := call()
			if err := timeoutProblem(name, time.Since(start), err); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
}

// The check above can fail: with an agent timeout of an hour, a call to the
// hung agent comes back only when the test gives up on it, and the check
// says so.
func TestHungAgentCheckCatchesNoTimeout(t *testing.T) {
	t.Parallel()
	agent, err := NewAgent(Config{ConsulAddr: hungListener(t)})
	if err != nil {
		t.Fatal(err)
	}
	agent.Timeout = time.Hour
	ctx, cancel := context.WithTimeout(context.Background(), AgentTimeout+2*time.Second)
	defer cancel()
	start := time.Now()
	err = agent.Deregister(ctx, "x")
	took := time.Since(start)
	if problem := timeoutProblem("Deregister", took, err); problem == nil {
		t.Errorf("with no agent timeout, Deregister returned after %s with %v, and the check found nothing wrong", took, err)
	} else {
		t.Logf("the check fails as it must: %v", problem)
	}
}

// fakeAgent answers the registrar's calls until hang is set; from then on
// every request waits for the client to give up. blocked counts the
// requests that hung, deregisters those for the deregistration.
type fakeAgent struct {
	*httptest.Server
	hang, blocked, deregisters atomic.Int32
}

func startFakeAgent(t *testing.T) *fakeAgent {
	t.Helper()
	f := &fakeAgent{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1/agent/service/deregister/") {
			f.deregisters.Add(1)
		}
		if f.hang.Load() == 1 {
			f.blocked.Add(1)
			<-r.Context().Done()
			return
		}
		switch {
		case r.URL.Path == "/v1/agent/self":
			_, _ = io.WriteString(w, `{"Member": {"Addr": "127.0.0.1"}}`)
		case r.URL.Path == "/v1/agent/service/register":
			_, _ = io.Copy(io.Discard, r.Body)
		case strings.HasPrefix(r.URL.Path, "/v1/agent/service/"):
			_, _ = io.WriteString(w, `{"ID": "registered"}`)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(func() {
		f.CloseClientConnections()
		f.Close()
	})
	return f
}

// The real registrar, registered and watching, whose agent then hangs: on
// SIGTERM it abandons the watch call in flight, tries to deregister, gives
// up after AgentTimeout and exits (1: the deregistration failed) within
// StopBudget, the budget its stopwaitsecs is derived from.
func TestRegistrarStopsWithinBudgetOnHungAgent(t *testing.T) {
	t.Parallel()
	agent := startFakeAgent(t)
	port := portOf(t, testenv.ClosedAddr(t))
	p := startRegistrar(t, registrarEnvAt(agent.URL, "ping-hung", port))
	id := idFor(t, "ping-hung", port)
	waitForLog(t, p, "registered "+id, 10*time.Second)

	agent.hang.Store(1)
	// The watch asks the agent every second: wait until one call hangs.
	deadline := time.Now().Add(5 * time.Second)
	for agent.blocked.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the registrar made no call to the agent within 5 s of it hanging; output:\n%s", p.Output())
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopAt := time.Now()
	p.Signal(t, syscall.SIGTERM)
	code := p.Wait(t, StopBudget+5*time.Second)
	took := time.Since(stopAt)
	if took > StopBudget {
		t.Errorf("registrar exited %s after SIGTERM with a hung agent, expected at most StopBudget %s", took, StopBudget)
	}
	if agent.deregisters.Load() == 0 {
		t.Errorf("the registrar did not try to deregister; output:\n%s", p.Output())
	}
	if code != ExitFailed {
		t.Errorf("exit code: expected %d (the deregistration failed), received %d", ExitFailed, code)
	}
	if want := "did not answer within " + AgentTimeout.String(); !strings.Contains(p.Output(), want) {
		t.Errorf("output lacks %q:\n%s", want, p.Output())
	}
	fmt.Printf("registrar with a hung agent: exited %s after SIGTERM (StopBudget %s)\n", took.Round(time.Millisecond), StopBudget)
}

// registrarEnvAt is a valid environment for service name on port, against
// the agent at addr.
func registrarEnvAt(addr, name, port string) map[string]string {
	env := goodEnv(addr)
	env["APP_NAME"], env["APP_PORT"] = name, port
	return env
}
