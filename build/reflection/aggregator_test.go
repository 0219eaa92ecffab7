package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/reflection"
	v1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	v1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/grpc-lb/nginx-consul/build/routes"
	"github.com/grpc-lb/nginx-consul/protos"
)

// A replica here is a real grpc-go server with grpc-go's reflection, which
// knows only its own service's .proto file, as a user's separate binary
// would (the project's own binaries link both of its protos).
type replica struct {
	addr    string
	streams atomic.Int32
	stop    func()
}

// startReplica serves reflection (v1 and v1alpha, or v1alpha only) over a
// registry holding only files.
func startReplica(t *testing.T, onlyV1alpha bool, files ...protoreflect.FileDescriptor) *replica {
	t.Helper()
	registry := &protoregistry.Files{}
	for _, fd := range files {
		if err := registry.RegisterFile(fd); err != nil {
			t.Fatal(err)
		}
	}
	r := &replica{}
	srv := grpc.NewServer(grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		r.streams.Add(1)
		return handler(srv, ss)
	}))
	opts := reflection.ServerOptions{Services: srv, DescriptorResolver: registry}
	v1alpha.RegisterServerReflectionServer(srv, reflection.NewServer(opts))
	if !onlyV1alpha {
		v1.RegisterServerReflectionServer(srv, reflection.NewServerV1(opts))
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	r.addr, r.stop = lis.Addr().String(), srv.Stop
	t.Cleanup(srv.Stop)
	return r
}

// upstreamLists serves /upstream/<Consul service> as the engines do.
func upstreamLists(t *testing.T, lists map[string][]string) string {
	t.Helper()
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		addrs, ok := lists[strings.TrimPrefix(r.URL.Path, "/upstream/")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		for _, a := range addrs {
			fmt.Fprint(w, a+" ")
		}
		fmt.Fprintln(w)
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/upstream/"
}

const testDeclaration = `
hello_server protos.Ping grpc.health.v1.Health
echo_server protos.Echo
idle_server idle.Service
`

// startAggregator serves the aggregator over declaration, with the engine's
// lists at upstreams, and returns a connection to it.
func startAggregator(t *testing.T, declaration, upstreams string) *grpc.ClientConn {
	t.Helper()
	declared, err := routes.Parse(strings.NewReader(declaration), "services.conf")
	if err != nil {
		t.Fatal(err)
	}
	cat := newCatalog(declared)
	agg := &aggregator{
		catalog: func() catalog { return cat }, replicas: engineUpstreams{base: upstreams},
		ask: askReplica, tryTimeout: 2 * time.Second, log: log.New(io.Discard, "", 0),
	}
	srv := grpc.NewServer()
	v1.RegisterServerReflectionServer(srv, agg)
	v1alpha.RegisterServerReflectionServer(srv, v1alphaServer{agg})
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// ask sends requests on one v1 stream, as grpcurl does, and returns the
// answers.
func ask(t *testing.T, conn *grpc.ClientConn, reqs ...*v1.ServerReflectionRequest) []*v1.ServerReflectionResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stream, err := v1.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []*v1.ServerReflectionResponse
	for _, req := range reqs {
		if err := stream.Send(req); err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, resp)
	}
	return out
}

func symbolRequest(symbol string) *v1.ServerReflectionRequest {
	return &v1.ServerReflectionRequest{MessageRequest: &v1.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: symbol}}
}

// fileNames are the names of the files an answer holds; an error answer
// fails the test.
func fileNames(t *testing.T, what string, resp *v1.ServerReflectionResponse) []string {
	t.Helper()
	if e := resp.GetErrorResponse(); e != nil {
		t.Fatalf("%s: error answer %d %q", what, e.GetErrorCode(), e.GetErrorMessage())
	}
	var names []string
	for _, b := range resp.GetFileDescriptorResponse().GetFileDescriptorProto() {
		fd := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(b, fd); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		names = append(names, fd.GetName())
	}
	return names
}

var (
	pingFile = protos.File_protos_api_proto
	echoFile = protos.File_protos_echo_proto
)

// ListServices names every declared gRPC service and the reflection
// services, whether or not a replica is routed, and asks no replica.
func TestListServicesIsTheDeclaration(t *testing.T) {
	ping := startReplica(t, false, pingFile)
	conn := startAggregator(t, testDeclaration, upstreamLists(t, map[string][]string{"hello_server": {ping.addr}}))
	resp := ask(t, conn, &v1.ServerReflectionRequest{MessageRequest: &v1.ServerReflectionRequest_ListServices{ListServices: "*"}})[0]
	var got []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		got = append(got, s.GetName())
	}
	want := []string{"grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection", "idle.Service", "protos.Echo", "protos.Ping"}
	if !slices.Equal(got, want) {
		t.Errorf("ListServices: expected %q, received %q", want, got)
	}
	if n := ping.streams.Load(); n != 0 {
		t.Errorf("ListServices asked a replica %d times; it is the declaration's", n)
	}
}

// A service's symbols are described by its own replicas, asked first; a
// symbol that names no declared service (a message) is looked for on each
// Consul service in the declaration's order until one knows it.
func TestDescribeAsksTheServingReplicas(t *testing.T) {
	ping := startReplica(t, false, pingFile)
	echo := startReplica(t, false, echoFile)
	conn := startAggregator(t, testDeclaration, upstreamLists(t, map[string][]string{
		"hello_server": {ping.addr}, "echo_server": {echo.addr}, "idle_server": {},
	}))

	for _, c := range []struct {
		symbol          string
		wantFile        string
		wantPing, wantE int32
	}{
		// protos.Echo's own Consul service first: hello_server is not asked.
		{"protos.Echo", "protos/echo.proto", 0, 1},
		{"protos.Echo.Unary", "protos/echo.proto", 0, 1},
		{"protos.Ping", "protos/api.proto", 1, 0},
		// A message names no service: hello_server (first declared) does
		// not know it, echo_server does.
		{"protos.EchoRequest", "protos/echo.proto", 1, 1},
	} {
		pingBefore, echoBefore := ping.streams.Load(), echo.streams.Load()
		names := fileNames(t, c.symbol, ask(t, conn, symbolRequest(c.symbol))[0])
		if !slices.Contains(names, c.wantFile) {
			t.Errorf("%s: expected %s among the files, received %q", c.symbol, c.wantFile, names)
		}
		if p, e := ping.streams.Load()-pingBefore, echo.streams.Load()-echoBefore; p != c.wantPing || e != c.wantE {
			t.Errorf("%s: hello_server's replica asked %d times, echo_server's %d; expected %d and %d", c.symbol, p, e, c.wantPing, c.wantE)
		}
	}

	byName := ask(t, conn, &v1.ServerReflectionRequest{MessageRequest: &v1.ServerReflectionRequest_FileByFilename{FileByFilename: "protos/echo.proto"}})[0]
	if names := fileNames(t, "file echo.proto", byName); !slices.Contains(names, "protos/echo.proto") {
		t.Errorf("file echo.proto: received %q", names)
	}
	// The answer repeats the client's request, as a server's does.
	if got := byName.GetOriginalRequest().GetFileByFilename(); got != "protos/echo.proto" {
		t.Errorf("original_request: expected the file request, received %v", byName.GetOriginalRequest())
	}
}

// A symbol nobody knows is NOT_FOUND, naming what each Consul service said;
// with no replica to ask at all, UNAVAILABLE.
func TestUnknownSymbolNamesEveryService(t *testing.T) {
	ping := startReplica(t, false, pingFile)
	conn := startAggregator(t, testDeclaration, upstreamLists(t, map[string][]string{
		"hello_server": {ping.addr}, "echo_server": {}, "idle_server": {},
	}))
	e := ask(t, conn, symbolRequest("no.Such"))[0].GetErrorResponse()
	if e == nil || codes.Code(e.GetErrorCode()) != codes.NotFound {
		t.Fatalf("no.Such: expected a NOT_FOUND error answer, received %v", e)
	}
	for _, want := range []string{"symbol no.Such", "hello_server: ", "echo_server: no routed replica", "idle_server: no routed replica"} {
		if !strings.Contains(e.GetErrorMessage(), want) {
			t.Errorf("no.Such: the message %q does not contain %q", e.GetErrorMessage(), want)
		}
	}

	empty := startAggregator(t, testDeclaration, upstreamLists(t, map[string][]string{"hello_server": {}, "echo_server": {}, "idle_server": {}}))
	e = ask(t, empty, symbolRequest("protos.Ping"))[0].GetErrorResponse()
	if e == nil || codes.Code(e.GetErrorCode()) != codes.Unavailable || !strings.Contains(e.GetErrorMessage(), "hello_server: no routed replica") {
		t.Errorf("protos.Ping with no replica routed: expected UNAVAILABLE naming hello_server, received %v", e)
	}
}

// A replica that stopped after the engine listed it is skipped for another
// replica of the same service.
func TestStoppedReplicaIsSkipped(t *testing.T) {
	gone := startReplica(t, false, echoFile)
	gone.stop()
	echo := startReplica(t, false, echoFile)
	conn := startAggregator(t, testDeclaration, upstreamLists(t, map[string][]string{
		"hello_server": {}, "echo_server": {gone.addr, echo.addr, gone.addr}, "idle_server": {},
	}))
	for i := 0; i < 5; i++ {
		fileNames(t, "protos.Echo", ask(t, conn, symbolRequest("protos.Echo"))[0])
	}
}

// A replica with only v1alpha reflection is asked in v1alpha, and a client
// that speaks v1alpha to the load balancer is answered in v1alpha.
func TestV1alphaBothWays(t *testing.T) {
	old := startReplica(t, true, echoFile)
	conn := startAggregator(t, testDeclaration, upstreamLists(t, map[string][]string{
		"hello_server": {}, "echo_server": {old.addr}, "idle_server": {},
	}))
	fileNames(t, "protos.Echo from a v1alpha replica", ask(t, conn, symbolRequest("protos.Echo"))[0])

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := v1alpha.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&v1alpha.ServerReflectionRequest{MessageRequest: &v1alpha.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "protos.Echo"}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if n := len(resp.GetFileDescriptorResponse().GetFileDescriptorProto()); n == 0 {
		t.Errorf("v1alpha client: expected protos.Echo's file, received %v", resp)
	}
}

// The engine's lists are dialled only if every entry is an IPv4 address
// with a port.
func TestParseUpstreams(t *testing.T) {
	got, err := parseUpstreams("10.0.0.2:7777 10.0.0.3:1 \n")
	if err != nil || !slices.Equal(got, []string{"10.0.0.2:7777", "10.0.0.3:1"}) {
		t.Errorf("a good list: received %q, %v", got, err)
	}
	if got, err := parseUpstreams("\n"); err != nil || len(got) != 0 {
		t.Errorf("an empty list: received %q, %v", got, err)
	}
	for _, bad := range []string{"10.0.0.2", "[::1]:7777 ", "10.0.0.2:0", "10.0.0.2:65536", "host:7777", "10.0.0.2:x"} {
		if _, err := parseUpstreams(bad); err == nil {
			t.Errorf("%q: accepted; expected an error", bad)
		}
	}
}
