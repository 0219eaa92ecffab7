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

	"github.com/grpc-lb/nginx-consul/build/test/transparency"
)

// startTransparency runs every transparency check through :5000 in the
// background (the replicas run grpc_server -echo), with a 3 minute idle
// stream; the returned function waits for the result.
func startTransparency(t *testing.T) func() error {
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		done <- transparency.Run(ctx, lbAddr, 3*time.Minute, func(format string, args ...any) {
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
// and grpc-health-probe work through :5000 unchanged.
func grpcTools(t *testing.T, d *Deployment) {
	bin := filepath.Join(d.root, "bin")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"grpcurl", "-plaintext", lbAddr, "list"}, "protos.Ping"},
		{[]string{"grpcurl", "-plaintext", lbAddr, "describe", "protos.Ping"}, "rpc SayHello ( .protos.PingMessage ) returns ( .protos.PingMessage );"},
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
}
