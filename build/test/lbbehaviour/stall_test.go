package lbbehaviour

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/build/test/transparency"
	"github.com/grpc-lb/nginx-consul/grpc_server/pingserver"
)

// soakFor is how long the large-call soak runs through each engine.
const soakFor = 60 * time.Second

// Large calls to a replica in grpc-go's default configuration (dynamic flow
// control, as a stock server) pass through each engine: four threads of
// unary calls of the interop soak's sizes for a minute, then client-,
// server- and bidi-streams of such messages; none fails, none takes over a
// second. Behind HAProxy 2.6 multiplexing its backend connections such
// calls stalled or failed with Internal (issue #19).
func TestLargeCallsToADefaultReplica(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			addr := e.Start(t, startEchoServersFlow(t, pingserver.FlowControlDynamic, "echo-a", "echo-b")).Addr
			conn, err := transparency.Dial(addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			s := transparency.LargeUnarySoak(context.Background(), conn, 4, 0, soakFor)
			t.Logf("%s: %s", e.Name, s)
			if err := s.Err(); err != nil {
				t.Error(err)
			}
			if err := transparency.LargeStreams(context.Background(), conn, 16); err != nil {
				t.Error(err)
			}
		})
	}
}

// A client that stops reading large replies, and a replica that stops
// reading large requests, hold no other client's calls to that replica,
// through either engine.
func TestStuckStreamsHoldNoOtherClient(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			addr := e.Start(t, startEchoServersFlow(t, pingserver.FlowControlDynamic, "echo-a")).Addr
			if _, err := transparency.StuckStreams(context.Background(), addr, 20); err != nil {
				t.Error(err)
			}
		})
	}
}

// A client that cancels calls while their large replies are coming can go
// on calling through either engine: the cancel reaches the replica.
func TestCanceledLargeCallsHoldNoLaterCall(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			addr := e.Start(t, startEchoServersFlow(t, pingserver.FlowControlDynamic, "echo-a")).Addr
			for round := range 3 {
				if err := transparency.CanceledLargeCalls(context.Background(), addr, 10); err != nil {
					t.Errorf("round %d: %v", round, err)
				}
			}
		})
	}
}

// A replica that stops reading a large request: nginx keeps serving the
// same client's other calls; HAProxy 3.0 reads a client connection's frames
// in order, so that client's later calls wait behind the stuck request
// (README, The engine). This test states what each engine does.
func TestSameClientAfterAStuckWriter(t *testing.T) {
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			addr := e.Start(t, startEchoServersFlow(t, pingserver.FlowControlDynamic, "echo-a")).Addr
			err := transparency.SameClientAfterStuckWriter(context.Background(), addr, 2)
			switch {
			case e.Name == "haproxy" && err == nil:
				t.Error("HAProxy served the same client's calls past a stuck request: update README (The engine) and this test")
			case e.Name == "haproxy":
				t.Logf("as stated in the README: %v", err)
			case err != nil:
				t.Error(err)
			}
		})
	}
}

// The stuck-stream and cancel checks can fail: HAProxy multiplexing calls on
// its connections to the replicas (no tune.h2.be.max-concurrent-streams 1)
// lets the stuck streams stall the other client's calls.
func TestStuckStreamsCatchMultiplexedBackendConnections(t *testing.T) {
	h := testenv.StartProdHAProxy(t, startEchoServersFlow(t, pingserver.FlowControlDynamic, "echo-a"))
	raw, err := os.ReadFile(h.Conf)
	if err != nil {
		t.Fatal(err)
	}
	const oneCall = "    tune.h2.be.max-concurrent-streams 1\n"
	if !strings.Contains(string(raw), oneCall) {
		t.Fatalf("haproxy.cfg no longer contains %q: update this test", oneCall)
	}
	if err := os.WriteFile(h.Conf, []byte(strings.Replace(string(raw), oneCall, "", 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	h.ReloadWithoutRuntimeAPI(t)
	_, err = transparency.StuckStreams(context.Background(), h.Addr, 2)
	if err == nil {
		t.Fatal("StuckStreams through HAProxy multiplexing its backend connections: expected the other client's calls to stall, every call passed")
	}
	t.Logf("with multiplexed backend connections, as expected: %v", err)
}
