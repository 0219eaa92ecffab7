package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// Exit codes. Whatever the render or HAProxy do, the program exits exitOK:
// consul-template exits when its command fails.
const (
	exitOK = 0
	// exitFlags: a flag is wrong, which is the deployment's error, not a
	// render's.
	exitFlags = 2
)

// logPrefix starts every line the program logs; tests and the end-to-end
// suite find its lines by it.
const logPrefix = "reload-haproxy: "

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// config is the flags; the defaults are the load-balancer image's paths.
type config struct {
	haproxyConfig string
	servers       string
	lastGood      string
	pidfile       string
	socket        string
	haproxy       string
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		return exitFlags
	}
	reconcile(cfg, newLogs(stdout, stderr))
	return exitOK
}

// parseFlags reads the flags; on a bad one it writes to stderr which flag,
// its value and what is accepted.
func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("haproxy-reload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.haproxyConfig, "config", "/etc/lb/haproxy/haproxy.cfg", "HAProxy's main config, loaded before the servers file")
	fs.StringVar(&cfg.servers, "servers", "/tmp/haproxy/load-balancer.cfg", "the servers file consul-template renders")
	fs.StringVar(&cfg.lastGood, "last-good", "/tmp/haproxy/load-balancer.cfg.last-good", "the copy of the last render haproxy -c accepted")
	fs.StringVar(&cfg.pidfile, "pidfile", "/tmp/haproxy/haproxy.pid", "HAProxy's pid file (the master's pid, in master-worker mode)")
	fs.StringVar(&cfg.socket, "socket", "/tmp/haproxy/haproxy.sock", "HAProxy's Runtime API socket (stats socket, level admin)")
	fs.StringVar(&cfg.haproxy, "haproxy", "haproxy", "the haproxy binary that checks a render (haproxy -c)")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: haproxy-reload [flags]\n\n"+
			"consul-template's command after each render of HAProxy's routes and servers: checks\n"+
			"the render and moves the running HAProxy's server slots to it through the Runtime\n"+
			"API, or reloads HAProxy when the render changes more than servers.\n\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	bad := func(what, value, accepted string) (config, error) {
		err := fmt.Errorf("%s %q is invalid: accepted is %s", what, value, accepted)
		fmt.Fprintln(stderr, logPrefix+err.Error())
		return cfg, err
	}
	if fs.NArg() > 0 {
		return bad("argument", fs.Arg(0), "no argument, only flags (haproxy-reload -help lists them)")
	}
	for _, f := range []struct{ name, value, accepted string }{
		{"config", cfg.haproxyConfig, "the path of HAProxy's main config"},
		{"servers", cfg.servers, "the path of the rendered servers file"},
		{"last-good", cfg.lastGood, "the path of the last good render's copy"},
		{"pidfile", cfg.pidfile, "the path of HAProxy's pid file"},
		{"socket", cfg.socket, "the path of HAProxy's Runtime API socket"},
		{"haproxy", cfg.haproxy, "the haproxy binary's name or path"},
	} {
		if f.value == "" {
			return bad("-"+f.name, f.value, f.accepted)
		}
	}
	return cfg, nil
}
