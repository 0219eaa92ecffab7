package loadclient

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/grpc-lb/nginx-consul/grpc_server/portflag"
)

// Config is everything the client reads from its flags.
type Config struct {
	Host        string
	Port        int
	Calls       int
	Concurrency int
	Connections int
	Duration    time.Duration
	Timeout     time.Duration
	Rate        float64
	Greeting    string
	JSON        bool
}

// Target is the host:port the client dials.
func (c Config) Target() string {
	return net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
}

// LoadMode is true when the flags ask for more than one plain call.
func (c Config) LoadMode() bool {
	return c.Calls > 1 || c.Concurrency > 1 || c.Duration > 0 || c.JSON || c.Rate > 0
}

// ParseConfig parses and validates the flags. Errors name the flag, the value
// and what is accepted.
func ParseConfig(args []string, stderr io.Writer) (Config, error) {
	var cfg Config
	fs := flag.NewFlagSet("grpc_client", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Host, "host", "localhost", "host of the load balancer (or of one server)")
	portflag.Var(fs, &cfg.Port, "port", 5000, "`port` of the load balancer (or of one server) (1-65535)")
	fs.IntVar(&cfg.Calls, "n", 1, "number of calls; more than 1 turns on load mode (ignored with -duration)")
	fs.IntVar(&cfg.Concurrency, "c", 1, "calls in flight at once (1-10000)")
	fs.IntVar(&cfg.Connections, "connections", 1, "HTTP/2 connections the calls share, like ghz --connections (1-1000)")
	fs.DurationVar(&cfg.Duration, "duration", 0, "send calls for this long instead of -n calls (0 means use -n)")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Second, "deadline of each call")
	fs.Float64Var(&cfg.Rate, "rate", 0, "calls per second across all workers, like ghz -r (0: as fast as the -c workers go)")
	fs.StringVar(&cfg.Greeting, "greeting", "hello", "greeting sent in each PingMessage")
	fs.BoolVar(&cfg.JSON, "json", false, "print the load summary as one JSON object on stdout")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q: grpc_client takes flags only", fs.Arg(0))
	}
	return cfg, cfg.Validate()
}

// Validate reports every setting that is out of range.
func (c Config) Validate() error {
	var errs []error
	if c.Host == "" {
		errs = append(errs, errors.New(`-host="" is invalid: accepted is a host name or IP address`))
	}
	if err := portflag.Check("port", c.Port); err != nil {
		errs = append(errs, err)
	}
	if c.Calls < 1 {
		errs = append(errs, fmt.Errorf("-n=%d is invalid: accepted is 1 or more", c.Calls))
	}
	if c.Concurrency < 1 || c.Concurrency > 10000 {
		errs = append(errs, fmt.Errorf("-c=%d is invalid: accepted is 1-10000", c.Concurrency))
	}
	if c.Connections < 1 || c.Connections > 1000 {
		errs = append(errs, fmt.Errorf("-connections=%d is invalid: accepted is 1-1000", c.Connections))
	}
	if c.Duration < 0 {
		errs = append(errs, fmt.Errorf("-duration=%s is invalid: accepted is 0 (use -n) or a positive duration", c.Duration))
	}
	if c.Rate < 0 || c.Rate > 1e6 {
		errs = append(errs, fmt.Errorf("-rate=%g is invalid: accepted is 0 (unlimited) to 1000000 calls per second", c.Rate))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("-timeout=%s is invalid: accepted is a positive duration", c.Timeout))
	}
	return errors.Join(errs...)
}
