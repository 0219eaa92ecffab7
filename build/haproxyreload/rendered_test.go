package main

import (
	"slices"
	"strings"
	"testing"
)

// testdata/load-balancer.cfg is a real render of HAProxy's load-balancer.tpl
// by consul-template v0.41.1, from a Consul holding two routed instances and
// two the template leaves out.
func TestParseCapturedRender(t *testing.T) {
	r := parseRendered(captured(t, "load-balancer.cfg"), "hello_server")
	if want := []string{"10.20.30.41:7001", "10.20.30.42:7001"}; !slices.Equal(r.servers, want) {
		t.Errorf("servers: expected %q, received %q", want, r.servers)
	}
	want := []string{
		"skipped hello_server instance (not an IPv4 address with a port from 1 to 65535): id=name node=bad-name address=not-an-ip port=7001",
		"skipped hello_server instance (not an IPv4 address with a port from 1 to 65535): id=port-0 node=bad-port address=10.20.30.49 port=0",
	}
	if !slices.Equal(r.skipped, want) {
		t.Errorf("skipped:\n  expected %q\n  received %q", want, r.skipped)
	}
}

func TestParseRendered(t *testing.T) {
	for _, c := range []struct {
		name, text string
		servers    []string
		skipped    []string
	}{
		{
			name: "no replica: only free slots",
			text: "backend hello_server from hello_server\n    server replica-1 127.0.0.1:1 disabled\n    server replica-2 127.0.0.1:1 disabled\n" +
				"global\n    set-var proc.hello_server_upstream str(\"\")\n",
		},
		{
			name: "servers of another backend, or after the backend's section, are not the replicas",
			text: "backend other\n    server replica-1 10.0.0.9:80\n" +
				"backend hello_server from hello_server\n    server replica-1 10.0.0.1:7001\n" +
				"    # a comment inside the section\n\n    server replica-2 10.0.0.2:7001\n" +
				"listen x\n    server replica-1 10.0.0.8:80\n",
			servers: []string{"10.0.0.1:7001", "10.0.0.2:7001"},
		},
		{
			name:    "a server with options counts unless disabled",
			text:    "backend hello_server\n\tserver a 10.0.0.1:7001 weight 2\n\tserver b 10.0.0.2:7001 weight 2 disabled\n",
			servers: []string{"10.0.0.1:7001"},
		},
		{
			name:    "a skipped line of another service is not logged",
			text:    "# skipped other instance x\n# skipped hello_server instance y\n",
			skipped: []string{"skipped hello_server instance y"},
		},
		{name: "empty file"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := parseRendered(c.text, "hello_server")
			if !slices.Equal(r.servers, c.servers) || !slices.Equal(r.skipped, c.skipped) {
				t.Errorf("parseRendered(%q):\n  expected servers %q, skipped %q\n  received servers %q, skipped %q",
					c.text, c.servers, c.skipped, r.servers, r.skipped)
			}
		})
	}
}

// The free slots the captured render holds: 62 after the two replicas.
func TestCapturedRenderHas64Slots(t *testing.T) {
	if n := strings.Count(captured(t, "load-balancer.cfg"), "\n    server replica-"); n != 64 {
		t.Errorf("server lines: expected 64, received %d", n)
	}
}
