package routes

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `# comment
hello_server protos.Ping   grpc.health.v1.Health # trailing comment

echo_server	protos.Echo
`
	got, err := Parse(strings.NewReader(in), "services.conf")
	want := []Route{
		{ConsulService: "hello_server", GRPCServices: []string{"protos.Ping", "grpc.health.v1.Health"}},
		{ConsulService: "echo_server", GRPCServices: []string{"protos.Echo"}},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Parse: expected %v, received %v, %v", want, got, err)
	}
	if s := ServedBy(got, "protos.Echo"); s != "echo_server" {
		t.Errorf("ServedBy(protos.Echo): expected echo_server, received %q", s)
	}
	if s := ServedBy(got, "protos.Nope"); s != "" {
		t.Errorf("ServedBy(protos.Nope): expected \"\", received %q", s)
	}
	if p := got[0].NodePrefix(); p != "hello-server-" {
		t.Errorf("NodePrefix: expected hello-server-, received %q", p)
	}
	if names := ConsulServices(got); !reflect.DeepEqual(names, []string{"hello_server", "echo_server"}) {
		t.Errorf("ConsulServices: received %v", names)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"capital Consul service", "Hello protos.Ping\n", `services.conf:1: Consul service "Hello"; accepted: a name matching ^[a-z][a-z0-9_]{0,62}$`},
		{"dash", "hello-server protos.Ping\n", `Consul service "hello-server"`},
		{"dot", "a.b protos.Ping\n", `Consul service "a.b"`},
		{"too long", strings.Repeat("a", 64) + " p.S\n", `Consul service "` + strings.Repeat("a", 64) + `"`},
		{"no gRPC service", "# x\nhello_server\n", `services.conf:2: Consul service "hello_server" with no gRPC service`},
		{"gRPC path", "a /protos.Ping/SayHello\n", `gRPC service "/protos.Ping/SayHello"; accepted: a gRPC full name`},
		{"gRPC empty part", "a protos..Ping\n", `gRPC service "protos..Ping"`},
		{"gRPC leading digit", "a 1protos.Ping\n", `gRPC service "1protos.Ping"`},
		{"gRPC injection", "a protos.Ping;return\n", `gRPC service "protos.Ping;return"`},
		{"Consul service twice", "a p.A\nb p.B\na p.C\n", `services.conf:3: Consul service "a" is declared on line 1 already`},
		{"gRPC service twice", "a p.A\nb p.A\n", `services.conf:2: gRPC service "p.A" is declared on line 1 already`},
		{"line too long", "a " + strings.Repeat("p.A ", 300) + "\n", `services.conf:1: a line of`},
		{"empty", "# nothing\n\n", `no Consul service is declared`},
		{"reflection v1", "a p.A grpc.reflection.v1.ServerReflection\n", `services.conf:1: gRPC service "grpc.reflection.v1.ServerReflection" is the load balancer's own (it answers reflection for every routed service); accepted: any other gRPC service`},
		{"reflection v1alpha", "a grpc.reflection.v1alpha.ServerReflection\n", `gRPC service "grpc.reflection.v1alpha.ServerReflection" is the load balancer's own`},
		{"node prefix starts another", "hello_server p.A\nhello p.B\n", `services.conf:2: Consul service "hello", whose replicas would be the Consul nodes "hello-*", overlapping "hello-server-*" of "hello_server" on line 1`},
		{"node prefix started by another", "a p.A\na_b p.B\n", `services.conf:2: Consul service "a_b", whose replicas would be the Consul nodes "a-b-*", overlapping "a-*" of "a" on line 1`},
		{"load balancer's nodes", "load_balancer p.A\n", `services.conf:1: Consul service "load_balancer", whose replicas would be the Consul nodes "load-balancer-*"; accepted: a name whose node prefix`},
		{"Consul servers' nodes", "consul p.A\n", `services.conf:1: Consul service "consul", whose replicas would be the Consul nodes "consul-*"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(c.in), "services.conf")
			if err == nil || !strings.Contains(err.Error(), c.want) || got != nil {
				t.Errorf("Parse(%q): expected an error containing %q and no routes, received %v, %v", c.in, c.want, got, err)
			}
		})
	}
}

func repoFile(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join("..", "..", filepath.FromSlash(name))
}

// The deployment's own declaration must parse: the templates would skip a
// bad line silently for the user (logged, but routed nowhere).
func TestRepositoryDeclaration(t *testing.T) {
	routes, err := Load(repoFile(t, "build/config/services.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if s := ServedBy(routes, "protos.Ping"); s != "hello_server" {
		t.Errorf("build/config/services.conf: protos.Ping is served by %q, expected hello_server (the Quick start's call)", s)
	}
}

// consul-template cannot call this package, so every engine's template
// spells the grammar itself, and nginx.conf spells the gRPC service's; they
// must be this package's, character for character.
func TestTemplatesUseTheGrammar(t *testing.T) {
	templates, err := filepath.Glob(repoFile(t, "build/config/lb/*/load-balancer.tpl"))
	if err != nil || len(templates) == 0 {
		t.Fatalf("no build/config/lb/*/load-balancer.tpl: %v", err)
	}
	line := "{{- $line := `^" + ConsulServicePattern + "( " + GRPCServicePattern + ")+$` }}\n"
	length := "(le (len $text) " + "1000" + ")"
	if MaxLine != 1000 {
		t.Fatalf("MaxLine is %d: update this test and the templates' %q", MaxLine, length)
	}
	for _, path := range templates {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{line, length} {
			if !strings.Contains(string(raw), want) {
				t.Errorf("%s does not contain %q", path, want)
			}
		}
	}
	own := "{{- $own := \"" + strings.Join(LoadBalancerServices, " ") + "\" }}\n"
	for _, path := range templates {
		if raw, err := os.ReadFile(path); err != nil || !strings.Contains(string(raw), own) {
			t.Errorf("%s does not contain %q, the load balancer's own services (%v)", path, own, err)
		}
	}
	raw, err := os.ReadFile(repoFile(t, "build/config/lb/nginx/nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "(?<service>" + GRPCServicePattern + ")/"; !strings.Contains(string(raw), want) {
		t.Errorf("build/config/lb/nginx/nginx.conf does not contain %q", want)
	}
}
