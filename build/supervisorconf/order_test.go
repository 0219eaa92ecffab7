package supervisorconf

import (
	"strings"
	"testing"
)

func TestChooseEngine(t *testing.T) {
	engines := []string{"haproxy", "nginx"}
	for _, ok := range engines {
		if err := ChooseEngine(ok, engines); err != nil {
			t.Errorf("LB_ENGINE=%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "envoy", "nginx haproxy", "NGINX", "../nginx", "nginx/"} {
		want := `LB_ENGINE="` + bad + `" is invalid: accepted is one of this image's load-balancer engines: haproxy nginx`
		if err := ChooseEngine(bad, engines); err == nil || err.Error() != want {
			t.Errorf("LB_ENGINE=%q: expected %q, received %v", bad, want, err)
		}
	}
}

// The load balancer's programs: shared ones and one per engine.
var lbPrograms = []Program{
	{Name: "consul-agent"}, {Name: "consul-template"}, {Name: "registrar"},
	{Name: "haproxy", Engine: "haproxy"}, {Name: "nginx", Engine: "nginx"},
}

func TestStopOrder(t *testing.T) {
	hello := []Program{{Name: "consul-agent"}, {Name: "grpc-server"}, {Name: "registrar"}}
	for _, c := range []struct {
		name     string
		programs []Program
		engine   string
		order    string
		want     string // the stop order, or the accepted programs of the error
	}{
		{"a replica", hello, "", "registrar grpc-server consul-agent", "registrar grpc-server consul-agent"},
		{"spaces are only separators", hello, "", "  registrar\tgrpc-server  consul-agent ", "registrar grpc-server consul-agent"},
		{"the load balancer with nginx leaves haproxy out", lbPrograms, "nginx", "registrar consul-template nginx haproxy consul-agent", "registrar consul-template nginx consul-agent"},
		{"the load balancer with haproxy leaves nginx out", lbPrograms, "haproxy", "registrar consul-template nginx haproxy consul-agent", "registrar consul-template haproxy consul-agent"},
		{"without the other engine's", lbPrograms, "haproxy", "registrar consul-template haproxy consul-agent", "registrar consul-template haproxy consul-agent"},

		{"a program left out", hello, "", "registrar consul-agent", "error: (consul-agent grpc-server registrar)"},
		{"a misspelt program", hello, "", "registrar grpc_server consul-agent", "error: (consul-agent grpc-server registrar)"},
		{"a program twice", hello, "", "registrar grpc-server grpc-server consul-agent", "error: (consul-agent grpc-server registrar)"},
		{"empty", lbPrograms, "nginx", "", "error: (consul-agent consul-template nginx registrar)"},
		{"the engine left out", lbPrograms, "nginx", "registrar consul-template consul-agent", "error: (consul-agent consul-template nginx registrar)"},
		{"only the other engine", lbPrograms, "nginx", "registrar consul-template haproxy consul-agent", "error: (consul-agent consul-template nginx registrar)"},
		{"a shared program twice", lbPrograms, "nginx", "registrar registrar consul-template nginx consul-agent", "error: (consul-agent consul-template nginx registrar)"},
		{"an engine's program in an image without engines", hello, "", "registrar grpc-server nginx consul-agent", "error: (consul-agent grpc-server registrar)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stop, err := StopOrder(c.order, c.programs, c.engine)
			if accepted, isErr := strings.CutPrefix(c.want, "error: "); isErr {
				want := `SUPERVISORD_STOP_ORDER="` + c.order + `" is invalid: accepted is each of this image's supervisord programs ` + accepted + " exactly once, in the order they must stop"
				if err == nil || err.Error() != want {
					t.Errorf("expected the error %q, received %v (order %v)", want, err, stop)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range stop {
				got = append(got, p.Name)
			}
			if strings.Join(got, " ") != c.want {
				t.Errorf("expected %q, received %q", c.want, strings.Join(got, " "))
			}
		})
	}
}
