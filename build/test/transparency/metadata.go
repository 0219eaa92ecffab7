package transparency

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/grpc-lb/nginx-consul/protos"
)

// The metadata a Metadata check sends, and asks the server to send back.
// Values cover what gRPC allows: printable ASCII with punctuation, a key
// with several values, an empty value, a long value (a token's size) and
// binary values.
var (
	requestMD = metadata.MD{
		"x-transparency-ascii": {`Hello, World! ~"quoted" #1 %20 (a;b) [c=d]`},
		"x-transparency-multi": {"first", "second", "third"},
		"x-transparency-empty": {""},
		"x-transparency-long":  {strings.Repeat("0123456789abcdef", 128)},
		"x-transparency-bin":   {string([]byte{0, 1, 2, 0x7f, 0x80, 0xfe, 0xff, '\n'})},
	}
	replyHeaders = map[string][]byte{
		"x-transparency-header":     []byte("header from the server"),
		"x-transparency-header-bin": {0xff, 0, 0x80, '\r', '\n'},
	}
	replyTrailers = map[string][]byte{
		"x-transparency-trailer":     []byte("trailer from the server"),
		"x-transparency-trailer-bin": {0, 0xff, 0x10, 0x20},
	}
)

// Metadata sends request metadata and asks for response headers and
// trailers, with each kind of call, and checks both arrive unchanged.
func Metadata(ctx context.Context, conn *grpc.ClientConn) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	ctx = metadata.NewOutgoingContext(ctx, requestMD.Copy())
	client := protos.NewEchoClient(conn)
	var errs []error
	add := func(kind string, seen map[string]*protos.MetadataValues, header, trailer metadata.MD, err error) {
		if err == nil {
			err = errors.Join(checkSeen(seen), checkMD("response header", header, replyHeaders), checkMD("trailer", trailer, replyTrailers))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", kind, err))
		}
	}

	var header, trailer metadata.MD
	reply, err := client.Unary(ctx, mdRequest(), grpc.Header(&header), grpc.Trailer(&trailer))
	add("unary", reply.GetMetadata(), header, trailer, err)

	reply, header, trailer, err = serverStreamMD(ctx, client)
	add("server stream", reply.GetMetadata(), header, trailer, err)

	reply, header, trailer, err = clientStreamMD(ctx, client)
	add("client stream", reply.GetMetadata(), header, trailer, err)

	reply, header, trailer, err = bidiMD(ctx, client)
	add("bidi", reply.GetMetadata(), header, trailer, err)
	return errors.Join(errs...)
}

func mdRequest() *protos.EchoRequest {
	return &protos.EchoRequest{RequestId: rand.Text(), ReplyCount: 1, ReplyHeaders: replyHeaders, ReplyTrailers: replyTrailers}
}

func serverStreamMD(ctx context.Context, client protos.EchoClient) (*protos.EchoReply, metadata.MD, metadata.MD, error) {
	stream, err := client.ServerStream(ctx, mdRequest())
	if err != nil {
		return nil, nil, nil, err
	}
	header, err := stream.Header()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("header: %w", err)
	}
	reply, err := stream.Recv()
	if err != nil {
		return nil, nil, nil, err
	}
	if err := wantEOF(stream.Recv()); err != nil {
		return nil, nil, nil, err
	}
	return reply, header, stream.Trailer(), nil
}

func clientStreamMD(ctx context.Context, client protos.EchoClient) (*protos.EchoReply, metadata.MD, metadata.MD, error) {
	stream, err := client.ClientStream(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := stream.Send(mdRequest()); err != nil {
		return nil, nil, nil, err
	}
	reply, err := stream.CloseAndRecv()
	if err != nil {
		return nil, nil, nil, err
	}
	header, err := stream.Header()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("header: %w", err)
	}
	return reply, header, stream.Trailer(), nil
}

func bidiMD(ctx context.Context, client protos.EchoClient) (*protos.EchoReply, metadata.MD, metadata.MD, error) {
	stream, err := client.Bidi(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := stream.Send(mdRequest()); err != nil {
		return nil, nil, nil, err
	}
	reply, err := stream.Recv()
	if err != nil {
		return nil, nil, nil, err
	}
	header, err := stream.Header()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("header: %w", err)
	}
	if err := stream.CloseSend(); err != nil {
		return nil, nil, nil, err
	}
	if err := wantEOF(stream.Recv()); err != nil {
		return nil, nil, nil, err
	}
	return reply, header, stream.Trailer(), nil
}

// checkSeen compares the request metadata the server saw with requestMD.
// Other keys (user-agent, :authority...) are the transport's and may differ.
func checkSeen(seen map[string]*protos.MetadataValues) error {
	var errs []error
	for _, k := range sortedKeys(requestMD) {
		var got []string
		for _, v := range seen[k].GetValues() {
			got = append(got, string(v))
		}
		if !slices.Equal(got, requestMD[k]) {
			errs = append(errs, mismatch("request metadata "+k+" at the server", quoted(requestMD[k]), quoted(got)))
		}
	}
	return errors.Join(errs...)
}

// checkMD compares response metadata with what the server was asked to set.
func checkMD(what string, got metadata.MD, want map[string][]byte) error {
	var errs []error
	for _, k := range sortedKeys(want) {
		if w := []string{string(want[k])}; !slices.Equal(got.Get(k), w) {
			errs = append(errs, mismatch(what+" "+k, quoted(w), quoted(got.Get(k))))
		}
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// quoted shows values with their non-printable bytes escaped.
func quoted(vs []string) string {
	if len(vs) == 0 {
		return "nothing"
	}
	q := make([]string, len(vs))
	for i, v := range vs {
		if len(v) > 80 {
			q[i] = fmt.Sprintf("%q... (%d bytes)", v[:80], len(v))
			continue
		}
		q[i] = fmt.Sprintf("%q", v)
	}
	return "[" + strings.Join(q, " ") + "]"
}
