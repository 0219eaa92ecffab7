package pingserver_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/grpc_server/pingserver"
	"github.com/grpc-lb/nginx-consul/protos"
)

// startEchoServer serves in-process as hostname "echo-host", with or without
// -echo, and returns a connection whose message limits fit 8 MiB.
func startEchoServer(t *testing.T, echo bool) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := pingserver.Config{Port: lis.Addr().(*net.TCPAddr).Port, ShutdownTimeout: time.Second, Echo: echo}
	srv := pingserver.New(cfg, "echo-host", t.Logf)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.GRPC.Stop)
	conn, err := grpc.NewClient("passthrough:///"+lis.Addr().String(),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20), grpc.MaxCallSendMsgSize(16<<20)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func sha(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestParseConfigEcho(t *testing.T) {
	cfg, err := pingserver.ParseConfig([]string{"-echo"}, io.Discard)
	if err != nil || !cfg.Echo {
		t.Errorf("ParseConfig(-echo): got Echo=%v error %v, want Echo=true", cfg.Echo, err)
	}
	var help bytes.Buffer
	_, _ = pingserver.ParseConfig([]string{"-h"}, &help)
	want := "also serve protos.Echo, the test service the host tests use to check the load balancer is transparent"
	if !strings.Contains(help.String(), want) {
		t.Errorf("-h output lacks %q; got:\n%s", want, help.String())
	}
}

// Without -echo, production serves no Echo and keeps grpc-go's 4 MiB limit.
func TestEchoOnlyWithFlag(t *testing.T) {
	for _, echo := range []bool{false, true} {
		conn := startEchoServer(t, echo)
		// The health server answers NotFound for a service it never heard of.
		wantHealth, wantCode := codes.NotFound, codes.Unimplemented
		if echo {
			wantHealth, wantCode = codes.OK, codes.OK
		}
		got, err := testenv.HealthStatus(conn, "protos.Echo")
		if status.Code(err) != wantHealth || (echo && got != healthpb.HealthCheckResponse_SERVING) {
			t.Errorf("echo=%v: health of protos.Echo: got %v error %v, want %v", echo, got, err, map[bool]string{false: "NotFound", true: "SERVING"}[echo])
		}
		_, err = protos.NewEchoClient(conn).Unary(testCtx(t), &protos.EchoRequest{})
		if status.Code(err) != wantCode {
			t.Errorf("echo=%v: Echo.Unary: got %v, want %v", echo, err, wantCode)
		}
		// A 5 MiB message is over grpc-go's default receive limit.
		_, err = protos.NewPingClient(conn).SayHello(testCtx(t), &protos.PingMessage{Greeting: strings.Repeat("x", 5<<20)})
		if wantCode := map[bool]codes.Code{false: codes.ResourceExhausted, true: codes.OK}[echo]; status.Code(err) != wantCode {
			t.Errorf("echo=%v: SayHello with 5 MiB: got %v, want %v", echo, err, wantCode)
		}
	}
}

func TestEchoUnaryReportsWhatItReceived(t *testing.T) {
	client := protos.NewEchoClient(startEchoServer(t, true))
	payload := bytes.Repeat([]byte{7, 0, 255}, 8<<20/3)
	ctx := metadata.AppendToOutgoingContext(testCtx(t), "x-one", "1", "x-multi", "a", "x-multi", "b", "x-raw-bin", "\x00\xff")
	var header, trailer metadata.MD
	reply, err := client.Unary(ctx, &protos.EchoRequest{
		RequestId:     "u1",
		Payload:       payload,
		ReplySize:     8 << 20,
		ReplyHeaders:  map[string][]byte{"x-h": []byte("hv"), "x-h-bin": {0, 1}},
		ReplyTrailers: map[string][]byte{"x-t": []byte("tv")},
	}, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	if reply.GetRequestId() != "u1" || reply.GetHostname() != "echo-host" || reply.GetReceivedCount() != 1 {
		t.Errorf("reply: got request_id %q hostname %q received_count %d, want u1, echo-host, 1", reply.GetRequestId(), reply.GetHostname(), reply.GetReceivedCount())
	}
	if reply.GetReceivedSize() != int64(len(payload)) || reply.GetReceivedSha256() != sha(payload) {
		t.Errorf("received: got %d bytes sha %s, want %d bytes sha %s", reply.GetReceivedSize(), reply.GetReceivedSha256(), len(payload), sha(payload))
	}
	if want := pingserver.Pattern(8 << 20); !bytes.Equal(reply.GetPayload(), want) {
		t.Errorf("reply payload: got %d bytes, want the %d-byte pattern", len(reply.GetPayload()), len(want))
	}
	if p := pingserver.Pattern(253); p[250] != 250 || p[251] != 0 || p[252] != 1 {
		t.Errorf("Pattern: byte i must be i %% 251; got %v", p[248:])
	}
	for k, want := range map[string][]string{"x-one": {"1"}, "x-multi": {"a", "b"}, "x-raw-bin": {"\x00\xff"}} {
		var got []string
		for _, v := range reply.GetMetadata()[k].GetValues() {
			got = append(got, string(v))
		}
		if !slices.Equal(got, want) {
			t.Errorf("metadata %s the server saw: got %q, want %q", k, got, want)
		}
	}
	if got := header.Get("x-h"); !slices.Equal(got, []string{"hv"}) {
		t.Errorf("header x-h: got %q, want [hv]", got)
	}
	if got := header.Get("x-h-bin"); !slices.Equal(got, []string{"\x00\x01"}) {
		t.Errorf("header x-h-bin: got %q, want [\\x00\\x01]", got)
	}
	if got := trailer.Get("x-t"); !slices.Equal(got, []string{"tv"}) {
		t.Errorf("trailer x-t: got %q, want [tv]", got)
	}
	if d := reply.GetDeadlineRemaining().AsDuration(); d <= 5*time.Second || d > 10*time.Second {
		t.Errorf("deadline_remaining: got %s, want just under the client's 10s", d)
	}
}

func TestEchoNoDeadline(t *testing.T) {
	client := protos.NewEchoClient(startEchoServer(t, true))
	reply, err := client.Unary(context.Background(), &protos.EchoRequest{})
	if err != nil || reply.DeadlineRemaining != nil {
		t.Errorf("call without deadline: got deadline_remaining %v error %v, want it unset", reply.GetDeadlineRemaining(), err)
	}
}

func TestEchoStreams(t *testing.T) {
	client := protos.NewEchoClient(startEchoServer(t, true))

	ss, err := client.ServerStream(testCtx(t), &protos.EchoRequest{RequestId: "s", ReplyCount: 3, ReplySize: 300})
	if err != nil {
		t.Fatal(err)
	}
	for i := range int32(3) {
		r, err := ss.Recv()
		if err != nil || r.GetSequence() != i || !bytes.Equal(r.GetPayload(), pingserver.Pattern(300)) {
			t.Fatalf("ServerStream reply %d: got sequence %d, %d bytes, error %v", i, r.GetSequence(), len(r.GetPayload()), err)
		}
	}
	if _, err := ss.Recv(); err != io.EOF {
		t.Errorf("ServerStream after 3 replies: got %v, want io.EOF", err)
	}

	cs, err := client.ClientStream(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	parts := [][]byte{[]byte("one"), []byte("two"), []byte("three")}
	for _, p := range parts {
		if err := cs.Send(&protos.EchoRequest{RequestId: "c", Payload: p, ReplySize: 5}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := cs.CloseAndRecv()
	if err != nil || r.GetReceivedCount() != 3 || r.GetReceivedSize() != 11 || r.GetReceivedSha256() != sha(parts...) || len(r.GetPayload()) != 5 {
		t.Errorf("ClientStream: got count %d size %d sha %s payload %d bytes error %v, want 3, 11, %s, 5", r.GetReceivedCount(), r.GetReceivedSize(), r.GetReceivedSha256(), len(r.GetPayload()), err, sha(parts...))
	}

	bs, err := client.Bidi(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range parts {
		if err := bs.Send(&protos.EchoRequest{RequestId: "b", Payload: p}); err != nil {
			t.Fatal(err)
		}
		r, err := bs.Recv()
		if err != nil || r.GetSequence() != int32(i) || r.GetReceivedCount() != int32(i+1) || r.GetReceivedSha256() != sha(parts[:i+1]...) {
			t.Fatalf("Bidi reply %d: got sequence %d count %d error %v", i, r.GetSequence(), r.GetReceivedCount(), err)
		}
	}
	if err := bs.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.Recv(); err != io.EOF {
		t.Errorf("Bidi after CloseSend: got %v, want io.EOF", err)
	}
}

func TestEchoFailsAsAsked(t *testing.T) {
	client := protos.NewEchoClient(startEchoServer(t, true))
	const msg = "échec ✓ 世界 🚀 100% \n"
	_, err := client.Unary(testCtx(t), &protos.EchoRequest{RequestId: "f", FailCode: int32(codes.Aborted), FailMessage: msg})
	st := status.Convert(err)
	if st.Code() != codes.Aborted || st.Message() != msg {
		t.Errorf("Unary: got %s %q, want Aborted %q", st.Code(), st.Message(), msg)
	}
	if d := st.Details(); len(d) != 1 || d[0].(*protos.EchoReply).GetRequestId() != "f" || d[0].(*protos.EchoReply).GetHostname() != "echo-host" {
		t.Errorf("Unary: got details %v, want one EchoReply with request_id f and hostname echo-host", d)
	}

	ss, err := client.ServerStream(testCtx(t), &protos.EchoRequest{ReplyCount: 2, FailCode: int32(codes.DataLoss), FailMessage: msg})
	if err != nil {
		t.Fatal(err)
	}
	var replies int
	for err == nil {
		if _, err = ss.Recv(); err == nil {
			replies++
		}
	}
	if st := status.Convert(err); replies != 2 || st.Code() != codes.DataLoss || st.Message() != msg {
		t.Errorf("ServerStream: got %d replies then %s %q, want 2 then DataLoss %q", replies, st.Code(), st.Message(), msg)
	}

	for _, req := range []*protos.EchoRequest{{ReplySize: -1}, {ReplySize: pingserver.EchoMaxMsgSize + 1}, {FailCode: 17}, {FailCode: -1}} {
		if _, err := client.Unary(testCtx(t), req); status.Code(err) != codes.InvalidArgument {
			t.Errorf("Unary(%v): got %v, want InvalidArgument", req, err)
		}
	}
}

// awaitOutcome polls Outcome until it reports want.
func awaitOutcome(t *testing.T, client protos.EchoClient, id string, want protos.CallOutcome) *protos.OutcomeReply {
	t.Helper()
	var out *protos.OutcomeReply
	testenv.Eventually(t, 5*time.Second, "outcome of "+id+" is "+want.String(), func() error {
		var err error
		out, err = client.Outcome(context.Background(), &protos.OutcomeRequest{RequestId: id})
		if err != nil {
			return err
		}
		if out.GetOutcome() != want {
			return errors.New("got " + out.GetOutcome().String())
		}
		return nil
	})
	return out
}

func TestEchoOutcomes(t *testing.T) {
	client := protos.NewEchoClient(startEchoServer(t, true))
	minute := durationpb.New(time.Minute)

	if _, err := client.Unary(testCtx(t), &protos.EchoRequest{RequestId: "ok"}); err != nil {
		t.Fatal(err)
	}
	awaitOutcome(t, client, "ok", protos.CallOutcome_CALL_OUTCOME_COMPLETED)
	_, _ = client.Unary(testCtx(t), &protos.EchoRequest{RequestId: "failed", FailCode: int32(codes.Internal)})
	awaitOutcome(t, client, "failed", protos.CallOutcome_CALL_OUTCOME_FAILED)
	awaitOutcome(t, client, "never-called", protos.CallOutcome_CALL_OUTCOME_UNKNOWN)

	// Canceled while the server waits out the delay.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := client.Unary(ctx, &protos.EchoRequest{RequestId: "canceled", Delay: minute})
		done <- err
	}()
	awaitOutcome(t, client, "canceled", protos.CallOutcome_CALL_OUTCOME_RUNNING)
	cancel()
	if err := <-done; status.Code(err) != codes.Canceled {
		t.Errorf("canceled call: got %v, want Canceled", err)
	}
	out := awaitOutcome(t, client, "canceled", protos.CallOutcome_CALL_OUTCOME_CANCELED)
	if out.DeadlineRemaining != nil || out.GetDuration().AsDuration() >= time.Minute {
		t.Errorf("canceled call: got deadline %v duration %v, want no deadline and well under the 1m delay", out.GetDeadlineRemaining(), out.GetDuration())
	}

	// A stream canceled while the server waits for the next request.
	ctx, cancel = context.WithCancel(context.Background())
	bs, err := client.Bidi(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := bs.Send(&protos.EchoRequest{RequestId: "bidi"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bs.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	awaitOutcome(t, client, "bidi", protos.CallOutcome_CALL_OUTCOME_CANCELED)

	// Past its deadline the server ends the call itself; the client may
	// notice first and cancel, so either outcome is the server seeing it.
	ctx, cancel = context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := client.Unary(ctx, &protos.EchoRequest{RequestId: "late", Delay: minute}); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("call past its deadline: got %v, want DeadlineExceeded", err)
	}
	testenv.Eventually(t, 5*time.Second, "outcome of late", func() error {
		out, err := client.Outcome(context.Background(), &protos.OutcomeRequest{RequestId: "late"})
		if err != nil {
			return err
		}
		switch d := out.GetDeadlineRemaining().AsDuration(); {
		case out.GetOutcome() != protos.CallOutcome_CALL_OUTCOME_DEADLINE_EXCEEDED && out.GetOutcome() != protos.CallOutcome_CALL_OUTCOME_CANCELED:
			return errors.New("got " + out.GetOutcome().String())
		case d <= 0 || d > 300*time.Millisecond:
			t.Fatalf("deadline the server saw: got %s, want at most 300ms", d)
		}
		return nil
	})
}

// deadlineOnly has a deadline the client does not act on, so the server's
// own timer ends the call.
type deadlineOnly struct {
	context.Context
	deadline time.Time
}

func (d deadlineOnly) Deadline() (time.Time, bool) { return d.deadline, true }

func TestEchoOutcomeServerDeadline(t *testing.T) {
	client := protos.NewEchoClient(startEchoServer(t, true))
	for _, ignore := range []bool{false, true} {
		id := "server-deadline-" + strconv.FormatBool(ignore)
		ctx := deadlineOnly{testCtx(t), time.Now().Add(200 * time.Millisecond)}
		start := time.Now()
		_, err := client.Unary(ctx, &protos.EchoRequest{RequestId: id, Delay: durationpb.New(time.Second), IgnoreCancel: ignore})
		if took := time.Since(start); status.Code(err) != codes.DeadlineExceeded || took > 900*time.Millisecond {
			t.Errorf("ignore_cancel=%v: call the server ended at its 200ms deadline: got %v after %s, want DeadlineExceeded before the 1s delay", ignore, err, took)
		}
		// A handler that ignores the end runs out its delay.
		minTook, maxTook := 150*time.Millisecond, 900*time.Millisecond
		if ignore {
			minTook, maxTook = time.Second, 5*time.Second
		}
		out := awaitOutcome(t, client, id, protos.CallOutcome_CALL_OUTCOME_DEADLINE_EXCEEDED)
		if d := out.GetDuration().AsDuration(); d < minTook || d > maxTook {
			t.Errorf("ignore_cancel=%v: handler ran %s, want %s-%s", ignore, d, minTook, maxTook)
		}
	}
}

// Outcome remembers the latest 4096 calls, so a long-running -echo server
// does not grow without bound.
func TestEchoOutcomesAreBounded(t *testing.T) {
	client := protos.NewEchoClient(startEchoServer(t, true))
	ctx := testCtx(t)
	for i := range 4097 {
		if _, err := client.Unary(ctx, &protos.EchoRequest{RequestId: "id-" + strconv.Itoa(i)}); err != nil {
			t.Fatal(err)
		}
	}
	awaitOutcome(t, client, "id-0", protos.CallOutcome_CALL_OUTCOME_UNKNOWN)
	awaitOutcome(t, client, "id-1", protos.CallOutcome_CALL_OUTCOME_COMPLETED)
}
