//go:build tools

// Package tools pins github.com/hashicorp/consul-template v0.41.1 so that its binary builds from the Go module
// proxy with a committed, verified go.sum.
package tools

import _ "github.com/hashicorp/consul-template"
