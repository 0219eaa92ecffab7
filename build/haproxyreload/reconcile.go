package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"strings"
	"time"
)

// How long each step may take. consul-template treats a command that
// outlives its command_timeout (30 s, HAProxy's consul-template.hcl) as
// failed, and exits, so the worst case must stay below it: the check, then
// every Runtime API command, then the wait for a reload's new worker
// (TestStepsFitCommandTimeout).
const (
	checkTimeout = 10 * time.Second
	// apiTimeout bounds one Runtime API command, apiBudget all of them.
	apiTimeout = 5 * time.Second
	apiBudget  = 8 * time.Second
	// reloadWait: how long a reload may take to start its new worker.
	reloadWait = 10 * time.Second
)

// newWorkerWait is reloadWait; tests shorten it.
var newWorkerWait = reloadWait

// procDir is where reload finds HAProxy's workers.
const procDir = "/proc"

// logs: what took effect goes to stdout, what went wrong to stderr, every
// line with logPrefix.
type logs struct{ out, err *log.Logger }

func newLogs(stdout, stderr io.Writer) logs {
	return logs{out: log.New(stdout, logPrefix, 0), err: log.New(stderr, logPrefix, 0)}
}

// reconcile is one run after a render: check it, keep or restore the last
// good copy, log the skipped lines, then move the running HAProxy to the
// render through the Runtime API, or reload it if the render changes more
// than servers (its layout differs from the last good copy's, which is what
// HAProxy runs) or the Runtime API fails.
func reconcile(cfg config, l logs) {
	// The last good copy before this run: the config the running HAProxy
	// was moved to. A missing one has no layout, which no render has.
	previous, previousErr := os.ReadFile(cfg.lastGood)
	if detail, err := checkRender(cfg); err != nil {
		l.err.Printf("haproxy -c rejected the rendered %s; keeping the last good config: %s", cfg.servers, detail)
		if err := copyFile(cfg.lastGood, cfg.servers); err != nil {
			l.err.Printf("restoring the last good config failed: %v", err)
		}
		return
	}
	if err := copyFile(cfg.servers, cfg.lastGood); err != nil {
		l.err.Printf("keeping a copy of the accepted render failed: %v", err)
	}
	raw, err := os.ReadFile(cfg.servers)
	if err != nil {
		l.err.Printf("reading the accepted render failed: %v", err)
		return
	}
	r := parseRendered(string(raw))
	for _, s := range r.skipped {
		l.err.Print(s)
	}
	routes := describeRoutes(r.backends)

	master, running := runningMaster(cfg.pidfile)
	if !running {
		l.out.Printf("haproxy is not running yet; it will start with %s", routes)
		return
	}
	if previousErr != nil || parseRendered(string(previous)).layout != r.layout {
		l.out.Print("the render changes more than servers (the declaration of routes, or the template); reloading haproxy")
		if !reloadAndLog(master, routes, l) && previousErr == nil {
			// The next run compares with the config HAProxy still runs,
			// and reloads again.
			if err := writeFile(cfg.lastGood, previous); err != nil {
				l.err.Printf("putting back the last good copy HAProxy still runs failed: %v", err)
			}
		}
		return
	}
	api := runtimeAPI{socket: cfg.socket, timeout: apiTimeout, deadline: time.Now().Add(apiBudget)}
	err = update(api, r.backends)
	if err == nil {
		l.out.Printf("haproxy routes to %s (Runtime API, no reload)", routes)
		return
	}
	l.err.Print(err)
	l.err.Print("changing the servers through the Runtime API failed (above); reloading haproxy instead")
	reloadAndLog(master, routes, l)
}

// reloadAndLog reloads HAProxy (reload) and logs the outcome; it tells
// whether the new worker started.
func reloadAndLog(master int, routes string, l logs) bool {
	switch err := reload(master, procDir, newWorkerWait); {
	case err == nil:
		l.out.Printf("haproxy routes to %s (reloaded)", routes)
		return true
	case errors.Is(err, errNoNewWorker):
		l.err.Printf("haproxy's master started no new worker within %d s of the reload signal; the next render tries again", int(reloadWait/time.Second))
	default:
		l.err.Print(err)
		l.err.Print("signalling the haproxy master failed; haproxy keeps its current servers")
	}
	return false
}

// describeRoutes is what the log says a render routes to: for each backend, in
// the render's order, "N <backend> replica(s): A B", joined by "; " (the
// format of reload-nginx.sh's line).
func describeRoutes(backends []backend) string {
	if len(backends) == 0 {
		return "no Consul service (the declaration of routes names none)"
	}
	parts := make([]string, len(backends))
	for i, b := range backends {
		parts[i] = fmt.Sprintf("%d %s replica(s): %s", len(b.servers), b.name, strings.Join(b.servers, " "))
	}
	return strings.Join(parts, "; ")
}

// checkRender runs `haproxy -c` on the main config and the render, as
// HAProxy loads them. On a rejection it returns HAProxy's complaint on one
// line.
func checkRender(cfg config) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cfg.haproxy, "-c", "-q", "-f", cfg.haproxyConfig, "-f", cfg.servers)
	// Bounds the wait for output a killed check's children may hold.
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err == nil {
		return "", nil
	}
	detail := oneLine(string(out))
	if ctx.Err() != nil {
		detail = strings.TrimSpace(fmt.Sprintf("%s (no verdict within %d s)", detail, int(checkTimeout/time.Second)))
	} else if detail == "" {
		detail = err.Error()
	}
	return detail, err
}
