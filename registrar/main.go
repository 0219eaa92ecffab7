// Command registrar registers this container's service with the local Consul
// agent, keeps it registered, and deregisters it on SIGTERM or SIGINT.
package main

import (
	"os"

	"github.com/grpc-lb/nginx-consul/registrar/registration"
)

func main() {
	os.Exit(registration.Main(os.LookupEnv, os.Stderr))
}
