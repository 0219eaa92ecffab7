//go:build tools

// Package tools pins github.com/fullstorydev/grpcurl v1.9.3 so that its binary builds from the Go module
// proxy with a committed, verified go.sum.
package tools

import _ "github.com/fullstorydev/grpcurl/cmd/grpcurl"
