package transparency

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/grpc-lb/nginx-consul/protos"
)

// statusMessage is a status message with what a proxy might mangle: non-ASCII
// (accents, CJK, an emoji outside the BMP), '%' (gRPC's escape character),
// quotes, a tab and a newline.
func statusMessage(code codes.Code) string {
	return fmt.Sprintf("%s: échec ✓ 世界 🚀 100%% %%41 \"quoted\" tab\there\nsecond line", code)
}

// StatusCodes fails a unary call with every non-OK code, and a server stream
// after two replies, and checks code, message, details and trailers arrive
// unchanged.
func StatusCodes(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	client := protos.NewEchoClient(conn)
	var errs []error
	for code := codes.Canceled; code <= codes.Unauthenticated; code++ {
		req := &protos.EchoRequest{RequestId: rand.Text(), FailCode: int32(code), FailMessage: statusMessage(code), ReplyTrailers: replyTrailers}
		var trailer metadata.MD
		_, err := client.Unary(ctx, req, grpc.Trailer(&trailer))
		if err := errors.Join(checkStatus(err, req), checkMD("trailer", trailer, replyTrailers)); err != nil {
			errs = append(errs, fmt.Errorf("unary failing with %s: %w", code, err))
		}
	}

	req := &protos.EchoRequest{RequestId: rand.Text(), ReplyCount: 2, FailCode: int32(codes.FailedPrecondition), FailMessage: statusMessage(codes.FailedPrecondition)}
	stream, err := client.ServerStream(ctx, req)
	if err != nil {
		return errors.Join(append(errs, fmt.Errorf("server stream: %w", err))...)
	}
	for i := range 2 {
		if _, err := stream.Recv(); err != nil {
			errs = append(errs, fmt.Errorf("server stream failing after 2 replies: reply %d: expected a reply, received %w", i, err))
		}
	}
	_, err = stream.Recv()
	if err := checkStatus(err, req); err != nil {
		errs = append(errs, fmt.Errorf("server stream failing after 2 replies: %w", err))
	}
	return errors.Join(errs...)
}

// checkStatus compares a call's error with the failure req asked for.
func checkStatus(err error, req *protos.EchoRequest) error {
	st := status.Convert(err)
	var errs []error
	if want := codes.Code(req.FailCode); st.Code() != want {
		errs = append(errs, mismatch("code", want, st.Code()))
	}
	if st.Message() != req.FailMessage {
		errs = append(errs, mismatch("message", fmt.Sprintf("%q", req.FailMessage), fmt.Sprintf("%q", st.Message())))
	}
	ids := []string{}
	for _, d := range st.Details() {
		if r, ok := d.(*protos.EchoReply); ok {
			ids = append(ids, r.GetRequestId())
		}
	}
	if !slices.Equal(ids, []string{req.RequestId}) {
		errs = append(errs, mismatch("status details (request_id of each EchoReply)", []string{req.RequestId}, ids))
	}
	return errors.Join(errs...)
}
