package lbbehaviour

import (
	"context"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/build/test/transparency"
	"github.com/grpc-lb/nginx-consul/protos"
)

// noReplicaMessage is what a call gets through the production engines when
// no replica of the Consul service is passing (the README's troubleshooting
// line and the e2e README steps look for hello_server's), before " for <gRPC
// service>", the service the call was for.
func noReplicaMessage(consulService string) string {
	return "no healthy " + consulService + " replica is available behind the load balancer"
}

// unaryThrough makes one Echo call through nginx at addr and returns its
// status.
func unaryThrough(t *testing.T, addr string) *status.Status {
	t.Helper()
	conn, err := transparency.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = protos.NewEchoClient(conn).Unary(ctx, &protos.EchoRequest{})
	return status.Convert(err)
}

// unresponsiveAddr is a loopback address whose connects time out: a
// listener that never accepts, its backlog already full, so the kernel drops
// further SYNs.
func unresponsiveAddr(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
	// Fill the backlog (Linux queues backlog+1), then prove a connect times out.
	for i := 0; i < 3; i++ {
		conn, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
		if err != nil {
			continue
		}
		t.Cleanup(func() { conn.Close() })
	}
	if conn, err := net.DialTimeout("tcp", addr, 300*time.Millisecond); err == nil {
		conn.Close()
		t.Fatalf("%s still accepts connections after its backlog was filled", addr)
	} else if ne, ok := err.(net.Error); !ok || !ne.Timeout() {
		t.Fatalf("connect to %s: expected a timeout, received %v", addr, err)
	}
	return addr
}

// With replicas known but every one refusing the connection, the message
// says so and names the tries' statuses, not "no healthy replica" (HAProxy
// tried and redispatched).
func TestEveryTryFailedThroughProduction(t *testing.T) {
	want := map[string]string{
		"nginx":   "2 echo_server replica(s) known; every try failed (upstream status 502, 502) for protos.Echo",
		"haproxy": "2 echo_server replica(s) known; every try failed (HAProxy status 503) for protos.Echo",
	}
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			lb := e.Start(t, []string{testenv.ClosedAddr(t), testenv.ClosedAddr(t)})
			st := unaryThrough(t, lb.Addr)
			if st.Code() != codes.Unavailable || st.Message() != want[e.Name] {
				t.Errorf("Unary with 2 refusing replicas: expected Unavailable %q, received %s %q", want[e.Name], st.Code(), st.Message())
			}
		})
	}
}

// With replicas known but every connect timing out, nginx's message says
// that. HAProxy tries 6 times (retries 5, 250 ms each) and logs 503 with
// termination state sC, but does not send its 503 (which haproxy.cfg would
// turn into a gRPC status): the h2 frontend resets the stream with
// REFUSED_STREAM, which grpc-go retries transparently once and then reports
// as UNAVAILABLE without the message. Still status 14, as through nginx;
// the test states what HAProxy does.
func TestEveryTryTimedOutThroughProduction(t *testing.T) {
	want := map[string]string{
		"nginx":   "1 echo_server replica(s) known; every try timed out (upstream status 504) for protos.Echo",
		"haproxy": "stream terminated by RST_STREAM with error code: REFUSED_STREAM",
	}
	// HAProxy: two attempts (grpc-go's transparent retry) of 6 connects of
	// 250 ms. nginx's duration is not checked.
	within := map[string]time.Duration{"haproxy": 4 * time.Second}
	for _, e := range testenv.Engines() {
		t.Run(e.Name, func(t *testing.T) {
			lb := e.Start(t, []string{unresponsiveAddr(t)})
			start := time.Now()
			st := unaryThrough(t, lb.Addr)
			if st.Code() != codes.Unavailable || st.Message() != want[e.Name] {
				t.Errorf("Unary with 1 replica that never answers the connect: expected Unavailable %q, received %s %q", want[e.Name], st.Code(), st.Message())
			}
			if took := time.Since(start); within[e.Name] > 0 && took > within[e.Name] {
				t.Errorf("the call took %s; expected about 2 x 6 x 250 ms of connect timeouts", took)
			}
		})
	}
}

// A mixed outcome is "failed", and the no-replica message is never sent
// while replicas are known.
func TestSomeTriesTimedOutThroughProductionNginx(t *testing.T) {
	nginx := testenv.StartProdNginx(t, []string{unresponsiveAddr(t), testenv.ClosedAddr(t)})
	st := unaryThrough(t, nginx.Addr)
	if st.Code() != codes.Unavailable || !strings.HasPrefix(st.Message(), "2 echo_server replica(s) known; every try failed (upstream status ") ||
		strings.Contains(st.Message(), noReplicaMessage("echo_server")) {
		t.Errorf("Unary with a timing-out and a refusing replica: expected Unavailable \"2 echo_server replica(s) known; every try failed (upstream status ...)\", received %s %q", st.Code(), st.Message())
	}
}

// A call is tried on every replica the upstream lists before it fails: with
// the first four of five refusing (a host whose replicas are gone but not
// yet out of Consul), every call reaches the fifth, whichever replica
// nginx's round robin starts it at. With nginx's 3 tries, the calls started
// at the first or second refusing replica failed.
func TestEveryReplicaIsTriedThroughProductionNginx(t *testing.T) {
	live := testenv.StartPingServer(t, "live-replica")
	nginx := testenv.StartProdNginx(t, []string{testenv.ClosedAddr(t), testenv.ClosedAddr(t), testenv.ClosedAddr(t), testenv.ClosedAddr(t), live.Addr})
	conn := testenv.Dial(t, nginx.Addr)
	client := protos.NewPingClient(conn)
	// Round robin starts each call at the next replica, per worker: 40
	// calls start at every replica of every worker several times.
	const calls = 40
	var failed []string
	for i := 0; i < calls; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		reply, err := client.SayHello(ctx, &protos.PingMessage{})
		cancel()
		if err != nil {
			failed = append(failed, status.Convert(err).Message())
		} else if want := "Hello from live-replica."; reply.GetGreeting() != want {
			t.Fatalf("call %d: expected %q, received %q", i, want, reply.GetGreeting())
		}
	}
	if len(failed) > 0 {
		t.Errorf("%d of %d calls failed with 4 of 5 replicas refusing; first: %q", len(failed), calls, failed[0])
	}
}
