// Command grpc_client calls /protos.Ping/SayHello through the load balancer:
// once, or many times with a summary of how the calls spread over replicas.
package main

import (
	"os"

	"github.com/grpc-lb/nginx-consul/grpc_client/loadclient"
)

func main() {
	os.Exit(loadclient.Main(os.Args[1:], os.Stdout, os.Stderr))
}
