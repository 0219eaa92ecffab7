//go:build tools

// Package tools pins github.com/grpc-ecosystem/grpc-health-probe v0.4.62 so that its binary builds from the Go module
// proxy with a committed, verified go.sum.
package tools

import _ "github.com/grpc-ecosystem/grpc-health-probe"
