package transparency_test

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpc-lb/nginx-consul/build/testenv"
	"github.com/grpc-lb/nginx-consul/build/transparency"
	"github.com/grpc-lb/nginx-consul/protos"
)

// The deployment's haproxy.cfg (HAProxy 3.0, Debian trixie) passes gRPC
// through, to replicas with either flow control.
func TestChecksThroughProductionHAProxy(t *testing.T) {
	for _, flow := range flowControls {
		t.Run("flow-control="+flow, func(t *testing.T) {
			h := testenv.StartProdHAProxy(t, startEchoServersFlow(t, flow, "echo-a", "echo-b"))
			runChecks(t, h.Addr)
		})
	}
}

// With no replica, a call gets gRPC status 14 with nginx's message, and the
// health endpoint still answers.
func TestNoReplicaThroughProductionHAProxy(t *testing.T) {
	h := testenv.StartProdHAProxy(t, nil)
	conn, err := transparency.Dial(h.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := protos.NewEchoClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = client.Unary(ctx, &protos.EchoRequest{})
	if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != noReplicaMessage {
		t.Errorf("Unary with no replica: expected Unavailable %q, received %s %q", noReplicaMessage, st.Code(), st.Message())
	}
	stream, err := client.Bidi(ctx)
	if err == nil {
		_, err = stream.Recv()
	}
	if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != noReplicaMessage {
		t.Errorf("Bidi with no replica: expected Unavailable %q, received %s %q", noReplicaMessage, st.Code(), st.Message())
	}
	resp, err := http.Get("http://" + h.HealthAddr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("GET /healthz with no replica: expected 200 %q, received %d %q", "ok\n", resp.StatusCode, body)
	}
}

// With replicas known but every one refusing the connection, the call gets
// gRPC status 14 saying so, after HAProxy tried (and redispatched).
func TestEveryTryFailedThroughProductionHAProxy(t *testing.T) {
	h := testenv.StartProdHAProxy(t, []string{testenv.ClosedAddr(t), testenv.ClosedAddr(t)})
	st := unaryThrough(t, h.Addr)
	const want = "2 hello_server replica(s) known; every try failed (HAProxy status 503)"
	if st.Code() != codes.Unavailable || st.Message() != want {
		t.Errorf("Unary with 2 refusing replicas: expected Unavailable %q, received %s %q", want, st.Code(), st.Message())
	}
}

// With the one replica's connects timing out, HAProxy tries 6 times
// (retries 5, 250 ms each) and logs 503 with termination state sC, but does
// not send its 503 (which haproxy.cfg would turn into a gRPC status): the
// h2 frontend resets the stream with REFUSED_STREAM, which grpc-go retries
// transparently once and then reports as UNAVAILABLE without the message.
// Still status 14, as through nginx; this test states what 2.6 does.
func TestEveryTryTimedOutThroughProductionHAProxy(t *testing.T) {
	h := testenv.StartProdHAProxy(t, []string{unresponsiveAddr(t)})
	start := time.Now()
	st := unaryThrough(t, h.Addr)
	const want = "stream terminated by RST_STREAM with error code: REFUSED_STREAM"
	if st.Code() != codes.Unavailable || st.Message() != want {
		t.Errorf("Unary with 1 replica that never answers the connect: expected (HAProxy 2.6) Unavailable %q, received %s %q", want, st.Code(), st.Message())
	}
	// Two attempts (grpc-go's transparent retry) of 6 connects of 250 ms.
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("the call took %s; expected about 2 x 6 x 250 ms of connect timeouts", took)
	}
}
