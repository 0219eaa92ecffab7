//go:build tools

// Package tools pins github.com/bojand/ghz v0.93.0 so that its binary builds from the Go module
// proxy with a committed, verified go.sum.
//
// ghz v0.93.0 requires google.golang.org/grpc v1.34.0 (`go list -m google.golang.org/grpc` here),
// and that old grpc-go is the point: it retries a call a GOAWAY left unprocessed only on the call's
// first attempt, so calls racing an nginx reload's GOAWAY reach ghz's report as
// "Unavailable: the connection is draining", where a current grpc-go retries them transparently
// (build/test/goaway proves both). Do not upgrade grpc-go in this module.
package tools

import _ "github.com/bojand/ghz/cmd/ghz"
