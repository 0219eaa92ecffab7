package transparency

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/grpc-lb/nginx-consul/protos"
)

// stuckPerKind is how many stuck streams of each kind StuckStreams opens:
// round robin puts at least one of each on every replica of a deployment of
// up to that many.
const stuckPerKind = 6

// stuckWriterDelay is how long a stuck writer's server waits before it
// reads on: longer than a check takes, however slow the machine.
const stuckWriterDelay = time.Minute

// StuckStreams checks that streams stuck in the balancer hold no other
// client's calls. On connections of their own it opens calls whose client
// stops reading large replies, and calls whose server stops reading large
// requests; once the balancer's buffers for them are full, another client
// makes calls soak-sized calls, each of which must succeed within SoakSlow.
// The stuck calls are canceled at the end; the returned StuckCalls name
// them, for a shared deployment to wait until its replicas have ended them.
func StuckStreams(ctx context.Context, target string, calls int) (StuckCalls, error) {
	stuckCtx, cancelStuck := context.WithCancel(ctx)
	defer cancelStuck()
	var stuck StuckCalls

	reader, err := Dial(target)
	if err != nil {
		return stuck, err
	}
	defer reader.Close()
	for i := range stuckPerKind {
		// Never read: the balancer holds what the client's window refuses.
		id := stuck.add("stuck-reader")
		_, err := protos.NewEchoClient(reader).ServerStream(stuckCtx, &protos.EchoRequest{RequestId: id, ReplySize: 1 << 20, ReplyCount: 64})
		if err != nil {
			return stuck, fmt.Errorf("stuck reader %d: %w", i, err)
		}
	}

	writer, err := Dial(target)
	if err != nil {
		return stuck, err
	}
	defer writer.Close()
	w := &stuckWriters{}
	defer w.wg.Wait()
	defer cancelStuck()
	for i := range stuckPerKind {
		if err := w.start(stuckCtx, writer, stuck.add("stuck-writer")); err != nil {
			return stuck, fmt.Errorf("stuck writer %d: %w", i, err)
		}
	}
	if err := w.waitBlocked(ctx); err != nil {
		return stuck, err
	}

	other, err := Dial(target)
	if err != nil {
		return stuck, err
	}
	defer other.Close()
	s := LargeUnarySoak(ctx, other, 1, calls, 0)
	if err := s.Err(); err != nil {
		return stuck, fmt.Errorf("another client, with %d streams stuck on reading and %d on writing (%d MiB sent before the writers blocked): %w",
			stuckPerKind, stuckPerKind, w.sent.Load(), err)
	}
	return stuck, nil
}

// StuckCalls are the request ids of the calls a stuck-stream check opened.
type StuckCalls struct{ ids []string }

func (s *StuckCalls) add(kind string) string {
	id := kind + "-" + rand.Text()
	s.ids = append(s.ids, id)
	return id
}

// AwaitEnded waits, for up to within, until the replicas behind target
// report that every stuck call has ended. A balancer whose cancel queues
// behind a stuck request (HAProxy: build/config/haproxy/README.md) leaves
// the writers' calls running on the replica until it reads again, at the
// end of stuckWriterDelay; a replica stopped meanwhile would cut them.
func (s StuckCalls) AwaitEnded(ctx context.Context, target string, within time.Duration) error {
	conn, err := Dial(target)
	if err != nil {
		return err
	}
	defer conn.Close()
	client := protos.NewEchoClient(conn)
	deadline := time.Now().Add(within)
	for _, id := range s.ids {
		ended := func(o protos.CallOutcome) bool {
			return o != protos.CallOutcome_CALL_OUTCOME_UNKNOWN && o != protos.CallOutcome_CALL_OUTCOME_RUNNING
		}
		if _, err := awaitOutcomeWithin(ctx, client, id, max(time.Until(deadline), time.Second), ended); err != nil {
			return fmt.Errorf("stuck call %s: %w", id, err)
		}
	}
	return nil
}

// stuckWriters are bidi calls whose server stops reading: each sends a
// first request asking the server to wait a minute before it reads on, then
// up to 64 MiB more, which fill the windows and buffers on the way until
// Send blocks.
type stuckWriters struct {
	sent  atomic.Int64 // MiB sent after the first requests
	total int64        // MiB all of them would send
	wg    sync.WaitGroup
}

// start opens one more stuck writer on conn; ctx ends it.
func (w *stuckWriters) start(ctx context.Context, conn *grpc.ClientConn, id string) error {
	stream, err := protos.NewEchoClient(conn).Bidi(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(&protos.EchoRequest{RequestId: id, Delay: durationpb.New(stuckWriterDelay)}); err != nil {
		return err
	}
	w.total += 64
	w.wg.Go(func() {
		payload := make([]byte, 1<<20)
		for range 64 {
			if stream.Send(&protos.EchoRequest{Payload: payload}) != nil {
				return
			}
			w.sent.Add(1)
		}
	})
	return nil
}

// waitBlocked waits until the writers have sent nothing for half a second:
// their Send calls have blocked before all of their requests went through.
func (w *stuckWriters) waitBlocked(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	last, since := w.sent.Load(), time.Now()
	for time.Since(since) < 500*time.Millisecond {
		if time.Now().After(deadline) {
			return errors.New("stuck writers: their requests were still flowing after 30 s; the server should have stopped reading")
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if cur := w.sent.Load(); cur != last {
			last, since = cur, time.Now()
		}
	}
	if last >= w.total {
		return fmt.Errorf("stuck writers: all %d requests went through; the server should have stopped reading", last)
	}
	return nil
}

// CanceledLargeCalls checks that calls a client cancels while their large
// replies are still coming hold none of its later calls: it cancels calls
// mid-call on a connection, then makes calls soak-sized calls on the same
// connection, each of which must succeed within SoakSlow. A balancer that
// does not pass the cancel on to the replica (HAProxy before 3.0) leaves the
// replica sending into a stream nobody reads.
func CanceledLargeCalls(ctx context.Context, target string, calls int) error {
	conn, err := Dial(target)
	if err != nil {
		return err
	}
	defer conn.Close()
	client := protos.NewEchoClient(conn)
	payload := make([]byte, SoakRequestSize)
	for range 2 * stuckPerKind {
		// A deadline this short ends the call while its request or its
		// first replies are on the way, as a client's deadline does.
		callCtx, cancel := context.WithTimeout(ctx, 30*time.Millisecond)
		stream, err := client.ServerStream(callCtx, &protos.EchoRequest{Payload: payload, ReplySize: 1 << 20, ReplyCount: 64})
		if err == nil {
			_, _ = stream.Recv()
		}
		<-callCtx.Done()
		cancel()
	}
	s := LargeUnarySoak(ctx, conn, 1, calls, 0)
	if err := s.Err(); err != nil {
		return fmt.Errorf("the same client after %d calls canceled mid-call: %w", 2*stuckPerKind, err)
	}
	return nil
}

// SameClientAfterStuckWriter opens, on one connection, a call whose server
// stops reading large requests, then makes calls soak-sized calls on the same
// connection, each of which must succeed within SoakSlow. HTTP/2 gives each
// stream its own flow control, so a balancer that honours it lets them pass.
func SameClientAfterStuckWriter(ctx context.Context, target string, calls int) error {
	stuckCtx, cancelStuck := context.WithCancel(ctx)
	defer cancelStuck()
	conn, err := Dial(target)
	if err != nil {
		return err
	}
	defer conn.Close()
	w := &stuckWriters{}
	defer w.wg.Wait()
	defer cancelStuck()
	if err := w.start(stuckCtx, conn, "stuck-writer-"+rand.Text()); err != nil {
		return fmt.Errorf("stuck writer: %w", err)
	}
	if err := w.waitBlocked(ctx); err != nil {
		return err
	}
	s := LargeUnarySoak(ctx, conn, 1, calls, 0)
	if err := s.Err(); err != nil {
		return fmt.Errorf("the same client, with a stream its server stopped reading (%d MiB sent before it blocked): %w", w.sent.Load(), err)
	}
	return nil
}
