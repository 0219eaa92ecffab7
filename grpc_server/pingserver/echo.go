package pingserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/grpc-lb/nginx-consul/protos"
)

// Limits on what a request may ask for, so a bad request cannot make the
// server allocate without bound. A reply cannot be larger than the server
// sends anyway.
const (
	maxReplySize  = EchoMaxMsgSize
	maxReplyCount = 10000
	// maxOutcomes bounds the calls Outcome remembers; the oldest are dropped.
	maxOutcomes = 4096
)

// Echo is the test service of protos/echo.proto: it does what each request
// asks and reports what it received, so a client can check that the load
// balancer in between changed nothing.
type Echo struct {
	protos.UnimplementedEchoServer
	Hostname string

	mu       sync.Mutex
	outcomes map[string]*protos.OutcomeReply
	order    []string // request_ids, oldest first
}

// NewEcho returns the service for the replica named hostname.
func NewEcho(hostname string) *Echo {
	return &Echo{Hostname: hostname, outcomes: map[string]*protos.OutcomeReply{}}
}

// Unary replies once, or fails as asked.
func (e *Echo) Unary(ctx context.Context, req *protos.EchoRequest) (_ *protos.EchoReply, err error) {
	c := e.newCall(ctx)
	defer func() { c.end(err) }()
	c.track(req.GetRequestId())
	if err := c.receive(req); err != nil {
		return nil, err
	}
	if err := grpc.SetHeader(ctx, toMD(req.GetReplyHeaders())); err != nil {
		return nil, err
	}
	if err := grpc.SetTrailer(ctx, toMD(req.GetReplyTrailers())); err != nil {
		return nil, err
	}
	if err := c.wait(req); err != nil {
		return nil, err
	}
	if err := e.failure(req); err != nil {
		return nil, err
	}
	return c.reply(req, 0), nil
}

// ServerStream sends reply_count replies, then fails if asked to.
func (e *Echo) ServerStream(req *protos.EchoRequest, ss grpc.ServerStreamingServer[protos.EchoReply]) (err error) {
	c := e.newCall(ss.Context())
	defer func() { c.end(err) }()
	c.track(req.GetRequestId())
	if err := c.receive(req); err != nil {
		return err
	}
	if err := c.start(ss, req); err != nil {
		return err
	}
	for i := range req.GetReplyCount() {
		if err := ss.Send(c.reply(req, i)); err != nil {
			return err
		}
	}
	return e.failure(req)
}

// ClientStream receives until the client finishes sending, then follows the
// first request's instructions.
func (e *Echo) ClientStream(ss grpc.ClientStreamingServer[protos.EchoRequest, protos.EchoReply]) (err error) {
	c := e.newCall(ss.Context())
	defer func() { c.end(err) }()
	first := &protos.EchoRequest{}
	for n := 0; ; n++ {
		req, rerr := ss.Recv()
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
		if n == 0 {
			first = req
			c.track(req.GetRequestId())
		}
		if err := c.receive(req); err != nil {
			return err
		}
	}
	if err := c.start(ss, first); err != nil {
		return err
	}
	if err := e.failure(first); err != nil {
		return err
	}
	return ss.SendAndClose(c.reply(first, 0))
}

// Bidi replies to each request as it arrives, until the client finishes
// sending or a request asks to fail.
func (e *Echo) Bidi(ss grpc.BidiStreamingServer[protos.EchoRequest, protos.EchoReply]) (err error) {
	c := e.newCall(ss.Context())
	defer func() { c.end(err) }()
	for seq := int32(0); ; seq++ {
		req, rerr := ss.Recv()
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return rerr
		}
		if err := c.receive(req); err != nil {
			return err
		}
		if seq == 0 {
			c.track(req.GetRequestId())
			err = c.start(ss, req)
		} else {
			err = c.wait(req)
		}
		if err != nil {
			return err
		}
		if err := e.failure(req); err != nil {
			return err
		}
		if err := ss.Send(c.reply(req, seq)); err != nil {
			return err
		}
	}
}

// Outcome reports what this replica saw of the call named request_id.
func (e *Echo) Outcome(_ context.Context, req *protos.OutcomeRequest) (*protos.OutcomeReply, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := &protos.OutcomeReply{RequestId: req.GetRequestId(), Hostname: e.Hostname}
	if rec, ok := e.outcomes[req.GetRequestId()]; ok && req.GetRequestId() != "" {
		out.Outcome, out.DeadlineRemaining, out.Duration = rec.Outcome, rec.DeadlineRemaining, rec.Duration
	}
	return out, nil
}

// failure is the status a request asks to end with, or nil.
func (e *Echo) failure(req *protos.EchoRequest) error {
	if req.GetFailCode() == 0 {
		return nil
	}
	st := status.New(codes.Code(req.GetFailCode()), req.GetFailMessage())
	detailed, err := st.WithDetails(&protos.EchoReply{RequestId: req.GetRequestId(), Hostname: e.Hostname})
	if err != nil {
		return st.Err()
	}
	return detailed.Err()
}

// call is one call in progress: what it received so far, and its record
// for Outcome.
type call struct {
	e        *Echo
	ctx      context.Context
	id       string // empty until track, and for calls without a request_id
	started  time.Time
	deadline *durationpb.Duration // remaining when the call started; nil if none
	count    int32
	size     int64
	sum      hash.Hash
}

func (e *Echo) newCall(ctx context.Context) *call {
	c := &call{e: e, ctx: ctx, started: time.Now(), sum: sha256.New()}
	if d, ok := ctx.Deadline(); ok {
		c.deadline = durationpb.New(time.Until(d))
	}
	return c
}

// track names the call for Outcome and records it as running. Streams learn
// the name from their first request, so this comes after newCall.
func (c *call) track(id string) {
	c.id = id
	c.record(protos.CallOutcome_CALL_OUTCOME_RUNNING, nil)
}

// end records how the handler finished. The context is checked first: a
// call the client canceled also fails its Recv or Send. Past the deadline
// ctx.Err() alone does not say why: grpc-go's transport cancels the context
// at the deadline too, racing the context's own timer.
func (c *call) end(err error) {
	outcome := protos.CallOutcome_CALL_OUTCOME_COMPLETED
	deadline, hasDeadline := c.ctx.Deadline()
	switch {
	case errors.Is(c.ctx.Err(), context.DeadlineExceeded),
		c.ctx.Err() != nil && hasDeadline && !time.Now().Before(deadline):
		outcome = protos.CallOutcome_CALL_OUTCOME_DEADLINE_EXCEEDED
	case c.ctx.Err() != nil:
		outcome = protos.CallOutcome_CALL_OUTCOME_CANCELED
	case err != nil:
		outcome = protos.CallOutcome_CALL_OUTCOME_FAILED
	}
	c.record(outcome, durationpb.New(time.Since(c.started)))
}

func (c *call) record(outcome protos.CallOutcome, took *durationpb.Duration) {
	if c.id == "" {
		return
	}
	e := c.e
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.outcomes[c.id]; !ok {
		e.order = append(e.order, c.id)
		if len(e.order) > maxOutcomes {
			delete(e.outcomes, e.order[0])
			e.order = e.order[1:]
		}
	}
	e.outcomes[c.id] = &protos.OutcomeReply{Outcome: outcome, DeadlineRemaining: c.deadline, Duration: took}
}

// receive checks a request against the limits and counts its payload.
func (c *call) receive(req *protos.EchoRequest) error {
	if n := req.GetReplySize(); n < 0 || n > maxReplySize {
		return status.Errorf(codes.InvalidArgument, "reply_size %d is out of range 0-%d", n, maxReplySize)
	}
	if n := req.GetReplyCount(); n < 0 || n > maxReplyCount {
		return status.Errorf(codes.InvalidArgument, "reply_count %d is out of range 0-%d", n, maxReplyCount)
	}
	if code := req.GetFailCode(); code < 0 || code > 16 {
		return status.Errorf(codes.InvalidArgument, "fail_code %d is out of range 0-16", code)
	}
	c.count++
	c.size += int64(len(req.GetPayload()))
	c.sum.Write(req.GetPayload())
	return nil
}

// start applies a stream's first request: its metadata, then its delay.
func (c *call) start(ss grpc.ServerStream, req *protos.EchoRequest) error {
	if err := ss.SetHeader(toMD(req.GetReplyHeaders())); err != nil {
		return err
	}
	ss.SetTrailer(toMD(req.GetReplyTrailers()))
	return c.wait(req)
}

// wait sleeps for the request's delay, or until the call ends unless the
// request says to ignore that.
func (c *call) wait(req *protos.EchoRequest) error {
	d := req.GetDelay().AsDuration()
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	if req.GetIgnoreCancel() {
		<-t.C
		return nil
	}
	select {
	case <-t.C:
		return nil
	case <-c.ctx.Done():
		return status.FromContextError(c.ctx.Err()).Err()
	}
}

func (c *call) reply(req *protos.EchoRequest, seq int32) *protos.EchoReply {
	md, _ := metadata.FromIncomingContext(c.ctx)
	seen := make(map[string]*protos.MetadataValues, len(md))
	for k, vs := range md {
		mv := &protos.MetadataValues{}
		for _, v := range vs {
			mv.Values = append(mv.Values, []byte(v))
		}
		seen[k] = mv
	}
	return &protos.EchoReply{
		RequestId:         req.GetRequestId(),
		Hostname:          c.e.Hostname,
		Payload:           Pattern(req.GetReplySize()),
		Sequence:          seq,
		ReceivedCount:     c.count,
		ReceivedSize:      c.size,
		ReceivedSha256:    hex.EncodeToString(c.sum.Sum(nil)),
		Metadata:          seen,
		DeadlineRemaining: c.deadline,
	}
}

func toMD(m map[string][]byte) metadata.MD {
	md := metadata.MD{}
	for k, v := range m {
		md.Append(strings.ToLower(k), string(v))
	}
	return md
}

// Pattern is the reply payload of protos/echo.proto: n bytes, byte i being
// i % 251. The modulus is prime so it does not line up with the power-of-two
// frame and buffer sizes a proxy cuts data at.
func Pattern(n int64) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i % 251)
	}
	return b
}
