//go:build tools

// Package tools pins github.com/hashicorp/consul v1.13.9 so that its binary builds from the Go module
// proxy with a committed, verified go.sum.
package tools

import _ "github.com/hashicorp/consul"
