package pingserver

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/grpc-lb/nginx-consul/grpc_server/portflag"
)

// Config is everything the server reads from its flags.
type Config struct {
	Port            int
	DrainPeriod     time.Duration
	ShutdownTimeout time.Duration
	LogCalls        bool
	// Echo also serves protos.Echo. Off in production: it exists so tests
	// can check the load balancer, and it answers whatever a client asks.
	Echo bool
	// FlowControl is FlowControlStatic or FlowControlDynamic.
	FlowControl string
	// EchoOnly serves protos.Echo and not protos.Ping: echo_server, the
	// deployment's second service (EchoServer).
	EchoOnly bool
}

// Program is one of the commands built on this package: its name (in logs
// and errors) and what it serves.
type Program struct {
	Name string
	// EchoOnly: protos.Echo always, protos.Ping never, and no -echo flag.
	EchoOnly bool
}

// The commands: grpc_server (hello_server's Ping) and echo_server (the
// worked example of a second service behind the load balancer).
var (
	PingServer = Program{Name: "grpc_server"}
	EchoServer = Program{Name: "echo_server", EchoOnly: true}
)

// The -flow-control values. grpc-go's dynamic flow control estimates the
// bandwidth-delay product with a PING on every data frame it receives while
// no estimate is in flight; behind nginx, which carries one call per
// upstream connection, that is a PING (and nginx's PING ACK) and a
// WINDOW_UPDATE on nearly every call. Static windows send neither; they are
// large enough for the deployment's messages (the Echo test service's are up
// to 16 MiB) to flow without waiting on a round trip per 64 KiB.
const (
	FlowControlStatic  = "static"
	FlowControlDynamic = "dynamic"
	// StaticStreamWindow and StaticConnWindow are the windows of "static":
	// how much a peer may send on one call, and on one connection, before
	// the server has read it.
	StaticStreamWindow = 1 << 20
	StaticConnWindow   = 16 << 20
)

// DefaultDrainPeriod covers the deployment's path from "this replica is
// leaving" to "nginx no longer routes to it": Consul's blocking query wakes
// consul-template at once, its quiescence wait is at most 1 s and nginx reloads
// in well under a second. Three seconds leaves room on a loaded machine.
const DefaultDrainPeriod = 3 * time.Second

// ParseConfig parses and validates grpc_server's flags. Errors name the
// flag, the value and what is accepted.
func ParseConfig(args []string, stderr io.Writer) (Config, error) {
	return PingServer.ParseConfig(args, stderr)
}

// ParseConfig parses and validates the program's flags.
func (p Program) ParseConfig(args []string, stderr io.Writer) (Config, error) {
	cfg := Config{Echo: p.EchoOnly, EchoOnly: p.EchoOnly}
	fs := flag.NewFlagSet(p.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	portflag.Var(fs, &cfg.Port, "port", 7777, "TCP `port` to listen on, on all interfaces (1-65535)")
	fs.DurationVar(&cfg.DrainPeriod, "drain", DefaultDrainPeriod,
		"on SIGTERM, how long to keep serving while reporting NOT_SERVING, so load balancers stop routing here first (0s-5m)")
	fs.DurationVar(&cfg.ShutdownTimeout, "shutdown-timeout", 10*time.Second,
		"after the drain period, how long calls in flight may take before they are cut (1ms-10m)")
	if p.EchoOnly {
		fs.BoolVar(&cfg.LogCalls, "log-calls", false, "log every call")
	} else {
		fs.BoolVar(&cfg.LogCalls, "log-calls", false, "log every SayHello call")
		fs.BoolVar(&cfg.Echo, "echo", false,
			"also serve protos.Echo, the test service the host tests use to check the load balancer is transparent")
	}
	fs.StringVar(&cfg.FlowControl, "flow-control", FlowControlStatic,
		"HTTP/2 flow control: static (1 MiB per call, 16 MiB per connection; no PING or WINDOW_UPDATE per call) or dynamic (grpc-go's bandwidth estimator)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q: %s takes flags only", fs.Arg(0), p.Name)
	}
	return cfg, cfg.Validate()
}

// Validate reports every setting that is out of range.
func (c Config) Validate() error {
	var errs []error
	if err := portflag.Check("port", c.Port); err != nil {
		errs = append(errs, err)
	}
	if c.DrainPeriod < 0 || c.DrainPeriod > 5*time.Minute {
		errs = append(errs, fmt.Errorf("-drain=%s is invalid: accepted is 0s to 5m", c.DrainPeriod))
	}
	if c.ShutdownTimeout < time.Millisecond || c.ShutdownTimeout > 10*time.Minute {
		errs = append(errs, fmt.Errorf("-shutdown-timeout=%s is invalid: accepted is 1ms to 10m", c.ShutdownTimeout))
	}
	if c.FlowControl != FlowControlStatic && c.FlowControl != FlowControlDynamic {
		errs = append(errs, fmt.Errorf("-flow-control=%q is invalid: accepted is %s or %s", c.FlowControl, FlowControlStatic, FlowControlDynamic))
	}
	return errors.Join(errs...)
}
