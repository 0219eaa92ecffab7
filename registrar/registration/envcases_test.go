package registration

import (
	"fmt"
	"maps"
	"sort"
	"strings"
)

// envCase is one bad environment: a valid base with one thing wrong. The unit
// test runs it through ConfigFromEnv and the integration test through the
// real binary.
type envCase struct {
	name     string
	set      map[string]string // added to the base, or replacing its value
	unset    []string          // removed from the base
	key      string            // the variable the error must name
	value    string            // the value the error must quote
	accepted string            // what the error must say is accepted
}

// goodEnv is a valid environment that registers with the agent at consulAddr.
func goodEnv(consulAddr string) map[string]string {
	return map[string]string{"APP_NAME": "ping", "APP_PORT": "7777", "CONSUL_HTTP_ADDR": consulAddr}
}

// env is the case applied to goodEnv(consulAddr).
func (c envCase) env(consulAddr string) map[string]string {
	env := goodEnv(consulAddr)
	for _, k := range c.unset {
		delete(env, k)
	}
	maps.Copy(env, c.set)
	return env
}

// lookup turns an environment into a LookupEnv.
func lookup(env map[string]string) LookupEnv {
	return func(key string) (string, bool) {
		v, ok := env[key]
		return v, ok
	}
}

// environ turns an environment into KEY=value strings for a process.
func environ(env map[string]string) []string {
	var out []string
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

const (
	acceptName = "a Consul service name"
	acceptPort = "a port number from 1 to 65535"
	acceptAddr = "host:port, http://host:port, https://host:port or unix:///path"
	// acceptGRPC is what HEALTH_CHECK_ENDPOINT accepts with HEALTH_CHECK_TYPE=grpc.
	acceptGRPC = "for HEALTH_CHECK_TYPE=grpc, empty (the whole server), a gRPC service name such as protos.Ping, " +
		`or a comma-separated list of up to 16 distinct ones such as "protos.Ping,protos.Echo" (one check each); ` +
		"a name is dot-separated identifiers of letters, digits and '_', none starting with a digit"
)

// seventeenServices is one gRPC service name more than HEALTH_CHECK_ENDPOINT takes.
var seventeenServices = func() string {
	var names []string
	for i := range 17 {
		names = append(names, fmt.Sprintf("pkg.S%d", i))
	}
	return strings.Join(names, ",")
}()

// Token files for the cases, relative to the package directory: the unit
// test and the binary the integration test starts both run there.
const (
	goodTokenFile      = "testdata/good.token" // "token-from-file\n"
	emptyFirstLineFile = "testdata/empty-first-line.token"
)

var badEnvCases = []envCase{
	{name: "APP_NAME missing", unset: []string{"APP_NAME"}, key: "APP_NAME", value: "", accepted: acceptName},
	{name: "APP_NAME with space", set: map[string]string{"APP_NAME": "has space"}, key: "APP_NAME", value: "has space", accepted: acceptName},
	{name: "APP_PORT missing", unset: []string{"APP_PORT"}, key: "APP_PORT", value: "", accepted: acceptPort},
	{name: "APP_PORT 0", set: map[string]string{"APP_PORT": "0"}, key: "APP_PORT", value: "0", accepted: acceptPort},
	{name: "APP_PORT x", set: map[string]string{"APP_PORT": "x"}, key: "APP_PORT", value: "x", accepted: acceptPort},
	{name: "APP_PORT 70000", set: map[string]string{"APP_PORT": "70000"}, key: "APP_PORT", value: "70000", accepted: acceptPort},
	{name: "CONSUL_PORT bad", unset: []string{"CONSUL_HTTP_ADDR"}, set: map[string]string{"CONSUL_PORT": "abc"},
		key: "CONSUL_PORT", value: "abc", accepted: acceptPort},
	{name: "CONSUL_HTTP_ADDR and CONSUL_PORT", set: map[string]string{"CONSUL_PORT": "8500"},
		key: "CONSUL_PORT", value: "8500", accepted: "one of them"},
	{name: "CONSUL_HTTP_ADDR ftp", set: map[string]string{"CONSUL_HTTP_ADDR": "ftp://x:1"},
		key: "CONSUL_HTTP_ADDR", value: "ftp://x:1", accepted: acceptAddr},
	{name: "CONSUL_HTTP_ADDR without port", set: map[string]string{"CONSUL_HTTP_ADDR": "host-without-port"},
		key: "CONSUL_HTTP_ADDR", value: "host-without-port", accepted: acceptAddr},
	{name: "TAGS empty item", set: map[string]string{"TAGS": "a,,b"}, key: "TAGS", value: "a,,b",
		accepted: "a comma-separated list of non-empty tags"},
	{name: "HEALTH_CHECK_TYPE tcp", set: map[string]string{"HEALTH_CHECK_TYPE": "tcp"}, key: "HEALTH_CHECK_TYPE", value: "tcp",
		accepted: `"grpc" or "http"`},
	{name: "http check without endpoint", set: map[string]string{"HEALTH_CHECK_TYPE": "http"}, key: "HEALTH_CHECK_ENDPOINT", value: "",
		accepted: "a path starting with '/'"},
	{name: "http check with relative endpoint", set: map[string]string{"HEALTH_CHECK_TYPE": "http", "HEALTH_CHECK_ENDPOINT": "healthz"},
		key: "HEALTH_CHECK_ENDPOINT", value: "healthz", accepted: "a path starting with '/'"},
	{name: "grpc check with path endpoint", set: map[string]string{"HEALTH_CHECK_TYPE": "grpc", "HEALTH_CHECK_ENDPOINT": "a/b"},
		key: "HEALTH_CHECK_ENDPOINT", value: "a/b", accepted: acceptGRPC + ` ("a/b" is not a gRPC service name)`},
	{name: "grpc check with a name starting with a digit", set: map[string]string{"HEALTH_CHECK_ENDPOINT": "protos.1Ping"},
		key: "HEALTH_CHECK_ENDPOINT", value: "protos.1Ping", accepted: acceptGRPC + ` ("protos.1Ping" is not a gRPC service name)`},
	{name: "grpc check list with a bad name", set: map[string]string{"HEALTH_CHECK_ENDPOINT": "protos.Ping,protos..Echo"},
		key: "HEALTH_CHECK_ENDPOINT", value: "protos.Ping,protos..Echo", accepted: acceptGRPC + ` ("protos..Echo" is not a gRPC service name)`},
	{name: "grpc check list with a space", set: map[string]string{"HEALTH_CHECK_ENDPOINT": "protos.Ping, protos.Echo"},
		key: "HEALTH_CHECK_ENDPOINT", value: "protos.Ping, protos.Echo", accepted: acceptGRPC + ` (" protos.Echo" is not a gRPC service name)`},
	{name: "grpc check list with a duplicate", set: map[string]string{"HEALTH_CHECK_ENDPOINT": "protos.Ping,protos.Echo,protos.Ping"},
		key: "HEALTH_CHECK_ENDPOINT", value: "protos.Ping,protos.Echo,protos.Ping", accepted: acceptGRPC + ` ("protos.Ping" is listed twice)`},
	{name: "grpc check list with an empty element", set: map[string]string{"HEALTH_CHECK_ENDPOINT": "protos.Ping,,protos.Echo"},
		key: "HEALTH_CHECK_ENDPOINT", value: "protos.Ping,,protos.Echo", accepted: acceptGRPC + " (element 2 of the list is empty)"},
	{name: "grpc check list with a trailing comma", set: map[string]string{"HEALTH_CHECK_ENDPOINT": "protos.Ping,"},
		key: "HEALTH_CHECK_ENDPOINT", value: "protos.Ping,", accepted: acceptGRPC + " (element 2 of the list is empty)"},
	{name: "grpc check list of a comma", set: map[string]string{"HEALTH_CHECK_ENDPOINT": ","},
		key: "HEALTH_CHECK_ENDPOINT", value: ",", accepted: acceptGRPC + " (element 1 of the list is empty)"},
	{name: "grpc check list of 17", set: map[string]string{"HEALTH_CHECK_ENDPOINT": seventeenServices},
		key: "HEALTH_CHECK_ENDPOINT", value: seventeenServices, accepted: acceptGRPC + " (17 names, more than 16)"},
	{name: "HEALTH_CHECK_INTERVAL 5ms", set: map[string]string{"HEALTH_CHECK_INTERVAL": "5ms"}, key: "HEALTH_CHECK_INTERVAL", value: "5ms",
		accepted: "a duration from 100ms to 1h0m0s"},
	{name: "DEREGISTER_CRITICAL_AFTER 30s", set: map[string]string{"DEREGISTER_CRITICAL_AFTER": "30s"}, key: "DEREGISTER_CRITICAL_AFTER", value: "30s",
		accepted: "a duration from 1m0s to 168h0m0s"},
	{name: "CONSUL_HTTP_TOKEN_FILE missing file", set: map[string]string{"CONSUL_HTTP_TOKEN_FILE": "testdata/no-such.token"},
		key: "CONSUL_HTTP_TOKEN_FILE", value: "testdata/no-such.token", accepted: acceptTokenFile + " (open testdata/no-such.token: no such file or directory)"},
	{name: "CONSUL_HTTP_TOKEN_FILE a directory", set: map[string]string{"CONSUL_HTTP_TOKEN_FILE": "testdata"},
		key: "CONSUL_HTTP_TOKEN_FILE", value: "testdata", accepted: acceptTokenFile + " (read testdata: is a directory)"},
	{name: "CONSUL_HTTP_TOKEN_FILE empty value", set: map[string]string{"CONSUL_HTTP_TOKEN_FILE": ""},
		key: "CONSUL_HTTP_TOKEN_FILE", value: "", accepted: acceptTokenFile + " (it names no file)"},
	{name: "CONSUL_HTTP_TOKEN_FILE empty file", set: map[string]string{"CONSUL_HTTP_TOKEN_FILE": "testdata/empty.token"},
		key: "CONSUL_HTTP_TOKEN_FILE", value: "testdata/empty.token", accepted: acceptTokenFile + " (its first line is empty)"},
	{name: "CONSUL_HTTP_TOKEN_FILE first line empty", set: map[string]string{"CONSUL_HTTP_TOKEN_FILE": emptyFirstLineFile},
		key: "CONSUL_HTTP_TOKEN_FILE", value: emptyFirstLineFile, accepted: acceptTokenFile + " (its first line is empty)"},
	{name: "CONSUL_HTTP_TOKEN_FILE two lines", set: map[string]string{"CONSUL_HTTP_TOKEN_FILE": "testdata/two-lines.token"},
		key: "CONSUL_HTTP_TOKEN_FILE", value: "testdata/two-lines.token", accepted: "text after the first line"},
	{name: "CONSUL_HTTP_TOKEN and CONSUL_HTTP_TOKEN_FILE", set: map[string]string{"CONSUL_HTTP_TOKEN": "secret", "CONSUL_HTTP_TOKEN_FILE": goodTokenFile},
		key: "CONSUL_HTTP_TOKEN_FILE", value: goodTokenFile, accepted: "one of them"},
	{name: "REGISTER_ATTEMPTS 0", set: map[string]string{"REGISTER_ATTEMPTS": "0"}, key: "REGISTER_ATTEMPTS", value: "0",
		accepted: "a whole number from 1 to 1000"},
}
