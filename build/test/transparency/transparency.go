// Package transparency checks that a gRPC load balancer passes calls through
// unchanged. It calls protos.Echo (grpc_server -echo) through the balancer:
// every kind of call, 8 MiB messages, a long idle stream, metadata both ways,
// every status code, deadlines and cancellation, and that a call the server
// ends at its deadline does not take the replica out of the balancer. The
// server reports what it received, so each check compares what was sent with
// what arrived, and its errors say what was expected and what was received.
//
// The target's replicas must run grpc_server -echo. From a test:
//
//	err := transparency.Run(ctx, "127.0.0.1:5000", 3*time.Minute, t.Logf)
package transparency

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/grpc-lb/nginx-consul/protos"
)

const (
	// MaxMsgSize is the client's message size limit: grpc-go's default
	// receive limit (4 MiB) is below LargeSize.
	MaxMsgSize = 16 << 20
	// LargeSize is the message size the large-message checks send each way.
	LargeSize = 8 << 20
	// callTimeout bounds every call but the idle stream, so a balancer that
	// swallows a call fails the check instead of hanging it.
	callTimeout = 30 * time.Second
	// outcomeWait bounds how long a check polls Outcome for the server's
	// view of a call that ended.
	outcomeWait = 10 * time.Second
)

// Check is one property of the balancer, tested through conn.
type Check struct {
	Name string
	Run  func(ctx context.Context, conn *grpc.ClientConn) error
	// Alone checks run after the others, one at a time: when they fail,
	// the balancer may stop routing to a replica for a while, which would
	// fail checks running meanwhile for no reason of their own.
	Alone bool
}

// Checks returns every check, the Alone ones last. idle is how long the
// idle-stream check keeps its stream open without traffic.
func Checks(idle time.Duration) []Check {
	return []Check{
		{Name: "unary", Run: Unary},
		{Name: "server-stream", Run: ServerStream},
		{Name: "client-stream", Run: ClientStream},
		{Name: "bidi", Run: Bidi},
		{Name: "large-messages", Run: LargeMessages},
		{Name: "idle-stream", Run: func(ctx context.Context, conn *grpc.ClientConn) error { return IdleStream(ctx, conn, idle) }},
		{Name: "metadata", Run: Metadata},
		{Name: "status-codes", Run: StatusCodes},
		{Name: "cancellation", Run: Cancellation},
		{Name: "server-deadline-reset", Run: ServerDeadlineReset, Alone: true},
		{Name: "deadline", Run: Deadline, Alone: true},
	}
}

// Dial connects to target (host:port, or a gRPC target with a scheme)
// without TLS, with message limits that fit LargeSize.
func Dial(target string) (*grpc.ClientConn, error) {
	if !strings.Contains(target, "://") {
		target = "passthrough:///" + target
	}
	return grpc.NewClient(target,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMsgSize), grpc.MaxCallSendMsgSize(MaxMsgSize)))
}

// Run runs every check against target: all at once on one shared connection
// (the idle stream has its own), then the Alone ones in turn. It logs each
// result with its duration, and returns the failures, each prefixed by its
// check's name.
func Run(ctx context.Context, target string, idle time.Duration, logf func(string, ...any)) error {
	conn, err := Dial(target)
	if err != nil {
		return err
	}
	defer conn.Close()
	var (
		mu   sync.Mutex
		errs []error
	)
	run := func(c Check) {
		start := time.Now()
		err := c.Run(ctx, conn)
		took := time.Since(start).Round(time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", c.Name, err))
			logf("transparency: FAIL %s (%s): %v", c.Name, took, err)
			return
		}
		logf("transparency: ok   %s (%s)", c.Name, took)
	}
	var wg sync.WaitGroup
	for _, c := range Checks(idle) {
		if !c.Alone {
			wg.Go(func() { run(c) })
		}
	}
	wg.Wait()
	for _, c := range Checks(idle) {
		if c.Alone {
			run(c)
		}
	}
	return errors.Join(errs...)
}

// sent is what a call sent so far, to compare with what the server says it
// received.
type sent struct {
	id    string
	count int32
	size  int64
	sum   hash.Hash
}

func newSent() *sent { return &sent{id: rand.Text(), sum: sha256.New()} }

// request makes the next request: size random bytes, asking for replySize.
func (s *sent) request(size int, replySize int64) *protos.EchoRequest {
	payload := make([]byte, size)
	_, _ = rand.Read(payload)
	s.count++
	s.size += int64(size)
	s.sum.Write(payload)
	return &protos.EchoRequest{RequestId: s.id, Payload: payload, ReplySize: replySize}
}

// verify compares a reply with what was sent so far.
func (s *sent) verify(r *protos.EchoReply, seq int32, replySize int64) error {
	var errs []error
	if r.GetRequestId() != s.id {
		errs = append(errs, mismatch("request_id", s.id, r.GetRequestId()))
	}
	if r.GetHostname() == "" {
		errs = append(errs, errors.New("hostname: expected the serving replica's name, received none"))
	}
	if r.GetSequence() != seq {
		errs = append(errs, mismatch("sequence", seq, r.GetSequence()))
	}
	if r.GetReceivedCount() != s.count {
		errs = append(errs, mismatch("requests the server received", s.count, r.GetReceivedCount()))
	}
	if r.GetReceivedSize() != s.size {
		errs = append(errs, mismatch("payload bytes the server received", s.size, r.GetReceivedSize()))
	}
	if want := hex.EncodeToString(s.sum.Sum(nil)); r.GetReceivedSha256() != want {
		errs = append(errs, mismatch("SHA-256 of the payload the server received", want, r.GetReceivedSha256()))
	}
	if err := checkPattern(r.GetPayload(), replySize); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// roundTrip sends one request on a bidi stream and verifies its reply.
func (s *sent) roundTrip(stream grpc.BidiStreamingClient[protos.EchoRequest, protos.EchoReply], seq int32, size int, replySize int64) error {
	req := s.request(size, replySize)
	if err := stream.Send(req); err != nil {
		return fmt.Errorf("send %d: %w", seq, err)
	}
	reply, err := stream.Recv()
	if err != nil {
		return fmt.Errorf("reply %d: %w", seq, err)
	}
	if err := s.verify(reply, seq, replySize); err != nil {
		return fmt.Errorf("reply %d: %w", seq, err)
	}
	return nil
}

// checkPattern compares a reply payload with protos/echo.proto's pattern,
// byte i being i % 251. It is computed here, not taken from the server's
// code, so a bug there shows.
func checkPattern(got []byte, size int64) error {
	if int64(len(got)) != size {
		return mismatch("reply payload size", size, len(got))
	}
	for i, b := range got {
		if b != byte(i%251) {
			return fmt.Errorf("reply payload differs from byte %d of %d: expected %d, received %d", i, size, byte(i%251), b)
		}
	}
	return nil
}

// wantEOF checks that a stream ended with status OK after the expected replies.
func wantEOF(extra *protos.EchoReply, err error) error {
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return fmt.Errorf("end of stream: expected OK, received %w", err)
	}
	return fmt.Errorf("end of stream: expected no more replies, received reply %d", extra.GetSequence())
}

func mismatch(what string, want, got any) error {
	return fmt.Errorf("%s: expected %v, received %v", what, want, got)
}
