package transparency

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/grpc-lb/nginx-consul/protos"
)

// Unary sends a payload and asks for one back.
func Unary(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	s := newSent()
	req := s.request(1000, 1000)
	reply, err := protos.NewEchoClient(conn).Unary(ctx, req)
	if err != nil {
		return fmt.Errorf("call: %w", err)
	}
	return s.verify(reply, 0, req.ReplySize)
}

// ServerStream asks for five replies and then the end of the stream.
func ServerStream(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	s := newSent()
	req := s.request(1000, 1000)
	req.ReplyCount = 5
	stream, err := protos.NewEchoClient(conn).ServerStream(ctx, req)
	if err != nil {
		return fmt.Errorf("call: %w", err)
	}
	for i := range req.ReplyCount {
		reply, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("reply %d: %w", i, err)
		}
		if err := s.verify(reply, i, req.ReplySize); err != nil {
			return fmt.Errorf("reply %d: %w", i, err)
		}
	}
	return wantEOF(stream.Recv())
}

// ClientStream sends five requests and checks the server's sum of them.
func ClientStream(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	stream, err := protos.NewEchoClient(conn).ClientStream(ctx)
	if err != nil {
		return fmt.Errorf("call: %w", err)
	}
	s := newSent()
	var first *protos.EchoRequest
	for i := range 5 {
		req := s.request(1000+i, 500)
		if first == nil {
			first = req
		}
		if err := stream.Send(req); err != nil {
			return fmt.Errorf("send %d: %w", i, err)
		}
	}
	reply, err := stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("reply: %w", err)
	}
	return s.verify(reply, 0, first.ReplySize)
}

// Bidi sends five requests, each after the reply to the previous one.
func Bidi(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	stream, err := protos.NewEchoClient(conn).Bidi(ctx)
	if err != nil {
		return fmt.Errorf("call: %w", err)
	}
	s := newSent()
	for i := range int32(5) {
		if err := s.roundTrip(stream, i, 1000, 2000); err != nil {
			return err
		}
	}
	if err := stream.CloseSend(); err != nil {
		return fmt.Errorf("close send: %w", err)
	}
	return wantEOF(stream.Recv())
}

// LargeMessages sends LargeSize bytes each way, in a unary call and on a
// bidi stream.
func LargeMessages(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	s := newSent()
	req := s.request(LargeSize, LargeSize)
	reply, err := protos.NewEchoClient(conn).Unary(ctx, req)
	if err != nil {
		return fmt.Errorf("unary: %w", err)
	}
	if err := s.verify(reply, 0, LargeSize); err != nil {
		return fmt.Errorf("unary: %w", err)
	}

	stream, err := protos.NewEchoClient(conn).Bidi(ctx)
	if err != nil {
		return fmt.Errorf("bidi: %w", err)
	}
	s = newSent()
	for i := range int32(2) {
		if err := s.roundTrip(stream, i, LargeSize, LargeSize); err != nil {
			return fmt.Errorf("bidi: %w", err)
		}
	}
	if err := stream.CloseSend(); err != nil {
		return fmt.Errorf("bidi: close send: %w", err)
	}
	return wantEOF(stream.Recv())
}

// IdleStream keeps a bidi stream open without traffic for idle, then uses
// it. It dials a connection of its own: calls of other checks on a shared
// connection would keep the connection busy while the stream idles.
func IdleStream(ctx context.Context, conn *grpc.ClientConn, idle time.Duration) error {
	own, err := Dial(conn.Target())
	if err != nil {
		return err
	}
	defer own.Close()
	ctx, cancel := context.WithTimeout(ctx, idle+callTimeout)
	defer cancel()
	stream, err := protos.NewEchoClient(own).Bidi(ctx)
	if err != nil {
		return fmt.Errorf("call: %w", err)
	}
	s := newSent()
	if err := s.roundTrip(stream, 0, 100, 100); err != nil {
		return fmt.Errorf("before idling: %w", err)
	}
	select {
	case <-time.After(idle):
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := s.roundTrip(stream, 1, 100, 100); err != nil {
		return fmt.Errorf("after idling %s: %w", idle, err)
	}
	if err := stream.CloseSend(); err != nil {
		return fmt.Errorf("close send after idling %s: %w", idle, err)
	}
	return wantEOF(stream.Recv())
}
