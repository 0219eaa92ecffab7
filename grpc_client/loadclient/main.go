// Package loadclient is the grpc_client program: one call, or a load run with
// a summary of replicas, latencies and status codes.
package loadclient

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"google.golang.org/grpc/codes"

	"github.com/grpc-lb/nginx-consul/protos"
)

// Exit codes.
const (
	ExitOK     = 0
	ExitFailed = 1 // a call failed
	ExitUsage  = 2
)

// Main runs the client and returns its exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	cfg, err := ParseConfig(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "grpc_client: %v\n", err)
		return ExitUsage
	}
	// Ctrl-C ends a load run early and still prints the summary.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if !cfg.LoadMode() {
		return callAndPrint(ctx, cfg, stdout, stderr)
	}
	summary, err := RunLoad(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "grpc_client: %s: %v\n", cfg.Target(), err)
		return ExitFailed
	}
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		if err := enc.Encode(summary); err != nil {
			fmt.Fprintf(stderr, "grpc_client: writing JSON: %v\n", err)
			return ExitFailed
		}
	} else {
		summary.WriteText(stdout)
	}
	if summary.Failed > 0 || summary.Calls == 0 {
		return ExitFailed
	}
	return ExitOK
}

// callAndPrint makes the single call of the original client.
func callAndPrint(ctx context.Context, cfg Config, stdout, stderr io.Writer) int {
	conn, err := Dial(cfg.Target())
	if err != nil {
		fmt.Fprintf(stderr, "grpc_client: %s: %v\n", cfg.Target(), err)
		return ExitFailed
	}
	defer conn.Close()
	r := callOnce(ctx, protos.NewPingClient(conn), cfg.Greeting, cfg.Timeout)
	if r.code != codes.OK {
		fmt.Fprintf(stderr, "grpc_client: %s: %s: %s\n", cfg.Target(), r.code, r.message)
		return ExitFailed
	}
	fmt.Fprintln(stdout, r.reply)
	return ExitOK
}
