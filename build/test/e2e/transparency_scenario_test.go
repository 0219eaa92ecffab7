//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/grpc-lb/nginx-consul/build/test/transparency"
)

// startTransparency runs every transparency check through :5000 in the
// background (echo_server's replicas answer), with a 2 minute idle stream;
// the returned function waits for the result.
func startTransparency(t *testing.T) func() error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		done <- transparency.Run(ctx, lbAddr, 2*time.Minute, func(format string, args ...any) {
			fmt.Printf("transparency: "+format+"\n", args...)
		})
	}()
	return func() error {
		select {
		case err := <-done:
			return err
		case <-time.After(11 * time.Minute):
			return fmt.Errorf("transparency checks still running after 11 minutes")
		}
	}
}

// grpcTools checks that grpcurl (list, describe, a call through reflection)
// and grpc-health-probe work through :5000 unchanged: `list` shows every
// routed service and the load balancer's reflection, `describe` works for
// each declared service though its descriptors live on its own replicas
// (build/reflection). And that a gRPC
// service that build/config/services.conf does not declare gets the answer
// a gRPC server gives: 12 UNIMPLEMENTED, "unknown service <name>".
func grpcTools(t *testing.T, d *Deployment) {
	d.waitServiceReplicas(t, echoService, 1)
	bin := filepath.Join(d.root, "bin")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"grpcurl", "-plaintext", lbAddr, "list"}, frontDoorServices},
		{[]string{"grpcurl", "-plaintext", lbAddr, "describe", "protos.Ping"}, "rpc SayHello ( .protos.PingMessage ) returns ( .protos.PingMessage );"},
		{[]string{"grpcurl", "-plaintext", lbAddr, "describe", "protos.Echo"}, "rpc Unary ( .protos.EchoRequest ) returns ( .protos.EchoReply );"},
		{[]string{"grpcurl", "-plaintext", lbAddr, "describe", "grpc.health.v1.Health"}, "rpc Check ( .grpc.health.v1.HealthCheckRequest )"},
		{[]string{"grpcurl", "-plaintext", "-d", `{"request_id":"ra"}`, lbAddr, "protos.Echo/Unary"}, `"requestId": "ra"`},
		{[]string{"grpcurl", "-plaintext", "-d", `{"greeting":"hi"}`, lbAddr, "protos.Ping/SayHello"}, `"greeting": "Hello from `},
		{[]string{"grpc-health-probe", "-addr=" + lbAddr}, "status: SERVING"},
		{[]string{"grpc-health-probe", "-addr=" + lbAddr, "-service=protos.Ping"}, "status: SERVING"},
	} {
		out, err := exec.Command(filepath.Join(bin, c.args[0]), c.args[1:]...).CombinedOutput()
		fmt.Printf("$ %s\n%s", strings.Join(c.args, " "), out)
		if err != nil || !strings.Contains(string(out), c.want) {
			t.Errorf("%s: expected output containing %q and exit 0, received (err %v):\n%s", strings.Join(c.args, " "), c.want, err, out)
		}
	}
	conn, err := grpc.NewClient("passthrough:///"+lbAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for method, want := range map[string]string{
		"/no.such.Service/Call":   "unknown service no.such.Service",
		"/protos.Ping/SayHello/x": "malformed method name",
	} {
		err := conn.Invoke(ctx, method, &emptypb.Empty{}, &emptypb.Empty{})
		st := status.Convert(err)
		fmt.Printf("call %s through %s: %s %q\n", method, lbAddr, st.Code(), st.Message())
		if st.Code() != codes.Unimplemented || st.Message() != want {
			t.Errorf("call %s through %s: expected Unimplemented %q, received %s %q", method, lbAddr, want, st.Code(), st.Message())
		}
	}
}

// frontDoorServices is `grpcurl list` through :5000 for
// build/config/services.conf: every declared gRPC service and the load
// balancer's reflection services, sorted.
const frontDoorServices = "grpc.health.v1.Health\ngrpc.reflection.v1.ServerReflection\ngrpc.reflection.v1alpha.ServerReflection\nprotos.Echo\nprotos.Ping\n"
