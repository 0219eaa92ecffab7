package registration

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

func TestConfigFromEnvRejects(t *testing.T) {
	for _, tc := range badEnvCases {
		env := tc.env("127.0.0.1:8500")
		_, err := ConfigFromEnv(lookup(env))
		testenv.RequireOneError(t, fmt.Sprintf("%s: ConfigFromEnv(%v)", tc.name, env), err,
			tc.key+"="+strconv.Quote(tc.value), "accepted is", tc.accepted)
	}
}

func TestConfigFromEnvDefaults(t *testing.T) {
	env := map[string]string{"APP_NAME": "ping", "APP_PORT": "7777"}
	cfg, err := ConfigFromEnv(lookup(env))
	if err != nil {
		t.Fatalf("ConfigFromEnv(%v): unexpected error: %v", env, err)
	}
	want := Config{
		AppName: "ping", AppPort: 7777, ConsulAddr: "127.0.0.1:8500",
		CheckType: "grpc", CheckEndpoint: "", CheckPort: 7777,
		CheckInterval: time.Second, CheckTimeout: time.Second,
		DeregisterCriticalAfter: time.Minute, RegisterAttempts: 30,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("ConfigFromEnv(%v):\n got  %+v\n want %+v", env, cfg, want)
	}
}

func TestConfigFromEnvSettings(t *testing.T) {
	env := map[string]string{
		"APP_NAME": "web.v2", "APP_PORT": "8080", "CONSUL_PORT": "18500", "CONSUL_HTTP_TOKEN": "secret",
		"TAGS": " grpc , v1", "HEALTH_CHECK_TYPE": "http", "HEALTH_CHECK_ENDPOINT": "/healthz",
		"HEALTH_CHECK_PORT": "9090", "HEALTH_CHECK_INTERVAL": "100ms", "HEALTH_CHECK_TIMEOUT": "50ms",
		"DEREGISTER_CRITICAL_AFTER": "2m", "REGISTER_ATTEMPTS": "3",
	}
	cfg, err := ConfigFromEnv(lookup(env))
	if err != nil {
		t.Fatalf("ConfigFromEnv(%v): unexpected error: %v", env, err)
	}
	want := Config{
		AppName: "web.v2", AppPort: 8080, ConsulAddr: "127.0.0.1:18500", Token: "secret",
		Tags: []string{"grpc", "v1"}, CheckType: "http", CheckEndpoint: "/healthz", CheckPort: 9090,
		CheckInterval: 100 * time.Millisecond, CheckTimeout: 50 * time.Millisecond,
		DeregisterCriticalAfter: 2 * time.Minute, RegisterAttempts: 3,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("ConfigFromEnv(%v):\n got  %+v\n want %+v", env, cfg, want)
	}
}

func TestConfigFromEnvConsulHTTPAddr(t *testing.T) {
	for _, addr := range []string{"10.0.0.1:8500", "http://consul:8500", "https://consul:8501", "unix:///run/consul.sock"} {
		env := map[string]string{"APP_NAME": "ping", "APP_PORT": "7777", "CONSUL_HTTP_ADDR": addr}
		cfg, err := ConfigFromEnv(lookup(env))
		if err != nil {
			t.Errorf("CONSUL_HTTP_ADDR=%q: unexpected error: %v", addr, err)
			continue
		}
		if cfg.ConsulAddr != addr {
			t.Errorf("CONSUL_HTTP_ADDR=%q: got ConsulAddr %q, want it unchanged", addr, cfg.ConsulAddr)
		}
	}
}

// HEALTH_CHECK_ENDPOINT for grpc: empty is the whole server, one name is one
// check as before, a comma-separated list is one check per gRPC service.
func TestConfigFromEnvGRPCServices(t *testing.T) {
	sixteen := make([]string, 16)
	for i := range sixteen {
		sixteen[i] = fmt.Sprintf("pkg.v1.S%d", i)
	}
	for _, tc := range []struct {
		endpoint string
		want     []string
	}{
		{"", []string{""}},
		{"protos.Ping", []string{"protos.Ping"}},
		{"Ping", []string{"Ping"}},
		{"grpc.health.v1.Health", []string{"grpc.health.v1.Health"}},
		{"protos.Ping,protos.Echo", []string{"protos.Ping", "protos.Echo"}},
		{"_a._b1,A_.B9", []string{"_a._b1", "A_.B9"}},
		{strings.Join(sixteen, ","), sixteen},
	} {
		env := map[string]string{"APP_NAME": "ping", "APP_PORT": "7777", "HEALTH_CHECK_ENDPOINT": tc.endpoint}
		cfg, err := ConfigFromEnv(lookup(env))
		if err != nil {
			t.Errorf("HEALTH_CHECK_ENDPOINT=%q: unexpected error: %v", tc.endpoint, err)
			continue
		}
		if cfg.CheckType != "grpc" || cfg.CheckEndpoint != tc.endpoint {
			t.Errorf("HEALTH_CHECK_ENDPOINT=%q: got check %s %q, want grpc and the value unchanged", tc.endpoint, cfg.CheckType, cfg.CheckEndpoint)
		}
		if got := cfg.GRPCHealthServices(); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("HEALTH_CHECK_ENDPOINT=%q: GRPCHealthServices() = %q, want %q", tc.endpoint, got, tc.want)
		}
	}
}
