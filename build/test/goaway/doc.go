// Package goaway proves, against the production nginx and real gRPC
// servers, which load client surfaces the calls an nginx reload refuses
// with GOAWAY: ghz v0.93.0 (grpc-go v1.34.0) reports them as "Unavailable:
// the connection is draining", the project's grpc_client (a current
// grpc-go) retries them transparently and reports none. A zero from a
// client is only trusted when the other client, under the same reloads,
// shows that there was something to see.
package goaway
