package pingserver_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// runTool runs one of the tools in bin/ and returns its combined output and
// exit code.
func runTool(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, testenv.Tool(t, name), args...).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	if ctx.Err() != nil {
		t.Fatalf("%s %q: still running after 20s\n%s", name, args, out)
	}
	if exit != nil {
		return string(out), exit.ExitCode()
	}
	return string(out), 0
}

// The tools operators use against a replica work with the real binary.
func TestToolsAgainstBinary(t *testing.T) {
	_, addr, _ := startServer(t)
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("grpcurl list", func(t *testing.T) {
		out, code := runTool(t, "grpcurl", "-plaintext", addr, "list")
		services := strings.Fields(out)
		for _, want := range []string{"protos.Ping", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
			if code != 0 || !slices.Contains(services, want) {
				t.Errorf("grpcurl list: exit %d, services %q, want exit 0 and %s listed", code, services, want)
			}
		}
	})

	t.Run("grpcurl SayHello", func(t *testing.T) {
		out, code := runTool(t, "grpcurl", "-plaintext", "-d", `{"greeting":"hi"}`, addr, "protos.Ping/SayHello")
		var reply struct{ Greeting string }
		if err := json.Unmarshal([]byte(out), &reply); err != nil || code != 0 {
			t.Fatalf("grpcurl SayHello: exit %d, output %q (%v), want exit 0 and a JSON reply", code, out, err)
		}
		if want := "Hello from " + hostname + "."; reply.Greeting != want {
			t.Errorf("grpcurl SayHello: got greeting %q, want %q", reply.Greeting, want)
		}
	})

	t.Run("grpc-health-probe", func(t *testing.T) {
		for _, args := range [][]string{{"-addr", addr}, {"-addr", addr, "-service", "protos.Ping"}} {
			out, code := runTool(t, "grpc-health-probe", args...)
			if code != 0 || !strings.Contains(out, "status: SERVING") {
				t.Errorf("grpc-health-probe %q: exit %d, output %q, want exit 0 and %q", args, code, out, "status: SERVING")
			}
		}
		// Control: a service the server does not know is not reported SERVING.
		args := []string{"-addr", addr, "-service", "no.Such"}
		if out, code := runTool(t, "grpc-health-probe", args...); code == 0 || strings.Contains(out, "status: SERVING") {
			t.Errorf("grpc-health-probe %q: exit %d, output %q, want a non-zero exit", args, code, out)
		}
	})
}
