package supervisorconf

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// The repository's program files, read as supervisord reads them.
func TestRepositoryPrograms(t *testing.T) {
	root := testenv.RepoRoot(t)
	layout := Repository(root)
	engines, err := layout.Engines()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(engines, []string{"haproxy", "nginx"}) {
		t.Errorf("engines of %s: expected [haproxy nginx] (its README.md is no engine), received %v", RepoEnginesDir, engines)
	}
	if engines, err := RepoEngines(root); err != nil || !slices.Equal(engines, []string{"nginx", "haproxy"}) {
		t.Errorf("RepoEngines: expected [nginx haproxy] (the default first), received %v, %v", engines, err)
	}
	programs, err := layout.Load()
	if err != nil {
		t.Fatal(err)
	}
	type settings struct {
		file, engine, stopSignal string
		stopWait                 time.Duration
		killAsGroup              bool
		priority                 int
	}
	want := map[string]settings{
		"consul-agent":    {RepoProgramsDir + "/consul-agent.conf", "", "TERM", 6 * time.Second, false, 10},
		"consul-template": {RepoProgramsDir + "/consul-template.conf", "", "INT", 3 * time.Second, false, 40},
		"grpc-server":     {RepoProgramsDir + "/grpc-server.conf", "", "TERM", 15 * time.Second, false, 30},
		"echo-server":     {RepoProgramsDir + "/echo-server.conf", "", "TERM", 15 * time.Second, false, 30},
		"registrar":       {RepoProgramsDir + "/registrar.conf", "", "TERM", 3 * time.Second, false, 50},
		"lb-reflection":   {RepoProgramsDir + "/lb-reflection.conf", "", "TERM", time.Second, false, 20},
		"haproxy":         {RepoEnginesDir + "/haproxy/supervisord.conf", "haproxy", "USR1", 11 * time.Second, true, 30},
		"nginx":           {RepoEnginesDir + "/nginx/supervisord.conf", "nginx", "QUIT", 11 * time.Second, true, 30},
	}
	for _, p := range programs {
		w, ok := want[p.Name]
		if !ok {
			t.Errorf("unexpected program %s in %s: add it to this test", p.Name, p.File)
			continue
		}
		delete(want, p.Name)
		got := settings{strings.TrimPrefix(p.File, root+"/"), p.Engine, strings.Join(p.StopSignals, " "), p.StopWait, p.KillAsGroup, p.Priority}
		if got != w || !p.HasStopWait || !p.HasPriority {
			t.Errorf("program %s: expected %+v with stopwaitsecs and priority set, received %+v (stopwaitsecs set: %v, priority set: %v)", p.Name, w, got, p.HasStopWait, p.HasPriority)
		}
	}
	if len(want) > 0 {
		t.Errorf("programs not found: %v", want)
	}
	grpc := programs[slices.IndexFunc(programs, func(p Program) bool { return p.Name == "grpc-server" })]
	if !strings.HasPrefix(grpc.Command, "/usr/local/bin/grpc_server -port=7777 -drain=3s -shutdown-timeout=10s ") {
		t.Errorf("grpc-server's command: received %q", grpc.Command)
	}
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// What supervisord reads, ReadFile reads alike: defaults, inline comments,
// stopasgroup as killasgroup's default, other sections ignored.
func TestReadFileAsSupervisord(t *testing.T) {
	path := writeFile(t, filepath.Join(t.TempDir(), "a.conf"), `
; a comment
[supervisord]
nodaemon=true

[program:defaults]
command=/bin/true

[program:commented]
command = /bin/x -flag=1
stopsignal = QUIT   ; nginx's graceful stop
stopwaitsecs = 7 ; seconds
priority = 30 ; stops after higher ones

[program:negative-priority]
priority=-5

[program:asgroup]
stopasgroup=true

[program:asgroup-not-killed]
stopasgroup=true
killasgroup=false

[program:signals]
stopsignal=INT TERM
killasgroup=1
`)
	programs, err := ReadFile(path, "nginx")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range programs {
		got = append(got, strings.Join([]string{p.Name, p.Engine, p.Command, strings.Join(p.StopSignals, "+"),
			p.StopWait.String(), map[bool]string{true: "set", false: "default"}[p.HasStopWait],
			map[bool]string{true: "killasgroup", false: "-"}[p.KillAsGroup],
			strconv.Itoa(p.Priority), map[bool]string{true: "set", false: "default"}[p.HasPriority]}, "|"))
	}
	want := []string{
		"asgroup|nginx|||10s|default|killasgroup|999|default",
		"asgroup-not-killed|nginx|||10s|default|-|999|default",
		"commented|nginx|/bin/x -flag=1|QUIT|7s|set|-|30|set",
		"defaults|nginx|/bin/true||10s|default|-|999|default",
		"negative-priority|nginx|||10s|default|-|-5|set",
		"signals|nginx||INT+TERM|10s|default|killasgroup|999|default",
	}
	if !slices.Equal(got, want) {
		t.Errorf("expected\n  %s\nreceived\n  %s", strings.Join(want, "\n  "), strings.Join(got, "\n  "))
	}
}

// What supervisord would silently replace with its default is an error
// that names the file, the program, the value and what is accepted.
func TestReadFileRejects(t *testing.T) {
	for _, c := range []struct{ name, content, want string }{
		{"stopwaitsecs not a number", "[program:a]\nstopwaitsecs=10s\n", `program a: stopwaitsecs="10s" is invalid: accepted is a whole number of seconds, at least 1`},
		{"stopwaitsecs zero", "[program:a]\nstopwaitsecs=0\n", `stopwaitsecs="0" is invalid`},
		{"stopwaitsecs negative", "[program:a]\nstopwaitsecs=-3\n", `stopwaitsecs="-3" is invalid`},
		{"killasgroup not a bool", "[program:a]\nkillasgroup=yes\n", `program a: killasgroup="yes" is invalid: accepted is true or false`},
		{"stopasgroup not a bool", "[program:a]\nstopasgroup=on\n", `program a: stopasgroup="on" is invalid: accepted is true or false`},
		{"priority not a number", "[program:a]\npriority=first\n", `program a: priority="first" is invalid: accepted is a whole number (lower starts first and stops last)`},
		{"priority a fraction", "[program:a]\npriority=2.5\n", `program a: priority="2.5" is invalid: accepted is a whole number`},
		{"priority empty", "[program:a]\npriority=\n", `program a: priority="" is invalid: accepted is a whole number`},
		{"a program twice in one file", "[program:a]\nstopwaitsecs=3\n\n[program:b]\n[program:a]\nstopwaitsecs=5\n", `[program:a] is defined twice`},
		{"a program without a name", "[program:]\ncommand=/bin/true\n", `[program:] is invalid: accepted is [program:NAME]`},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, filepath.Join(t.TempDir(), "p.conf"), c.content)
			_, err := ReadFile(path, "")
			if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("expected an error naming %s and containing %q, received %v", path, c.want, err)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	layout := Layout{ProgramsDir: filepath.Join(dir, "programs"), EnginesDir: filepath.Join(dir, "engines"), EngineFiles: "*.conf"}
	if _, err := layout.Load(); err == nil || !strings.Contains(err.Error(), "no program files") {
		t.Errorf("no program files: expected an error, received %v", err)
	}
	writeFile(t, filepath.Join(dir, "programs", "a.conf"), "[program:a]\n")
	writeFile(t, filepath.Join(dir, "programs", "b.conf"), "[program:b]\n")
	writeFile(t, filepath.Join(dir, "programs", "notes.txt"), "[program:not-read]\n")
	programs, err := layout.Load()
	if err != nil {
		t.Fatal(err)
	}
	if engines, _ := layout.Engines(); engines != nil {
		t.Errorf("without %s: expected no engines, received %v", layout.EnginesDir, engines)
	}
	writeFile(t, filepath.Join(dir, "engines", "x", "x.conf"), "[program:x]\n")
	writeFile(t, filepath.Join(dir, "engines", "y", "y.conf"), "[program:y]\n")
	writeFile(t, filepath.Join(dir, "engines", "README"), "not an engine")
	// A folder without a program file is no engine either.
	writeFile(t, filepath.Join(dir, "engines", "w", "notes.txt"), "[program:not-read]\n")
	if engines, _ := layout.Engines(); !slices.Equal(engines, []string{"x", "y"}) {
		t.Errorf("engines: expected [x y], received %v", engines)
	}
	if programs, err = layout.Load(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range programs {
		got = append(got, p.Name+"@"+p.Engine)
	}
	if want := []string{"a@", "b@", "x@x", "y@y"}; !slices.Equal(got, want) {
		t.Errorf("expected %v, received %v", want, got)
	}
	dup := writeFile(t, filepath.Join(dir, "engines", "y", "z.conf"), "[program:a]\n")
	if _, err := layout.Load(); err == nil || !strings.Contains(err.Error(), "program a is defined twice: in "+filepath.Join(dir, "programs", "a.conf")+" and in "+dup) {
		t.Errorf("a program in two files: expected an error naming both, received %v", err)
	}
}

// DefaultEngine is the default the load-balancer image and compose give
// LB_ENGINE.
func TestDefaultEngine(t *testing.T) {
	root := testenv.RepoRoot(t)
	for file, want := range map[string]string{
		"build/dockerfiles/Dockerfile.lb": "\nENV LB_ENGINE=" + DefaultEngine + "\n",
		"docker-compose.yaml":             "LB_ENGINE: ${LB_ENGINE:-" + DefaultEngine + "}\n",
	} {
		raw, err := os.ReadFile(filepath.Join(root, file))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), want) {
			t.Errorf("%s does not hold %q: DefaultEngine (%s) is not its default", file, want, DefaultEngine)
		}
	}
}
