//go:build tools

// Package tools pins github.com/ochinchina/supervisord v0.7.3 so that its binary builds from the Go module
// proxy with a committed, verified go.sum.
package tools

import _ "github.com/ochinchina/supervisord"
