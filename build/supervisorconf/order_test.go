package supervisorconf

import (
	"slices"
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

// prog is a program of the image's with its priority set.
func prog(name, engine string, priority int) Program {
	file := "/etc/supervisord/programs/" + name + ".conf"
	if engine != "" {
		file = "/etc/supervisord/engines/" + engine + "/" + name + ".conf"
	}
	return Program{Name: name, File: file, Engine: engine, Priority: priority, HasPriority: true}
}

// The images' programs, with their priorities: the hello_server image's,
// and the load balancer's (shared ones and one per engine).
var (
	helloPrograms = []Program{prog("consul-agent", "", 10), prog("grpc-server", "", 30), prog("registrar", "", 50)}
	lbPrograms    = []Program{prog("consul-agent", "", 10), prog("consul-template", "", 40), prog("registrar", "", 50),
		prog("haproxy", "haproxy", 30), prog("nginx", "nginx", 30)}
)

// with is programs with one changed by edit.
func with(programs []Program, name string, edit func(*Program)) []Program {
	programs = slices.Clone(programs)
	edit(&programs[slices.IndexFunc(programs, func(p Program) bool { return p.Name == name })])
	return programs
}

func TestStopOrder(t *testing.T) {
	for _, c := range []struct {
		name     string
		programs []Program
		engine   string
		want     string // the stop order, or the error
	}{
		{"a replica", helloPrograms, "", "registrar grpc-server consul-agent"},
		{"the load balancer with nginx leaves haproxy out", lbPrograms, "nginx", "registrar consul-template nginx consul-agent"},
		{"the load balancer with haproxy leaves nginx out", lbPrograms, "haproxy", "registrar consul-template haproxy consul-agent"},
		{"the file order does not count", []Program{lbPrograms[3], lbPrograms[2], lbPrograms[0], lbPrograms[1]}, "haproxy",
			"registrar consul-template haproxy consul-agent"},
		{"negative priorities stop last", with(helloPrograms, "consul-agent", func(p *Program) { p.Priority = -1 }), "",
			"registrar grpc-server consul-agent"},
		{"the engines not picked may share a priority", with(lbPrograms, "haproxy", func(p *Program) { p.Priority = 40 }), "nginx",
			"registrar consul-template nginx consul-agent"},

		{"a program without a priority", with(helloPrograms, "grpc-server", func(p *Program) { p.Priority, p.HasPriority = DefaultPriority, false }), "",
			"error: /etc/supervisord/programs/grpc-server.conf: program grpc-server: priority is not set: accepted is a whole number that no other program the container runs has (the highest stops first)"},
		{"the picked engine without a priority", with(lbPrograms, "nginx", func(p *Program) { p.Priority, p.HasPriority = DefaultPriority, false }), "nginx",
			"error: /etc/supervisord/engines/nginx/nginx.conf: program nginx: priority is not set: accepted is a whole number that no other program the container runs has (the highest stops first)"},
		{"two programs of the same priority", with(helloPrograms, "registrar", func(p *Program) { p.Priority = 30 }), "",
			"error: /etc/supervisord/programs/registrar.conf: program registrar: priority=30 is invalid: accepted is a whole number that no other program the container runs has (the highest stops first); program grpc-server (/etc/supervisord/programs/grpc-server.conf) has 30 too"},
		{"the picked engine of the same priority as a shared program", with(lbPrograms, "nginx", func(p *Program) { p.Priority = 40 }), "nginx",
			"error: /etc/supervisord/engines/nginx/nginx.conf: program nginx: priority=40 is invalid: accepted is a whole number that no other program the container runs has (the highest stops first); program consul-template (/etc/supervisord/programs/consul-template.conf) has 40 too"},
		{"a program set to supervisord's default, another without one", with(with(helloPrograms, "registrar", func(p *Program) { p.Priority = DefaultPriority }),
			"consul-agent", func(p *Program) { p.Priority, p.HasPriority = DefaultPriority, false }), "",
			"error: /etc/supervisord/programs/consul-agent.conf: program consul-agent: priority is not set: accepted is a whole number that no other program the container runs has (the highest stops first)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			stop, err := StopOrder(c.programs, c.engine)
			if want, isErr := strings.CutPrefix(c.want, "error: "); isErr {
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
