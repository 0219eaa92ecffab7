package loadclient

import (
	"net"
	"strconv"
	"testing"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

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
