package stopbudget

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/supervisorconf"
	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

func loadRepository(t *testing.T) *Tree {
	t.Helper()
	tree, err := Load(testenv.RepoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

// Every container of the deployment stops within its grace period, and
// every derived stopwaitsecs holds.
func TestRepositoryStopsWithinGracePeriods(t *testing.T) {
	plans, err := Check(loadRepository(t))
	t.Logf("\n%s", Report(plans))
	if err != nil {
		t.Fatal(err)
	}
	// Every kind of container is budgeted, each with what it runs: the
	// load balancer once per engine folder, with that engine's program.
	want := map[string]string{
		"hello_server":         "registrar grpc-server consul-agent",
		"consul-server-1":      "consul agent (server)",
		"consul-acl-bootstrap": "acl-bootstrap.sh",
	}
	root := testenv.RepoRoot(t)
	engines, err := supervisorconf.RepoEngines(root)
	if err != nil {
		t.Fatal(err)
	}
	programs, err := supervisorconf.Repository(root).Load()
	if err != nil {
		t.Fatal(err)
	}
	for _, engine := range engines {
		for _, p := range programs {
			if p.Engine == engine {
				want["load-balancer (LB_ENGINE="+engine+")"] = "registrar consul-template " + p.Name + " lb-reflection consul-agent"
			}
		}
	}
	if len(want) != 3+len(engines) {
		t.Fatalf("expected one program per engine folder (%v), found %d", engines, len(want)-3)
	}
	for _, p := range plans {
		if order, ok := want[p.Service]; ok {
			var got []string
			for _, l := range p.Lines {
				got = append(got, l.What)
			}
			if strings.Join(got, " ") != order {
				t.Errorf("%s: expected the stop steps %q, received %q", p.Service, order, strings.Join(got, " "))
			}
			delete(want, p.Service)
		}
	}
	if len(want) > 0 {
		t.Errorf("services without a plan: %v", want)
	}
}

// The package's doc holds the budget table: it must be the one the
// repository gives today.
func TestDocMatchesRepository(t *testing.T) {
	plans, _ := Check(loadRepository(t))
	raw, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	var doc strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		if table, ok := strings.CutPrefix(line, "//\t"); ok {
			doc.WriteString(table + "\n")
		}
	}
	if got, want := doc.String(), Report(plans); got != want {
		t.Errorf("doc.go's budget table is out of date: replace it with Report's:\n%s\nit says:\n%s", want, got)
	}
}

// Each way of breaking the budget is caught, with a message naming what.
func TestCheckCatchesOverBudget(t *testing.T) {
	for _, c := range []struct {
		name   string
		break_ func(*Tree)
		want   string
	}{
		{"grace period shorter than the replica's stop", func(tr *Tree) {
			s := tr.Services["hello_server"]
			s.Grace = 20 * time.Second
			tr.Services["hello_server"] = s
		}, "service hello_server: its stop may take 29s (registrar 4s + grpc-server 16s + consul-agent 7s + margin 2s), more than its stop_grace_period 20s"},
		{"a program's stopwaitsecs raised past the load balancer's grace", func(tr *Tree) {
			p := tr.Programs["consul-template"]
			p.StopWait = 10 * time.Second
			tr.Programs["consul-template"] = p
		}, "service load-balancer (LB_ENGINE=nginx): its stop may take 38s"},
		{"HAProxy's stopwaitsecs raised past the load balancer's grace", func(tr *Tree) {
			p := tr.Programs["haproxy"]
			p.StopWait = 16 * time.Second
			tr.Programs["haproxy"] = p
		}, "service load-balancer (LB_ENGINE=haproxy): its stop may take 36s (registrar 4s + consul-template 4s + haproxy 17s + lb-reflection 2s + consul-agent 7s + margin 2s)"},
		{"HAProxy without killasgroup", func(tr *Tree) {
			p := tr.Programs["haproxy"]
			p.KillAsGroup = false
			tr.Programs["haproxy"] = p
		}, "program haproxy (" + filepath.Join(EnginesDir, "haproxy", EngineProgram) + "): killasgroup is not true"},
		{"HAProxy stopped with TERM, which cuts the calls in flight", func(tr *Tree) {
			p := tr.Programs["haproxy"]
			p.StopSignals = []string{"TERM"}
			tr.Programs["haproxy"] = p
		}, "accepted is USR1"},
		{"a Consul server's stop_secs past its grace", func(tr *Tree) {
			tr.ConsulServerStop = 9 * time.Second
		}, "service consul-server-1: its stop may take 11s"},
		{"a larger entrypoint guard", func(tr *Tree) {
			tr.GuardSlack = 3 * time.Second
		}, "service hello_server: its stop may take 35s"},
		{"registrar's stopwaitsecs below its StopBudget", func(tr *Tree) {
			p := tr.Programs["registrar"]
			p.StopWait = 2 * time.Second
			tr.Programs["registrar"] = p
		}, "program registrar (" + filepath.Join(ProgramsDir, "registrar.conf")},
		{"grpc_server's shutdown timeout longer than its stopwaitsecs", func(tr *Tree) {
			p := tr.Programs["grpc-server"]
			p.Command = strings.Replace(p.Command, "-shutdown-timeout=10s", "-shutdown-timeout=20s", 1)
			tr.Programs["grpc-server"] = p
		}, "is less than 24s (-drain 3s + -shutdown-timeout 20s + 1s to exit)"},
		{"grpc_server's drain flag gone", func(tr *Tree) {
			p := tr.Programs["grpc-server"]
			p.Command = strings.Replace(p.Command, "-drain=3s", "", 1)
			tr.Programs["grpc-server"] = p
		}, "does not set -drain=DURATION"},
		{"nginx without killasgroup", func(tr *Tree) {
			p := tr.Programs["nginx"]
			p.KillAsGroup = false
			tr.Programs["nginx"] = p
		}, "killasgroup is not true"},
		{"run-nginx.sh's drain longer than nginx's stopwaitsecs", func(tr *Tree) {
			tr.NginxDrain = 20 * time.Second
		}, "is less than 23s (run-nginx.sh stop_drain_secs 20s + stop_fast_secs 2s + 1s)"},
		{"the Consul agent's stopwaitsecs below twice its leave", func(tr *Tree) {
			p := tr.Programs["consul-agent"]
			p.StopWait = 3 * time.Second
			tr.Programs["consul-agent"] = p
		}, "twice the measured leave"},
		{"no stop signal (supervisord's immediate SIGKILL)", func(tr *Tree) {
			p := tr.Programs["registrar"]
			p.StopSignals = nil
			tr.Programs["registrar"] = p
		}, `stopsignal="": accepted is exactly one signal`},
		{"consul-template stopped with TERM, which it ignores", func(tr *Tree) {
			p := tr.Programs["consul-template"]
			p.StopSignals = []string{"TERM"}
			tr.Programs["consul-template"] = p
		}, "accepted is INT"},
		{"two programs of an image with the same priority", func(tr *Tree) {
			p := tr.Programs["registrar"]
			p.Priority = tr.Programs["grpc-server"].Priority
			tr.Programs["registrar"] = p
		}, "service hello_server: " + filepath.Join(ProgramsDir, "registrar.conf") + ": program registrar: priority=30 is invalid: accepted is a whole number that no other program the container runs has (the highest stops first); program grpc-server (" + filepath.Join(ProgramsDir, "grpc-server.conf") + ") has 30 too"},
		{"an engine with the priority of a shared program", func(tr *Tree) {
			p := tr.Programs["nginx"]
			p.Priority = tr.Programs["consul-template"].Priority
			tr.Programs["nginx"] = p
		}, "service load-balancer (LB_ENGINE=nginx): " + filepath.Join(EnginesDir, "nginx", EngineProgram) + ": program nginx: priority=40 is invalid"},
		{"a program without a priority", func(tr *Tree) {
			p := tr.Programs["consul-template"]
			p.HasPriority = false
			tr.Programs["consul-template"] = p
		}, "service load-balancer (LB_ENGINE=haproxy): " + filepath.Join(ProgramsDir, "consul-template.conf") + ": program consul-template: priority is not set: accepted is a whole number"},
		{"the bootstrap job without Docker's init", func(tr *Tree) {
			s := tr.Services["consul-acl-bootstrap"]
			s.Init = false
			tr.Services["consul-acl-bootstrap"] = s
		}, "service consul-acl-bootstrap: init is not true"},
		{"an entrypoint with no known budget", func(tr *Tree) {
			s := tr.Services["consul-server-2"]
			s.Entrypoint = []string{"/usr/local/bin/consul", "agent"}
			tr.Services["consul-server-2"] = s
		}, "service consul-server-2: no stop budget is known"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tree := loadRepository(t)
			c.break_(tree)
			_, err := Check(tree)
			if err == nil {
				t.Fatalf("expected an error containing %q, received none", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("expected an error containing %q, received:\n%v", c.want, err)
			}
		})
	}
}

// Load refuses files that leave a budget unwritten.
func TestLoadRejectsUnwrittenBudgets(t *testing.T) {
	root := testenv.RepoRoot(t)
	for _, c := range []struct {
		name, file, old, new, want string
	}{
		{"no stop_grace_period", ComposeFile, "  stop_grace_period: 10s\n", "", "services.consul-server-1.stop_grace_period is not set"},
		{"a stop_grace_period that is not a duration", ComposeFile, "stop_grace_period: 10s", "stop_grace_period: ten", `stop_grace_period="ten" is invalid`},
		{"a stopwaitsecs that is not seconds", filepath.Join(ProgramsDir, "registrar.conf"), "stopwaitsecs=3\n", "stopwaitsecs=3s\n", `program registrar: stopwaitsecs="3s" is invalid`},
		{"a priority that is not a number", filepath.Join(ProgramsDir, "registrar.conf"), "priority=50\n", "priority=first\n", `program registrar: priority="first" is invalid: accepted is a whole number`},
		{"an image holding a program elsewhere than the repository", "build/dockerfiles/Dockerfile.grpc",
			"/etc/supervisord/programs/\n", "/etc/lb/grpc/supervisord.conf\n",
			`service hello_server: build/dockerfiles/Dockerfile and build/dockerfiles/Dockerfile.grpc: the image's program grpc-server is build/config/supervisord/programs/grpc-server.conf (engine "grpc"), the repository's "build/config/supervisord/programs/grpc-server.conf" (engine "")`},
		{"a killasgroup that is not a bool", filepath.Join(EnginesDir, "nginx", EngineProgram), "killasgroup=true", "killasgroup=yes", `program nginx: killasgroup="yes" is invalid`},
		{"a program in two files", filepath.Join(EnginesDir, "haproxy", EngineProgram), "[program:haproxy]", "[program:nginx]", "program nginx is defined twice"},
		{"a drain that is not seconds", RunNginxScript, "stop_drain_secs=8", "stop_drain_secs=8s", `stop_drain_secs="8s" is invalid`},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			copyFile(t, root, dir, ComposeFile)
			copyFile(t, root, dir, ComposeOverride)
			copyFile(t, root, dir, RunNginxScript)
			copyFile(t, root, dir, RunServerScript)
			copyFile(t, root, dir, "build/config/supervisord/supervisord.conf")
			for _, f := range []string{"Dockerfile", "Dockerfile.grpc", "Dockerfile.echo", "Dockerfile.lb"} {
				copyFile(t, root, dir, filepath.Join("build", "dockerfiles", f))
			}
			confs, _ := filepath.Glob(filepath.Join(root, ProgramsDir, "*.conf"))
			engineConfs, _ := filepath.Glob(filepath.Join(root, EnginesDir, "*", EngineProgram))
			for _, conf := range append(confs, engineConfs...) {
				rel, err := filepath.Rel(root, conf)
				if err != nil {
					t.Fatal(err)
				}
				copyFile(t, root, dir, rel)
			}
			if _, err := Load(dir); err != nil {
				t.Fatalf("the unchanged copy does not load: %v", err)
			}
			path := filepath.Join(dir, c.file)
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(raw), c.old) {
				t.Fatalf("%s no longer contains %q: update this test", c.file, c.old)
			}
			if err := os.WriteFile(path, []byte(strings.Replace(string(raw), c.old, c.new, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = Load(dir)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("expected an error containing %q, received %v", c.want, err)
			}
		})
	}
}

func copyFile(t *testing.T, fromRoot, toRoot, rel string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(fromRoot, rel))
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(toRoot, rel)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}
