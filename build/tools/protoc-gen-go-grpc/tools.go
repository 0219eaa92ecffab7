//go:build tools

// Package tools pins protoc-gen-go-grpc so that `make proto` regenerates
// protos/api_grpc.pb.go with the same generator every time.
package tools

import _ "google.golang.org/grpc/cmd/protoc-gen-go-grpc"
