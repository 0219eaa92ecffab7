package main

import (
	"bytes"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/grpc-lb/nginx-consul/build/supervisorconf"
	"github.com/grpc-lb/nginx-consul/build/test/stopbudget"
	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// imageLayout is the image's /etc/supervisord, made in a temporary folder
// from the repository's files by the COPY lines of its Dockerfiles (the
// base's, then the image's) whose destination is under /etc/supervisord/.
func imageLayout(t *testing.T, dockerfiles ...string) supervisorconf.Layout {
	t.Helper()
	layout, _, err := stopbudget.WriteImageSupervisord(testenv.RepoRoot(t), t.TempDir(), dockerfiles...)
	if err != nil {
		t.Fatal(err)
	}
	return layout
}

var (
	helloImage = []string{stopbudget.BaseDockerfile, "build/dockerfiles/Dockerfile.grpc"}
	lbImage    = []string{stopbudget.BaseDockerfile, "build/dockerfiles/Dockerfile.lb"}
)

func envOf(vars map[string]string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		v, ok := vars[key]
		return v, ok
	}
}

// The images' own settings: each image's stop order, by the priorities of
// its program files, with each engine.
func TestImagesSettings(t *testing.T) {
	for _, c := range []struct {
		name       string
		dockerfile []string
		env        map[string]string
		want, log  string
	}{
		{"hello-server", helloImage, nil, "registrar grpc-server consul-agent", ""},
		{"load-balancer with nginx", lbImage, map[string]string{"LB_ENGINE": "nginx"},
			"registrar consul-template nginx lb-reflection consul-agent", "entrypoint: LB_ENGINE=nginx\n"},
		{"load-balancer with haproxy", lbImage, map[string]string{"LB_ENGINE": "haproxy"},
			"registrar consul-template haproxy lb-reflection consul-agent", "entrypoint: LB_ENGINE=haproxy\n"},
		{"base", []string{stopbudget.BaseDockerfile}, nil, "registrar consul-agent", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			stop, err := settings(envOf(c.env), imageLayout(t, c.dockerfile...), log.New(&logs, logPrefix, 0))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, p := range stop {
				got = append(got, p.Name)
				if !p.HasStopWait || p.StopWait <= 0 {
					t.Errorf("program %s: no stopwaitsecs in %s", p.Name, p.File)
				}
			}
			if strings.Join(got, " ") != c.want {
				t.Errorf("expected the stop order %q, received %q", c.want, strings.Join(got, " "))
			}
			if logs.String() != c.log {
				t.Errorf("expected the log %q, received %q", c.log, logs.String())
			}
		})
	}
}

// setPriority rewrites the priority line of a program file of the layout
// (a path under /etc/supervisord/) to line, or deletes it when line is "",
// as the end-to-end scenario RC does in the image with sed.
func setPriority(t *testing.T, layout supervisorconf.Layout, file, line string) string {
	t.Helper()
	// file is relative to the image's /etc: the layout's folders are
	// /etc/supervisord/programs and /etc/lb below the same root.
	path := filepath.Join(filepath.Dir(filepath.Dir(layout.ProgramsDir)), file)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	priority := regexp.MustCompile(`(?m)^priority=.*\n`)
	if !priority.Match(raw) {
		t.Fatalf("%s has no priority line", path)
	}
	if line != "" {
		line += "\n"
	}
	if err := os.WriteFile(path, priority.ReplaceAll(raw, []byte(line)), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// The bad settings and program files the end-to-end scenario RC starts the
// images with (build/test/e2e/entrypoint_scenario_test.go): each is refused
// with the file or setting, its value and what is accepted.
func TestBadSettings(t *testing.T) {
	const accepted = "accepted is a whole number that no other program the container runs has (the highest stops first)"
	for _, c := range []struct {
		dockerfile       []string
		env              map[string]string
		file, line, want string // file's priority line becomes line; want names the files as {file} and {other}
	}{
		{helloImage, nil, "supervisord/programs/registrar.conf", "",
			"{file}: program registrar: priority is not set: " + accepted},
		{helloImage, nil, "supervisord/programs/registrar.conf", "priority=first",
			`{file}: program registrar: priority="first" is invalid: accepted is a whole number (lower starts first and stops last)`},
		{helloImage, nil, "supervisord/programs/registrar.conf", "priority=30",
			"{file}: program registrar: priority=30 is invalid: " + accepted + "; program grpc-server ({programs}/grpc-server.conf) has 30 too"},
		{lbImage, map[string]string{"LB_ENGINE": "nginx"}, "lb/nginx/supervisord.conf", "priority=40",
			"{file}: program nginx: priority=40 is invalid: " + accepted + "; program consul-template ({programs}/consul-template.conf) has 40 too"},
		{lbImage, map[string]string{"LB_ENGINE": "haproxy"}, "lb/haproxy/supervisord.conf", "priority=10",
			"{file}: program haproxy: priority=10 is invalid: " + accepted + "; program consul-agent ({programs}/consul-agent.conf) has 10 too"},
		{lbImage, map[string]string{"LB_ENGINE": "envoy"}, "", "",
			`LB_ENGINE="envoy" is invalid: accepted is one of this image's load-balancer engines: haproxy nginx`},
		{lbImage, map[string]string{"LB_ENGINE": "nginx haproxy"}, "", "",
			`LB_ENGINE="nginx haproxy" is invalid: accepted is one of this image's load-balancer engines: haproxy nginx`},
		{lbImage, map[string]string{"LB_ENGINE": ""}, "", "",
			`LB_ENGINE="" is invalid: accepted is one of this image's load-balancer engines: haproxy nginx`},
		{lbImage, nil, "", "",
			`LB_ENGINE="" is invalid: accepted is one of this image's load-balancer engines: haproxy nginx`},
	} {
		layout := imageLayout(t, c.dockerfile...)
		want := strings.ReplaceAll(c.want, "{programs}", layout.ProgramsDir)
		if c.file != "" {
			want = strings.ReplaceAll(want, "{file}", setPriority(t, layout, c.file, c.line))
		}
		_, err := settings(envOf(c.env), layout, log.New(&bytes.Buffer{}, "", 0))
		if err == nil || err.Error() != want {
			t.Errorf("%s with %v and %s's %q: expected the error %q, received %v", c.dockerfile[1], c.env, c.file, c.line, want, err)
		}
	}
	// The other engine's priority does not count once LB_ENGINE is right.
	layout := imageLayout(t, lbImage...)
	setPriority(t, layout, "lb/haproxy/supervisord.conf", "")
	if _, err := settings(envOf(map[string]string{"LB_ENGINE": "nginx"}), layout, log.New(&bytes.Buffer{}, "", 0)); err != nil {
		t.Errorf("haproxy's program without a priority while nginx runs: %v", err)
	}
}

// A broken program file stops the container before anything starts, as a
// wrong setting does.
func TestBrokenProgramFile(t *testing.T) {
	layout := imageLayout(t, helloImage...)
	path := filepath.Join(layout.ProgramsDir, "grpc-server.conf")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, bytes.Replace(raw, []byte("stopwaitsecs=15"), []byte("stopwaitsecs=15s"), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = settings(envOf(nil), layout, log.New(&bytes.Buffer{}, "", 0))
	want := path + `: program grpc-server: stopwaitsecs="15s" is invalid: accepted is a whole number of seconds, at least 1`
	if err == nil || err.Error() != want {
		t.Errorf("expected %q, received %v", want, err)
	}
}
