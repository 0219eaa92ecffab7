// Command grpc_server serves /protos.Ping/SayHello, the standard gRPC health
// service and server reflection, and drains gracefully on SIGTERM or SIGINT.
package main

import (
	"os"

	"github.com/grpc-lb/nginx-consul/grpc_server/pingserver"
)

func main() {
	os.Exit(pingserver.Main(os.Args[1:], os.Stderr))
}
