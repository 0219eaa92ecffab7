package loadclient

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// runClient runs the real grpc_client binary to the end and returns its
// combined output and exit code.
func runClient(t *testing.T, args ...string) (string, int) {
	t.Helper()
	p := testenv.Start(t, nil, testenv.Binary(t, "./grpc_client"), args...)
	code := p.Wait(t, 30*time.Second)
	return p.Output(), code
}

// startReplicas serves the Ping service as each hostname and returns the addresses.
func startReplicas(t *testing.T, hostnames ...string) []string {
	t.Helper()
	var addrs []string
	for _, h := range hostnames {
		addrs = append(addrs, testenv.StartPingServer(t, h).Addr)
	}
	return addrs
}

// pingServer starts one Ping server and returns the Config fields that
// point the load generator at it.
func pingServer(t *testing.T) (host string, port int) {
	t.Helper()
	srv := testenv.StartPingServer(t, "a")
	host, portText, err := net.SplitHostPort(srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	port, err = strconv.Atoi(portText)
	if err != nil {
		t.Fatal(err)
	}
	return host, port
}
