// Command echo_server serves protos.Echo (protos/echo.proto), the standard
// gRPC health service and server reflection, and drains gracefully on
// SIGTERM or SIGINT, as grpc_server does. It is the deployment's second
// service, echo_server: the worked example of a team's own service behind the
// load balancer (README, "Add your own service").
package main

import (
	"os"

	"github.com/grpc-lb/nginx-consul/grpc_server/pingserver"
)

func main() {
	os.Exit(pingserver.EchoServer.Main(os.Args[1:], os.Stderr))
}
