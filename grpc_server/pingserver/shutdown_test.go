package pingserver_test

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/grpc_server/pingserver"
	"github.com/grpc-lb/nginx-consul/protos"
)

// slowMethod is served by an unknown-service handler: it takes about a
// second, whatever the client or the server do meanwhile.
const slowMethod = "/test.Slow/Call"

type slowHandler struct {
	started  chan struct{}  // a call arrived
	finished chan time.Time // when the handler returned
}

func newSlowHandler() *slowHandler {
	return &slowHandler{started: make(chan struct{}, 1), finished: make(chan time.Time, 1)}
}

func (h *slowHandler) option() grpc.ServerOption {
	return grpc.UnknownServiceHandler(func(_ any, stream grpc.ServerStream) error {
		var in protos.PingMessage
		if err := stream.RecvMsg(&in); err != nil {
			return err
		}
		h.started <- struct{}{}
		time.Sleep(time.Second)
		err := stream.SendMsg(&protos.PingMessage{Greeting: "slow " + in.GetGreeting()})
		h.finished <- time.Now()
		return err
	})
}

type callResult struct {
	reply *protos.PingMessage
	err   error
}

// callSlow starts a slow call on addr and waits until the server has it.
func callSlow(t *testing.T, addr string, h *slowHandler) <-chan callResult {
	t.Helper()
	conn := testenv.Dial(t, addr)
	done := make(chan callResult, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out := new(protos.PingMessage)
		err := conn.Invoke(ctx, slowMethod, &protos.PingMessage{Greeting: "x"}, out)
		done <- callResult{out, err}
	}()
	select {
	case <-h.started:
	case r := <-done:
		t.Fatalf("slow call ended before reaching the handler: %v", r.err)
	case <-time.After(10 * time.Second):
		t.Fatal("slow call did not reach the server within 10s")
	}
	return done
}

func TestShutdownCompletesCallInFlight(t *testing.T) {
	h := newSlowHandler()
	srv := testenv.StartPingServer(t, "a", h.option())
	done := callSlow(t, srv.Addr, h)

	srv.Shutdown(context.Background())
	returned := time.Now()

	r := <-done
	if r.err != nil || r.reply.GetGreeting() != "slow x" {
		t.Fatalf("call in flight during Shutdown: got reply %q error %v, want %q and no error", r.reply.GetGreeting(), r.err, "slow x")
	}
	if finished := <-h.finished; finished.After(returned) {
		t.Errorf("Shutdown returned %s before the call in flight finished, want it to wait", finished.Sub(returned))
	}
	_, err := protos.NewPingClient(testenv.Dial(t, srv.Addr)).SayHello(context.Background(), &protos.PingMessage{})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("SayHello after Shutdown: got %v, want Unavailable", err)
	}
}

func TestShutdownCutsCallsAtTimeout(t *testing.T) {
	h := newSlowHandler()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := pingserver.Config{DrainPeriod: 0, ShutdownTimeout: 100 * time.Millisecond}
	srv := pingserver.New(cfg, "a", t.Logf, h.option())
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.GRPC.Stop)
	done := callSlow(t, lis.Addr().String(), h)

	start := time.Now()
	srv.Shutdown(context.Background())
	if took := time.Since(start); took > 800*time.Millisecond {
		t.Errorf("Shutdown took %s with a 100ms shutdown timeout, want it to cut the 1s call", took)
	}
	if r := <-done; status.Code(r.err) != codes.Unavailable {
		t.Errorf("call cut by the shutdown timeout: got %v, want Unavailable", r.err)
	}
}
