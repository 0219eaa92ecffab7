package main

import (
	"context"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	v1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// askReplica sends req to the replica at addr on a stream of its own and
// returns its one answer. A new stream per request means the replica sends
// a file's dependencies again each time (grpc-go skips those sent earlier on
// a stream), which clients take as they would from any server. A replica
// that answers v1 UNIMPLEMENTED is asked in v1alpha.
func askReplica(ctx context.Context, addr string, req *v1.ServerReflectionRequest) (*v1.ServerReflectionResponse, error) {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	resp, err := askV1(ctx, conn, req)
	if status.Code(err) == codes.Unimplemented {
		resp, err = askV1alpha(ctx, conn, req)
	}
	return resp, err
}

func askV1(ctx context.Context, conn *grpc.ClientConn, req *v1.ServerReflectionRequest) (*v1.ServerReflectionResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := v1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(req); err != nil {
		// The stream's own error, the reason it cannot send.
		_, err = stream.Recv()
		return nil, err
	}
	resp, err := stream.Recv()
	_ = stream.CloseSend()
	return resp, err
}

func askV1alpha(ctx context.Context, conn *grpc.ClientConn, req *v1.ServerReflectionRequest) (*v1.ServerReflectionResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	alphaReq := &v1alpha.ServerReflectionRequest{}
	if err := convert(req, alphaReq); err != nil {
		return nil, err
	}
	stream, err := v1alpha.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(alphaReq); err != nil {
		_, err = stream.Recv()
		return nil, err
	}
	alphaResp, err := stream.Recv()
	_ = stream.CloseSend()
	if err != nil {
		return nil, err
	}
	resp := &v1.ServerReflectionResponse{}
	return resp, convert(alphaResp, resp)
}

// convert copies a reflection message between v1 and v1alpha, which have
// the same fields under the same numbers.
func convert(from, to proto.Message) error {
	b, err := proto.Marshal(from)
	if err != nil {
		return fmt.Errorf("reflection message: %w", err)
	}
	if err := proto.Unmarshal(b, to); err != nil {
		return fmt.Errorf("reflection message: %w", err)
	}
	return nil
}
