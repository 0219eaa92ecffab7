package main

import (
	"slices"
	"strings"
	"testing"
)

// testdata/load-balancer.cfg is a real render of HAProxy's load-balancer.tpl
// by consul-template v0.41.1, from testdata/services.conf and a Consul
// holding two routed hello_server instances, two the template leaves out,
// and one echo_server instance.
func TestParseCapturedRender(t *testing.T) {
	r := parseRendered(captured(t, "load-balancer.cfg"))
	want := []backend{
		{name: "echo_server", servers: []string{"10.20.30.51:7002"}, slots: 64},
		{name: "hello_server", servers: []string{"10.20.30.41:7001", "10.20.30.42:7001"}, slots: 64},
	}
	if !slices.EqualFunc(r.backends, want, equalBackends) {
		t.Errorf("backends:\n  expected %+v\n  received %+v", want, r.backends)
	}
	wantSkipped := []string{
		"skipped declaration line 5 (a Consul service and its gRPC services, each once): no-such-name protos.Bad",
		"skipped hello_server instance (not an IPv4 address with a port from 1 to 65535): id=name node=bad-name address=not-an-ip port=7001",
		"skipped hello_server instance (not an IPv4 address with a port from 1 to 65535): id=port-0 node=bad-port address=10.20.30.49 port=0",
	}
	if !slices.Equal(r.skipped, wantSkipped) {
		t.Errorf("skipped:\n  expected %q\n  received %q", wantSkipped, r.skipped)
	}
}

func equalBackends(a, b backend) bool {
	return a.name == b.name && a.slots == b.slots && slices.Equal(a.servers, b.servers)
}

func TestParseRendered(t *testing.T) {
	for _, c := range []struct {
		name, text string
		backends   []backend
		skipped    []string
	}{
		{
			name: "no replica: only free slots",
			text: "backend hello_server from replicas\n    server replica-1 127.0.0.1:1 disabled\n    server replica-2 127.0.0.1:1 disabled\n" +
				"global\n    set-var proc.hello_server_upstream str(\"\")\n",
			backends: []backend{{name: "hello_server", slots: 2}},
		},
		{
			name: "each backend's servers; servers outside a backend are none; a backend without servers is no service's",
			text: "backend other\n    server replica-1 10.0.0.9:80\n" +
				"backend hello_server from replicas\n    server replica-1 10.0.0.1:7001\n" +
				"    # a comment inside the section\n\n    server replica-2 10.0.0.2:7001\n" +
				"listen x\n    server replica-1 10.0.0.8:80\n" +
				"backend upstream-list from http\n    http-request return status 404\n",
			backends: []backend{
				{name: "other", servers: []string{"10.0.0.9:80"}, slots: 1},
				{name: "hello_server", servers: []string{"10.0.0.1:7001", "10.0.0.2:7001"}, slots: 2},
			},
		},
		{
			name:     "a server with options counts unless disabled",
			text:     "backend hello_server\n\tserver a 10.0.0.1:7001 weight 2\n\tserver b 10.0.0.2:7001 weight 2 disabled\n",
			backends: []backend{{name: "hello_server", servers: []string{"10.0.0.1:7001"}, slots: 2}},
		},
		{
			name:    "every skipped line, whatever it skipped",
			text:    "# skipped other instance x\n# skipped declaration line 3 (...): y\n# not skipped\n",
			skipped: []string{"skipped other instance x", "skipped declaration line 3 (...): y"},
		},
		{name: "empty file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := parseRendered(c.text)
			if !slices.EqualFunc(r.backends, c.backends, equalBackends) || !slices.Equal(r.skipped, c.skipped) {
				t.Errorf("parseRendered(%q):\n  expected backends %+v, skipped %q\n  received backends %+v, skipped %q",
					c.text, c.backends, c.skipped, r.backends, r.skipped)
			}
		})
	}
}

// The layout is what the Runtime API cannot change: a change of replicas
// keeps it, anything else changes it.
func TestLayout(t *testing.T) {
	base := captured(t, "load-balancer.cfg")
	layout := parseRendered(base).layout
	same := map[string]string{
		"a replica moves": strings.Replace(base, "    server replica-1 10.20.30.41:7001\n", "    server replica-1 10.20.30.43:7001\n", 1),
		"a replica leaves": strings.Replace(strings.Replace(base, "    server replica-2 10.20.30.42:7001\n", "    server replica-2 127.0.0.1:1 disabled\n", 1),
			`set-var proc.hello_server_upstream str("10.20.30.41:7001 10.20.30.42:7001 ")`, `set-var proc.hello_server_upstream str("10.20.30.41:7001 ")`, 1),
		"a skipped line goes": strings.Replace(base, "# skipped hello_server instance", "# skipped nothing", 1),
		"indentation":         strings.ReplaceAll(base, "\n    ", "\n\t"),
	}
	for name, text := range same {
		if got := parseRendered(text).layout; got != layout {
			t.Errorf("%s: the layout changed:\n%s", name, got)
		}
		if text == base {
			t.Errorf("%s: the test's change did not apply", name)
		}
	}
	changed := map[string]string{
		"a route moves":     strings.Replace(base, "str(hello_server) if { var(txn.grpc_service) -m str protos.Ping }", "str(echo_server) if { var(txn.grpc_service) -m str protos.Ping }", 1),
		"a backend goes":    base[:strings.Index(base, "\nbackend echo_server")] + base[strings.Index(base, "\nbackend hello_server"):],
		"a slot more":       strings.Replace(base, "    server replica-64 127.0.0.1:1 disabled\n", "    server replica-64 127.0.0.1:1 disabled\n    server replica-65 127.0.0.1:1 disabled\n", 1),
		"another variable":  strings.Replace(base, "set-var proc.hello_server_upstream", "set-var proc.other_upstream", 1),
		"a setting changes": strings.Replace(base, "backend hello_server from replicas", "backend hello_server from other", 1),
	}
	for name, text := range changed {
		if text == base {
			t.Errorf("%s: the test's change did not apply", name)
		}
		if got := parseRendered(text).layout; got == layout {
			t.Errorf("%s: the layout did not change", name)
		}
	}
}

// The free slots the captured render holds: 64 per backend.
func TestCapturedRenderHas64SlotsPerBackend(t *testing.T) {
	if n := strings.Count(captured(t, "load-balancer.cfg"), "\n    server replica-"); n != 2*64 {
		t.Errorf("server lines: expected 128, received %d", n)
	}
}
