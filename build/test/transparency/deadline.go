package transparency

import (
	"context"
	"crypto/rand"
	"fmt"
	"maps"
	"slices"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/protos"
)

// Deadline checks the server sees the client's deadline, and that a call
// whose deadline passes ends on the server too.
func Deadline(ctx context.Context, conn *grpc.ClientConn) error {
	client := protos.NewEchoClient(conn)
	callCtx, cancel := context.WithTimeout(ctx, callTimeout)
	reply, err := client.Unary(callCtx, &protos.EchoRequest{RequestId: rand.Text()})
	cancel()
	if err != nil {
		return fmt.Errorf("call with a %s deadline: %w", callTimeout, err)
	}
	if err := checkDeadline("deadline the server saw", reply.GetDeadlineRemaining(), callTimeout); err != nil {
		return err
	}

	// The client gives up after 1s on a call the server delays by a minute.
	const short = time.Second
	id := rand.Text()
	callCtx, cancel = context.WithTimeout(ctx, short)
	defer cancel()
	start := time.Now()
	_, err = client.Unary(callCtx, &protos.EchoRequest{RequestId: id, Delay: durationpb.New(time.Minute)})
	if took := time.Since(start); status.Code(err) != codes.DeadlineExceeded || took > short+5*time.Second {
		return fmt.Errorf("call with a %s deadline and a 1m server delay: expected DeadlineExceeded after %s, received %v after %s", short, short, err, took)
	}
	// Either end may act first: the server's own timer from grpc-timeout
	// (DEADLINE_EXCEEDED), or the client's RST_STREAM at its deadline, which
	// may reach the server just before its timer fires (CANCELED). Both mean
	// the call stopped on the server.
	out, err := awaitOutcome(ctx, client, id, func(o protos.CallOutcome) bool {
		return o == protos.CallOutcome_CALL_OUTCOME_DEADLINE_EXCEEDED || o == protos.CallOutcome_CALL_OUTCOME_CANCELED
	})
	if err != nil {
		return fmt.Errorf("call whose %s deadline passed, on the server: %w", short, err)
	}
	return checkDeadline("deadline the server saw on the call that expired", out.GetDeadlineRemaining(), short)
}

// checkDeadline checks a deadline the server reported is at most the
// client's, and not much less: the trip through the balancer takes a little.
func checkDeadline(what string, got *durationpb.Duration, want time.Duration) error {
	const slack = 2500 * time.Millisecond
	if got == nil {
		return fmt.Errorf("%s: expected about %s, received none (grpc-timeout did not reach the server)", what, want)
	}
	if d := got.AsDuration(); d <= 0 || d > want || d < want-slack {
		return mismatch(what, fmt.Sprintf("between %s and %s", max(want-slack, 0), want), d)
	}
	return nil
}

// deadlineOnly has a deadline but is not canceled at it: grpc-go sends the
// deadline as grpc-timeout, yet does not reset the call when it passes.
type deadlineOnly struct {
	context.Context
	deadline time.Time
}

func (d deadlineOnly) Deadline() (time.Time, bool) { return d.deadline, true }

// ServerDeadlineReset checks the balancer keeps routing to a replica after
// the server ended a call at its deadline. A grpc-go server ends such a call
// with RST_STREAM (CANCEL), and when the handler has not answered by then,
// that reset comes before any response header. In real use this happens
// when the server's deadline timer beats the client's own reset to it (on
// loopback, about half the expired calls of the Deadline check) before the
// handler answers; the check makes it certain: the client sends a deadline but does not act on it, and the
// handler ignores the call's end. nginx counts that reset as a failed
// attempt (it logs "upstream rejected request with error 8") and, with
// max_fails=1, stops routing to the replica for fail_timeout. With a single
// replica nginx never takes it out, and the check cannot tell.
func ServerDeadlineReset(ctx context.Context, conn *grpc.ClientConn) error {
	client := protos.NewEchoClient(conn)
	before, err := replicas(ctx, client, nil)
	if err != nil {
		return fmt.Errorf("replicas before: %w", err)
	}
	const short, busy = 500 * time.Millisecond, 2 * time.Second
	id := rand.Text()
	// The real bound, should the server not end the call.
	callCtx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	// A real client whose own timer fires late (a busy machine) takes the
	// status the balancer answers after the reset: directly, grpc-go turns
	// the replica's RST_STREAM (CANCEL) after its deadline into
	// DeadlineExceeded, and so must the call through a balancer.
	req := &protos.EchoRequest{RequestId: id, Delay: durationpb.New(busy), IgnoreCancel: true}
	_, callErr := client.Unary(deadlineOnly{callCtx, time.Now().Add(short)}, req)
	if status.Code(callErr) != codes.DeadlineExceeded {
		return fmt.Errorf("call the server ended at its %s deadline (RST_STREAM CANCEL, as grpc-go does), as the client saw it: expected DeadlineExceeded, received %v", short, callErr)
	}

	after, err := replicas(ctx, client, before)
	if err != nil {
		return fmt.Errorf("replicas after the server ended a call at its deadline: %w", err)
	}
	if missing := difference(before, after); len(missing) > 0 {
		return fmt.Errorf("after a server ended a call at its deadline (RST_STREAM CANCEL, as grpc-go does), the balancer stopped routing to %v: expected calls to reach %v, received answers from %v only; nginx counts a reset before the response header as a failed attempt, so its upstream servers need max_fails=0",
			missing, sortedKeys(before), sortedKeys(after))
	}
	deadlineExceeded := func(o protos.CallOutcome) bool { return o == protos.CallOutcome_CALL_OUTCOME_DEADLINE_EXCEEDED }
	out, err := awaitOutcome(ctx, client, id, deadlineExceeded)
	if err != nil {
		return fmt.Errorf("call the server ended at its %s deadline, as the server saw it: %w", short, err)
	}
	return checkDeadline("deadline the server saw on the call it ended", out.GetDeadlineRemaining(), short)
}

// replicas returns the hostnames that answer a run of Outcome calls. The
// balancer picks a replica per call, so enough calls reach every replica it
// routes to: the run ends when it has reached every replica in want, or, with
// no want, after 40 calls of which the last 30 found no new one; 400 at most.
func replicas(ctx context.Context, client protos.EchoClient, want map[string]bool) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	seen := map[string]bool{}
	for calls, sinceNew := 1, 0; calls <= 400; calls, sinceNew = calls+1, sinceNew+1 {
		out, err := client.Outcome(ctx, &protos.OutcomeRequest{})
		if err != nil {
			return seen, err
		}
		if !seen[out.GetHostname()] {
			seen[out.GetHostname()], sinceNew = true, 0
		}
		if want != nil && len(difference(want, seen)) == 0 || want == nil && calls >= 40 && sinceNew >= 30 {
			break
		}
	}
	return seen, nil
}

// difference lists the keys of a that b lacks, sorted.
func difference(a, b map[string]bool) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if !b[k] {
			out = append(out, k)
		}
	}
	return out
}

// Cancellation cancels a unary call the server is running, and a bidi
// stream the server is waiting on, and checks the server saw each end.
func Cancellation(ctx context.Context, conn *grpc.ClientConn) error {
	client := protos.NewEchoClient(conn)
	id := rand.Text()
	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := client.Unary(callCtx, &protos.EchoRequest{RequestId: id, Delay: durationpb.New(time.Minute)})
		done <- err
	}()
	// Cancel only once the server runs the call; earlier, the balancer
	// might never have forwarded it.
	running := func(o protos.CallOutcome) bool { return o != protos.CallOutcome_CALL_OUTCOME_UNKNOWN }
	if _, err := awaitOutcome(ctx, client, id, running); err != nil {
		return fmt.Errorf("unary call before canceling it: %w", err)
	}
	cancel()
	if err := <-done; status.Code(err) != codes.Canceled {
		return mismatch("unary call the client canceled", codes.Canceled, err)
	}
	canceled := func(o protos.CallOutcome) bool { return o == protos.CallOutcome_CALL_OUTCOME_CANCELED }
	if _, err := awaitOutcome(ctx, client, id, canceled); err != nil {
		return fmt.Errorf("unary call the client canceled, on the server: %w", err)
	}

	callCtx, cancel = context.WithCancel(ctx)
	defer cancel()
	stream, err := client.Bidi(callCtx)
	if err != nil {
		return fmt.Errorf("bidi: %w", err)
	}
	s := newSent()
	if err := s.roundTrip(stream, 0, 10, 10); err != nil {
		return fmt.Errorf("bidi before canceling it: %w", err)
	}
	cancel()
	if _, err := awaitOutcome(ctx, client, s.id, canceled); err != nil {
		return fmt.Errorf("bidi stream the client canceled, on the server: %w", err)
	}
	return nil
}

// awaitOutcome polls Outcome until the replica that served call id reports
// an outcome done accepts. The balancer sends each poll to a replica of its
// choice; replicas that did not serve the call answer UNKNOWN.
func awaitOutcome(ctx context.Context, client protos.EchoClient, id string, done func(protos.CallOutcome) bool) (*protos.OutcomeReply, error) {
	return awaitOutcomeWithin(ctx, client, id, outcomeWait, done)
}

// awaitOutcomeWithin is awaitOutcome polling for up to outcomeWait.
func awaitOutcomeWithin(ctx context.Context, client protos.EchoClient, id string, outcomeWait time.Duration, done func(protos.CallOutcome) bool) (*protos.OutcomeReply, error) {
	ctx, cancel := context.WithTimeout(ctx, outcomeWait)
	defer cancel()
	var reply *protos.OutcomeReply
	last := &protos.OutcomeReply{}
	answered := map[string]bool{}
	var lastErr error
	err := testenv.Poll(outcomeWait, 20*time.Millisecond, func() error {
		out, err := client.Outcome(ctx, &protos.OutcomeRequest{RequestId: id})
		switch {
		case err != nil:
			lastErr = err
		case done(out.GetOutcome()):
			reply = out
			return nil
		case out.GetOutcome() != protos.CallOutcome_CALL_OUTCOME_UNKNOWN:
			last = out
		}
		if err == nil {
			answered[out.GetHostname()] = true
		}
		switch {
		case last.GetOutcome() != protos.CallOutcome_CALL_OUTCOME_UNKNOWN:
			return fmt.Errorf("after %s the server still reported %s", outcomeWait, last.GetOutcome())
		case len(answered) == 0:
			return fmt.Errorf("Outcome: %w", lastErr)
		default:
			return fmt.Errorf("after %s no replica reported the call; polls reached %v (a replica missing from these was taken out of the balancer), last error %v",
				outcomeWait, sortedKeys(answered), lastErr)
		}
	})
	return reply, err
}
