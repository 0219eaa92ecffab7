package main

import (
	"bytes"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/grpc-lb/nginx-consul/build/supervisorconf"
	"github.com/grpc-lb/nginx-consul/build/test/stopbudget"
	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// imageLayout is the image's supervisord layout (supervisorconf.Image),
// made in a temporary folder from the repository's files by the COPY lines
// of its Dockerfiles (the base's, then the image's) whose destination is
// under /etc/: files, and folders (copied with what they hold).
func imageLayout(t *testing.T, dockerfiles ...string) supervisorconf.Layout {
	t.Helper()
	root := testenv.RepoRoot(t)
	image := t.TempDir()
	for _, dockerfile := range dockerfiles {
		raw, err := os.ReadFile(filepath.Join(root, "build", "dockerfiles", dockerfile))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(raw), "\n") {
			args := strings.Fields(line)
			if len(args) < 3 || args[0] != "COPY" || strings.HasPrefix(args[1], "--from=") {
				continue
			}
			args = slices.DeleteFunc(args[1:], func(a string) bool { return strings.HasPrefix(a, "--") })
			dst := args[len(args)-1]
			if !strings.HasPrefix(dst, "/etc/") {
				continue
			}
			for _, src := range args[:len(args)-1] {
				copyInto(t, filepath.Join(root, src), filepath.Join(image, dst), strings.HasSuffix(dst, "/"))
			}
		}
	}
	return supervisorconf.Layout{
		ProgramsDir: filepath.Join(image, supervisorconf.Image.ProgramsDir),
		EnginesDir:  filepath.Join(image, supervisorconf.Image.EnginesDir),
		EngineFiles: supervisorconf.Image.EngineFiles,
	}
}

// copyInto copies from, a file or a folder, as COPY does: a folder's
// contents into dst, a file to dst, or into it when dst is a folder.
func copyInto(t *testing.T, from, dst string, dstIsDir bool) {
	t.Helper()
	info, err := os.Stat(from)
	if err != nil {
		t.Fatal(err)
	}
	if !info.IsDir() {
		if dstIsDir {
			dst = filepath.Join(dst, filepath.Base(from))
		}
		copyFile(t, from, dst)
		return
	}
	err = filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		copyFile(t, path, filepath.Join(dst, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	raw, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

var (
	helloImage = []string{"Dockerfile", "Dockerfile.grpc"}
	lbImage    = []string{"Dockerfile", "Dockerfile.lb"}
)

func envOf(vars map[string]string) func(string) (string, bool) {
	return func(key string) (string, bool) {
		v, ok := vars[key]
		return v, ok
	}
}

// The images' own settings: each image's stop order, with each engine.
func TestImagesSettings(t *testing.T) {
	tree, err := stopbudget.Load(testenv.RepoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	order := func(service string) string { return strings.Join(tree.Services[service].StopOrder, " ") }
	for _, c := range []struct {
		name       string
		dockerfile []string
		env        map[string]string
		want, log  string
	}{
		{"hello-server", helloImage, map[string]string{"SUPERVISORD_STOP_ORDER": order("hello_server")},
			"registrar grpc-server consul-agent", ""},
		{"load-balancer with nginx", lbImage, map[string]string{"LB_ENGINE": "nginx", "SUPERVISORD_STOP_ORDER": order("load-balancer")},
			"registrar consul-template nginx consul-agent", "entrypoint: LB_ENGINE=nginx\n"},
		{"load-balancer with haproxy", lbImage, map[string]string{"LB_ENGINE": "haproxy", "SUPERVISORD_STOP_ORDER": order("load-balancer")},
			"registrar consul-template haproxy consul-agent", "entrypoint: LB_ENGINE=haproxy\n"},
		{"base", []string{"Dockerfile"}, map[string]string{"SUPERVISORD_STOP_ORDER": "registrar consul-agent"},
			"registrar consul-agent", ""},
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

// The settings the end-to-end scenario RC starts the images with
// (build/test/e2e/entrypoint_scenario_test.go): each is refused with the
// setting, its value and what is accepted.
func TestBadSettings(t *testing.T) {
	lbOrder := "registrar consul-template nginx haproxy consul-agent"
	for _, c := range []struct {
		dockerfile []string
		env        map[string]string
		want       string
	}{
		{helloImage, map[string]string{"SUPERVISORD_STOP_ORDER": "registrar consul-agent"},
			`SUPERVISORD_STOP_ORDER="registrar consul-agent" is invalid: accepted is each of this image's supervisord programs (consul-agent grpc-server registrar) exactly once, in the order they must stop`},
		{helloImage, map[string]string{"SUPERVISORD_STOP_ORDER": "registrar grpc_server consul-agent"},
			`SUPERVISORD_STOP_ORDER="registrar grpc_server consul-agent" is invalid: accepted is each of this image's supervisord programs (consul-agent grpc-server registrar) exactly once`},
		{helloImage, map[string]string{"SUPERVISORD_STOP_ORDER": "registrar grpc-server grpc-server consul-agent"},
			`SUPERVISORD_STOP_ORDER="registrar grpc-server grpc-server consul-agent" is invalid: accepted is each of this image's supervisord programs (consul-agent grpc-server registrar)`},
		{helloImage, map[string]string{},
			`SUPERVISORD_STOP_ORDER="" is invalid: accepted is each of this image's supervisord programs (consul-agent grpc-server registrar)`},
		{lbImage, map[string]string{"LB_ENGINE": "nginx", "SUPERVISORD_STOP_ORDER": ""},
			`SUPERVISORD_STOP_ORDER="" is invalid: accepted is each of this image's supervisord programs (consul-agent consul-template nginx registrar)`},
		{lbImage, map[string]string{"LB_ENGINE": "haproxy", "SUPERVISORD_STOP_ORDER": "registrar consul-template consul-agent"},
			`SUPERVISORD_STOP_ORDER="registrar consul-template consul-agent" is invalid: accepted is each of this image's supervisord programs (consul-agent consul-template haproxy registrar)`},
		{lbImage, map[string]string{"LB_ENGINE": "envoy", "SUPERVISORD_STOP_ORDER": lbOrder},
			`LB_ENGINE="envoy" is invalid: accepted is one of this image's load-balancer engines: haproxy nginx`},
		{lbImage, map[string]string{"LB_ENGINE": "nginx haproxy", "SUPERVISORD_STOP_ORDER": lbOrder},
			`LB_ENGINE="nginx haproxy" is invalid: accepted is one of this image's load-balancer engines: haproxy nginx`},
		{lbImage, map[string]string{"LB_ENGINE": "", "SUPERVISORD_STOP_ORDER": lbOrder},
			`LB_ENGINE="" is invalid: accepted is one of this image's load-balancer engines: haproxy nginx`},
		{lbImage, map[string]string{"SUPERVISORD_STOP_ORDER": lbOrder},
			`LB_ENGINE="" is invalid: accepted is one of this image's load-balancer engines: haproxy nginx`},
	} {
		_, err := settings(envOf(c.env), imageLayout(t, c.dockerfile...), log.New(&bytes.Buffer{}, "", 0))
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s with %v: expected the error %q, received %v", c.dockerfile[1], c.env, c.want, err)
		}
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
	_, err = settings(envOf(map[string]string{"SUPERVISORD_STOP_ORDER": "registrar grpc-server consul-agent"}), layout, log.New(&bytes.Buffer{}, "", 0))
	want := path + `: program grpc-server: stopwaitsecs="15s" is invalid: accepted is a whole number of seconds, at least 1`
	if err == nil || err.Error() != want {
		t.Errorf("expected %q, received %v", want, err)
	}
}
