package transparency

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/grpc-lb/nginx-consul/protos"
)

// The sizes of grpc-go's interop rpc_soak (interop/test_utils.go), the calls
// with which a stock grpc-go server stalled behind HAProxy (issue #19).
const (
	SoakRequestSize = 271828
	SoakReplySize   = 314159
	// SoakSlow is the longest a soak call may take: each moves about 600 KB
	// on loopback, so a slower call is a stall, not load.
	SoakSlow = time.Second
)

// Soak is what a soak did.
type Soak struct {
	Calls, Failed, Slow int
	Longest             time.Duration
	// Errors counts the failures by gRPC code and message.
	Errors map[string]int
}

func (s Soak) String() string {
	return fmt.Sprintf("%d calls, %d failed, %d slower than %s, longest %s; errors: %s",
		s.Calls, s.Failed, s.Slow, SoakSlow, s.Longest.Round(time.Millisecond), sortedErrors(s.Errors))
}

// Err reports a soak with any failed or slow call.
func (s Soak) Err() error {
	if s.Calls == 0 || s.Failed > 0 || s.Slow > 0 {
		return fmt.Errorf("soak: expected every call OK within %s, received %s", SoakSlow, s)
	}
	return nil
}

// LargeUnarySoak makes large unary calls (SoakRequestSize bytes out,
// SoakReplySize back, each reply checked) from threads goroutines on conn,
// until calls calls are made or, with calls 0, until d has passed.
func LargeUnarySoak(ctx context.Context, conn *grpc.ClientConn, threads, calls int, d time.Duration) Soak {
	client := protos.NewEchoClient(conn)
	end := time.Now().Add(d)
	var (
		mu     sync.Mutex
		s      = Soak{Errors: map[string]int{}}
		issued int
	)
	next := func() bool {
		mu.Lock()
		defer mu.Unlock()
		if ctx.Err() != nil || (calls > 0 && issued >= calls) || (calls == 0 && time.Now().After(end)) {
			return false
		}
		issued++
		return true
	}
	var wg sync.WaitGroup
	for range threads {
		wg.Go(func() {
			for next() {
				took, err := soakCall(ctx, client)
				mu.Lock()
				s.Calls++
				s.Longest = max(s.Longest, took)
				if took > SoakSlow {
					s.Slow++
				}
				if err != nil {
					s.Failed++
					st := status.Convert(err)
					s.Errors[st.Code().String()+": "+st.Message()]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return s
}

// soakCall makes one large unary call and checks what came back. Its
// deadline is far above SoakSlow, so a stall shows as a slow call that still
// ends.
func soakCall(ctx context.Context, client protos.EchoClient) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*SoakSlow)
	defer cancel()
	s := newSent()
	req := s.request(SoakRequestSize, SoakReplySize)
	start := time.Now()
	reply, err := client.Unary(ctx, req)
	took := time.Since(start)
	if err == nil {
		err = s.verify(reply, 0, SoakReplySize)
	}
	return took, err
}

// LargeStreams makes a client-, a server- and a bidi-streaming call, each
// moving count large soak-sized messages, and checks every message.
func LargeStreams(ctx context.Context, conn *grpc.ClientConn, count int) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	client := protos.NewEchoClient(conn)
	var errs []error

	s := newSent()
	up, err := client.ClientStream(ctx)
	for i := 0; err == nil && i < count; i++ {
		err = up.Send(s.request(SoakRequestSize, SoakReplySize))
	}
	var reply *protos.EchoReply
	if err == nil {
		reply, err = up.CloseAndRecv()
	}
	if err == nil {
		err = s.verify(reply, 0, SoakReplySize)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("client stream: %w", err))
	}

	s = newSent()
	req := s.request(SoakRequestSize, SoakReplySize)
	req.ReplyCount = int32(count)
	down, err := client.ServerStream(ctx, req)
	for i := 0; err == nil && i < count; i++ {
		if reply, err = down.Recv(); err == nil {
			err = s.verify(reply, int32(i), SoakReplySize)
		}
	}
	if err == nil {
		err = wantEOF(down.Recv())
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("server stream: %w", err))
	}

	s = newSent()
	bidi, err := client.Bidi(ctx)
	for i := 0; err == nil && i < count; i++ {
		err = s.roundTrip(bidi, int32(i), SoakRequestSize, SoakReplySize)
	}
	if err == nil {
		if err = bidi.CloseSend(); err == nil {
			err = wantEOF(bidi.Recv())
		}
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("bidi stream: %w", err))
	}
	return errors.Join(errs...)
}

// sortedErrors lists m's keys with their counts, or "none".
func sortedErrors(m map[string]int) string {
	var out []string
	for k, n := range m {
		out = append(out, fmt.Sprintf("%dx %s", n, k))
	}
	if len(out) == 0 {
		return "none"
	}
	sort.Strings(out)
	return strings.Join(out, "; ")
}
