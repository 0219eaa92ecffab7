//go:build tools

// Package tools pins github.com/docker/compose/v2 v2.28.1 so that its binary builds from the Go module
// proxy with a committed, verified go.sum.
package tools

import _ "github.com/docker/compose/v2/cmd"
