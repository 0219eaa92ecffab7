package loadclient

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

func TestSingleCallPrintsReply(t *testing.T) {
	a := testenv.StartPingServer(t, "a")
	out, code := testenv.RunClient(t, testenv.ClientTargetFlags(t, a.Addr)...)
	if code != ExitOK || out != "Hello from a.\n" {
		t.Errorf("grpc_client to one server: exit %d output %q, want exit 0 and %q", code, out, "Hello from a.\n")
	}
}

func TestSingleCallClosedPort(t *testing.T) {
	addr := testenv.ClosedAddr(t)
	out, code := testenv.RunClient(t, testenv.ClientTargetFlags(t, addr)...)
	if code != ExitFailed {
		t.Errorf("exit code: got %d, want %d", code, ExitFailed)
	}
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, addr) || !strings.Contains(out, "Unavailable") || strings.Contains(out, "goroutine") {
		t.Errorf("output: got %q, want one line naming %s and Unavailable, without a stack trace", out, addr)
	}
}

func TestSingleCallTimeout(t *testing.T) {
	// The server holds every call for a second, far beyond the client's 1ms.
	slow := grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		select {
		case <-time.After(time.Second):
		case <-ctx.Done():
		}
		return handler(ctx, req)
	})
	srv := testenv.StartPingServer(t, "slow", slow)
	out, code := testenv.RunClient(t, append(testenv.ClientTargetFlags(t, srv.Addr), "-timeout=1ms")...)
	if code != ExitFailed {
		t.Errorf("exit code: got %d, want %d", code, ExitFailed)
	}
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, srv.Addr+": DeadlineExceeded") {
		t.Errorf("output: got %q, want one line with %q", out, srv.Addr+": DeadlineExceeded")
	}
}
