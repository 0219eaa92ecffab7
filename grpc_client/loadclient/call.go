package loadclient

import (
	"context"
	"fmt"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/grpc-lb/nginx-consul/protos"
)

// Dial opens a client connection. Each connection is its own HTTP/2
// connection, so -connections spreads calls like several clients would.
func Dial(target string) (*grpc.ClientConn, error) {
	// passthrough: the load balancer is the only address; balancing is nginx's job.
	return grpc.NewClient("passthrough:///"+target, grpc.WithTransportCredentials(insecure.NewCredentials()))
}

// callOnce makes one SayHello call and reports how it went.
func callOnce(ctx context.Context, client protos.PingClient, greeting string, timeout time.Duration) result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	reply, err := client.SayHello(ctx, &protos.PingMessage{Greeting: greeting})
	r := result{start: start, latency: time.Since(start)}
	if err != nil {
		st := status.Convert(err)
		r.code, r.message = st.Code(), st.Message()
		return r
	}
	r.reply = reply.GetGreeting()
	r.replica = ReplicaOf(r.reply)
	return r
}

// ReplicaOf extracts <hostname> from "Hello from <hostname>.".
func ReplicaOf(greeting string) string {
	host, ok := strings.CutPrefix(greeting, "Hello from ")
	if !ok {
		return fmt.Sprintf("unrecognised reply %q", greeting)
	}
	return strings.TrimSuffix(host, ".")
}
