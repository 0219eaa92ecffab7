package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	v1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
)

// triesPerService is how many of a Consul service's replicas are asked, one
// after another, when a replica cannot be reached (a replica that stops
// between the engine's list and the call).
const triesPerService = 3

// aggregator is the reflection service of the load balancer.
type aggregator struct {
	v1.UnimplementedServerReflectionServer
	// catalog is the declaration as it is now.
	catalog    func() catalog
	replicas   replicaSource
	ask        func(ctx context.Context, addr string, req *v1.ServerReflectionRequest) (*v1.ServerReflectionResponse, error)
	tryTimeout time.Duration
	log        *log.Logger
}

// ServerReflectionInfo answers each request of the stream in turn, as
// grpc-go's reflection server does.
func (a *aggregator) ServerReflectionInfo(stream v1.ServerReflection_ServerReflectionInfoServer) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(a.answer(stream.Context(), req)); err != nil {
			return err
		}
	}
}

// answer is the response to one request.
func (a *aggregator) answer(ctx context.Context, req *v1.ServerReflectionRequest) *v1.ServerReflectionResponse {
	resp := &v1.ServerReflectionResponse{ValidHost: req.GetHost(), OriginalRequest: req}
	var symbol, what string
	switch r := req.MessageRequest.(type) {
	case *v1.ServerReflectionRequest_ListServices:
		var services []*v1.ServiceResponse
		for _, name := range a.catalog().listed() {
			services = append(services, &v1.ServiceResponse{Name: name})
		}
		resp.MessageResponse = &v1.ServerReflectionResponse_ListServicesResponse{
			ListServicesResponse: &v1.ListServiceResponse{Service: services},
		}
		return resp
	case *v1.ServerReflectionRequest_FileContainingSymbol:
		symbol, what = r.FileContainingSymbol, "symbol "+r.FileContainingSymbol
	case *v1.ServerReflectionRequest_FileByFilename:
		what = "file " + r.FileByFilename
	case *v1.ServerReflectionRequest_FileContainingExtension:
		what = fmt.Sprintf("extension %d of %s", r.FileContainingExtension.GetExtensionNumber(), r.FileContainingExtension.GetContainingType())
	case *v1.ServerReflectionRequest_AllExtensionNumbersOfType:
		what = "extensions of " + r.AllExtensionNumbersOfType
	default:
		resp.MessageResponse = errorResponse(codes.InvalidArgument, "a reflection request with no known message; accepted: list_services, file_by_filename, file_containing_symbol, file_containing_extension, all_extension_numbers_of_type")
		return resp
	}
	forwarded, err := a.forward(ctx, symbol, req)
	if err != nil {
		resp.MessageResponse = errorResponse(errorCode(err), fmt.Sprintf("%s: %v", what, err))
		return resp
	}
	forwarded.ValidHost, forwarded.OriginalRequest = req.GetHost(), req
	return forwarded
}

// notFound is a replica's answer that it has no such file or symbol; any
// other failure means the replica could not be asked.
type notFound struct{ consulService, message string }

func (n notFound) Error() string { return n.consulService + ": " + n.message }

// forward asks the routed Consul services in askOrder, one replica each
// (another if it cannot be reached), and returns the first answer that is
// not an error.
func (a *aggregator) forward(ctx context.Context, symbol string, req *v1.ServerReflectionRequest) (*v1.ServerReflectionResponse, error) {
	var errs []error
	for _, consulService := range a.catalog().askOrder(symbol) {
		resp, err := a.forwardTo(ctx, consulService, req)
		if err == nil {
			return resp, nil
		}
		errs = append(errs, err)
	}
	return nil, joinErrors(errs)
}

func (a *aggregator) forwardTo(ctx context.Context, consulService string, req *v1.ServerReflectionRequest) (*v1.ServerReflectionResponse, error) {
	listCtx, cancel := context.WithTimeout(ctx, a.tryTimeout)
	addrs, err := a.replicas.addresses(listCtx, consulService)
	cancel()
	if err != nil {
		a.log.Printf("%s: %v", consulService, err)
		return nil, fmt.Errorf("%s: the load balancer's list of its replicas: %v", consulService, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s: no routed replica", consulService)
	}
	rand.Shuffle(len(addrs), func(i, j int) { addrs[i], addrs[j] = addrs[j], addrs[i] })
	var last error
	for _, addr := range addrs[:min(len(addrs), triesPerService)] {
		tryCtx, cancel := context.WithTimeout(ctx, a.tryTimeout)
		resp, err := a.ask(tryCtx, addr, req)
		cancel()
		if err != nil {
			a.log.Printf("%s replica %s: %v", consulService, addr, err)
			last = err
			continue
		}
		if e := resp.GetErrorResponse(); e != nil {
			return nil, notFound{consulService, e.GetErrorMessage()}
		}
		return resp, nil
	}
	return nil, fmt.Errorf("%s: no replica answered (%d tried; last: %v)", consulService, min(len(addrs), triesPerService), last)
}

// joinErrors is one line naming what each Consul service said.
func joinErrors(errs []error) error {
	msgs := make([]string, len(errs))
	for i, err := range errs {
		msgs[i] = err.Error()
	}
	return &forwardError{msg: "not found on any routed service (" + strings.Join(msgs, "; ") + ")", errs: errs}
}

type forwardError struct {
	msg  string
	errs []error
}

func (f *forwardError) Error() string   { return f.msg }
func (f *forwardError) Unwrap() []error { return f.errs }

// errorCode is NOT_FOUND when any asked service said it has no such thing,
// as a server's own reflection does; UNAVAILABLE when none could be asked.
func errorCode(err error) codes.Code {
	var nf notFound
	if errors.As(err, &nf) {
		return codes.NotFound
	}
	return codes.Unavailable
}

func errorResponse(code codes.Code, message string) *v1.ServerReflectionResponse_ErrorResponse {
	return &v1.ServerReflectionResponse_ErrorResponse{ErrorResponse: &v1.ErrorResponse{ErrorCode: int32(code), ErrorMessage: message}}
}

// v1alphaServer serves the older version, which grpcurl and other clients
// fall back to, through the same aggregator.
type v1alphaServer struct{ agg *aggregator }

func (s v1alphaServer) ServerReflectionInfo(stream v1alpha.ServerReflection_ServerReflectionInfoServer) error {
	for {
		alphaReq, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		req := &v1.ServerReflectionRequest{}
		if err := convert(alphaReq, req); err != nil {
			return err
		}
		alphaResp := &v1alpha.ServerReflectionResponse{}
		if err := convert(s.agg.answer(stream.Context(), req), alphaResp); err != nil {
			return err
		}
		if err := stream.Send(alphaResp); err != nil {
			return err
		}
	}
}
