package registration

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is everything the registrar reads from its environment.
type Config struct {
	AppName                 string
	AppPort                 int
	ConsulAddr              string // host:port or URL of the local agent's HTTP API
	Token                   string // CONSUL_HTTP_TOKEN; empty when TokenFile is set
	TokenFile               string // CONSUL_HTTP_TOKEN_FILE, validated: its first line is the token
	Tags                    []string
	CheckType               string // "grpc" or "http"
	CheckEndpoint           string // grpc: "" or health service names, comma-separated (GRPCHealthServices); http: path
	CheckPort               int
	CheckInterval           time.Duration
	CheckTimeout            time.Duration
	DeregisterCriticalAfter time.Duration
	RegisterAttempts        int
}

// LookupEnv is os.LookupEnv; tests pass a map instead.
type LookupEnv func(key string) (string, bool)

// serviceName follows Consul's rules loosely but rejects what would break the
// consul-template query or DNS: spaces, slashes, empty names.
var serviceName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$`)

// grpcServiceName is a gRPC service's full name: dot-separated identifiers,
// e.g. protos.Ping or grpc.health.v1.Health.
var grpcServiceName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// maxGRPCServices bounds HEALTH_CHECK_ENDPOINT's list: each name is one
// Consul check run every interval, and the registrar probes each before
// registering.
const maxGRPCServices = 16

// acceptGRPCEndpoint is what HEALTH_CHECK_ENDPOINT accepts for grpc checks.
var acceptGRPCEndpoint = fmt.Sprintf("for HEALTH_CHECK_TYPE=grpc, empty (the whole server), a gRPC service name such as protos.Ping, "+
	"or a comma-separated list of up to %d distinct ones such as \"protos.Ping,protos.Echo\" (one check each); "+
	"a name is dot-separated identifiers of letters, digits and '_', none starting with a digit", maxGRPCServices)

// grpcEndpointProblem says what is wrong with a grpc HEALTH_CHECK_ENDPOINT,
// or returns "" when it is empty or 1 to maxGRPCServices distinct gRPC
// service full names separated by commas (no spaces, no empty element).
func grpcEndpointProblem(endpoint string) string {
	if endpoint == "" {
		return ""
	}
	names := strings.Split(endpoint, ",")
	if len(names) > maxGRPCServices {
		return fmt.Sprintf("%d names, more than %d", len(names), maxGRPCServices)
	}
	seen := map[string]bool{}
	for i, name := range names {
		switch {
		case name == "":
			return fmt.Sprintf("element %d of the list is empty", i+1)
		case !grpcServiceName.MatchString(name):
			return fmt.Sprintf("%q is not a gRPC service name", name)
		case seen[name]:
			return fmt.Sprintf("%q is listed twice", name)
		}
		seen[name] = true
	}
	return ""
}

// GRPCHealthServices is the grpc.health.v1 service names the gRPC checks ask
// about, one check each, in HEALTH_CHECK_ENDPOINT's order: [""] (the whole
// server) when it is empty. Only meaningful for CheckType "grpc".
func (c Config) GRPCHealthServices() []string {
	return strings.Split(c.CheckEndpoint, ",")
}

// ConfigFromEnv reads and validates the environment. Every problem is
// reported with the variable, its value and what is accepted.
func ConfigFromEnv(env LookupEnv) (Config, error) {
	var errs []error
	get := func(key, def string) string {
		if v, ok := env(key); ok {
			return v
		}
		return def
	}
	bad := func(key, value, accepted string) {
		errs = append(errs, fmt.Errorf("%s=%q is invalid: accepted is %s", key, value, accepted))
	}

	var cfg Config
	var err error
	if cfg.Token, cfg.TokenFile, err = tokenFromEnv(env); err != nil {
		errs = append(errs, err)
	}

	cfg.AppName = get("APP_NAME", "")
	if !serviceName.MatchString(cfg.AppName) {
		bad("APP_NAME", cfg.AppName, "a Consul service name: letters, digits, '_', '.', '-', 1-63 characters, starting with a letter or digit")
	}
	cfg.AppPort = parsePort("APP_PORT", get("APP_PORT", ""), bad)

	httpAddr, hasHTTPAddr := env("CONSUL_HTTP_ADDR")
	consulPort, hasConsulPort := env("CONSUL_PORT")
	switch {
	case hasHTTPAddr && hasConsulPort:
		errs = append(errs, fmt.Errorf("CONSUL_HTTP_ADDR=%q and CONSUL_PORT=%q are both set: accepted is one of them (CONSUL_PORT means 127.0.0.1:CONSUL_PORT)", httpAddr, consulPort))
	case hasHTTPAddr:
		if err := validateHTTPAddr(httpAddr); err != nil {
			bad("CONSUL_HTTP_ADDR", httpAddr, "host:port, http://host:port, https://host:port or unix:///path")
		}
		cfg.ConsulAddr = httpAddr
	default:
		port := parsePort("CONSUL_PORT", get("CONSUL_PORT", "8500"), bad)
		cfg.ConsulAddr = "127.0.0.1:" + strconv.Itoa(port)
	}

	if tags := get("TAGS", ""); tags != "" {
		for _, tag := range strings.Split(tags, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "" {
				bad("TAGS", tags, "a comma-separated list of non-empty tags, e.g. \"grpc,v1\"")
				break
			}
			cfg.Tags = append(cfg.Tags, tag)
		}
	}

	cfg.CheckType = get("HEALTH_CHECK_TYPE", "grpc")
	cfg.CheckEndpoint = get("HEALTH_CHECK_ENDPOINT", "")
	switch cfg.CheckType {
	case "grpc":
		if problem := grpcEndpointProblem(cfg.CheckEndpoint); problem != "" {
			bad("HEALTH_CHECK_ENDPOINT", cfg.CheckEndpoint, acceptGRPCEndpoint+" ("+problem+")")
		}
	case "http":
		if !strings.HasPrefix(cfg.CheckEndpoint, "/") {
			bad("HEALTH_CHECK_ENDPOINT", cfg.CheckEndpoint, "for HEALTH_CHECK_TYPE=http, a path starting with '/', e.g. /healthz")
		}
	default:
		bad("HEALTH_CHECK_TYPE", cfg.CheckType, `"grpc" or "http"`)
	}
	cfg.CheckPort = cfg.AppPort
	if v, ok := env("HEALTH_CHECK_PORT"); ok {
		cfg.CheckPort = parsePort("HEALTH_CHECK_PORT", v, bad)
	}

	cfg.CheckInterval = parseDuration("HEALTH_CHECK_INTERVAL", get("HEALTH_CHECK_INTERVAL", "1s"), 100*time.Millisecond, time.Hour, bad)
	cfg.CheckTimeout = parseDuration("HEALTH_CHECK_TIMEOUT", get("HEALTH_CHECK_TIMEOUT", "1s"), 10*time.Millisecond, time.Minute, bad)
	// Consul raises anything below one minute to one minute without a word;
	// refusing it here keeps the setting honest.
	cfg.DeregisterCriticalAfter = parseDuration("DEREGISTER_CRITICAL_AFTER", get("DEREGISTER_CRITICAL_AFTER", "1m"), time.Minute, 7*24*time.Hour, bad)

	attempts := get("REGISTER_ATTEMPTS", "30")
	n, err := strconv.Atoi(attempts)
	if err != nil || n < 1 || n > 1000 {
		bad("REGISTER_ATTEMPTS", attempts, "a whole number from 1 to 1000")
	}
	cfg.RegisterAttempts = n

	return cfg, errors.Join(errs...)
}

func parsePort(key, value string, bad func(key, value, accepted string)) int {
	port, err := strconv.Atoi(value)
	if err != nil || port < 1 || port > 65535 {
		bad(key, value, "a port number from 1 to 65535")
		return 0
	}
	return port
}

func parseDuration(key, value string, lo, hi time.Duration, bad func(key, value, accepted string)) time.Duration {
	d, err := time.ParseDuration(value)
	if err != nil || d < lo || d > hi {
		bad(key, value, fmt.Sprintf("a duration from %s to %s, e.g. %q", lo, hi, lo.String()))
		return 0
	}
	return d
}

func validateHTTPAddr(addr string) error {
	if strings.HasPrefix(addr, "unix://") {
		if len(addr) == len("unix://") {
			return errors.New("empty socket path")
		}
		return nil
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Port() == "" {
		return errors.New("want scheme http or https, a host and a port")
	}
	return nil
}
