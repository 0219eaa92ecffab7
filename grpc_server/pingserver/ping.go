package pingserver

import (
	"context"
	"log"

	"github.com/grpc-lb/nginx-consul/protos"
)

// Ping answers SayHello with the name of the replica that served the call,
// so a client sees how calls spread over the replicas.
type Ping struct {
	protos.UnimplementedPingServer
	Hostname string
	LogCalls bool
}

// SayHello replies "Hello from <hostname>.".
func (p *Ping) SayHello(_ context.Context, in *protos.PingMessage) (*protos.PingMessage, error) {
	if p.LogCalls {
		log.Printf("grpc_server: SayHello greeting=%q", in.GetGreeting())
	}
	return &protos.PingMessage{Greeting: "Hello from " + p.Hostname + "."}, nil
}
