package testenv

import (
	"net"
	"testing"
	"time"
)

// RunClient runs the project's grpc_client binary with args to the end (30s
// at most) and returns its combined output and exit code.
func RunClient(t testing.TB, args ...string) (output string, code int) {
	t.Helper()
	p := Start(t, nil, Binary(t, "./grpc_client"), args...)
	code = p.Wait(t, 30*time.Second)
	return p.Output(), code
}

// ClientTargetFlags are grpc_client's -host and -port flags for addr
// (host:port).
func ClientTargetFlags(t testing.TB, addr string) []string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return []string{"-host=" + host, "-port=" + port}
}
