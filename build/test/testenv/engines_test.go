package testenv

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/grpc-lb/nginx-consul/build/supervisorconf"
)

// Each engine's folder follows the layout Dockerfile.lb relies on without
// naming the engines: the image holds the folder as /etc/lb/<engine>/, the
// initial render is the folder's one load-balancer.* file besides the
// template, and consul-template renders the template from the folder into
// /tmp/<engine>/ under the initial render's name, where the image put that
// file and its last good copy. Its packages file names its OS packages.
func TestEngineFoldersFollowTheImageLayout(t *testing.T) {
	root := RepoRoot(t)
	engines, err := supervisorconf.RepoEngines(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(engines) == 0 {
		t.Fatalf("no engine in %s", EnginesDir)
	}
	hclValue := func(hcl, key string) string {
		m := regexp.MustCompile(`(?m)^\s*` + key + `\s*=\s*"([^"]*)"`).FindStringSubmatch(hcl)
		if m == nil {
			return ""
		}
		return m[1]
	}
	for _, engine := range engines {
		t.Run(engine, func(t *testing.T) {
			folder := filepath.Join(root, filepath.FromSlash(EnginesDir), engine)
			matches, err := filepath.Glob(filepath.Join(folder, "load-balancer.*"))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range matches {
				names = append(names, filepath.Base(m))
			}
			renders := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return n == "load-balancer.tpl" })
			if !slices.Contains(names, "load-balancer.tpl") || len(renders) != 1 {
				t.Fatalf("%s: expected load-balancer.tpl and one initial render (load-balancer.<ext>), found %v", folder, names)
			}
			raw, err := os.ReadFile(filepath.Join(folder, "consul-template.hcl"))
			if err != nil {
				t.Fatal(err)
			}
			hcl := string(raw)
			for key, want := range map[string]string{
				"source":      "/etc/lb/" + engine + "/load-balancer.tpl",
				"destination": "/tmp/" + engine + "/" + renders[0],
			} {
				if got := hclValue(hcl, key); got != want {
					t.Errorf("%s/consul-template.hcl: %s is %q, expected %q", folder, key, got, want)
				}
			}
			if command := hclValue(hcl, "command"); !strings.HasPrefix(command, "/") {
				t.Errorf("%s/consul-template.hcl: command %q is no absolute path", folder, command)
			}
			checkPackages(t, filepath.Join(folder, "packages"))
		})
	}
}

// checkPackages holds an engine's packages file to the format Dockerfile.lb
// and engine-root.sh read: "alpine:" and "debian:" lines naming packages,
// "remove:" lines naming absolute paths that are none of the image's own.
func checkPackages(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for i, line := range strings.Split(string(raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, values, ok := strings.Cut(line, ":")
		if !ok || !slices.Contains([]string{"alpine", "debian", "remove"}, key) || len(strings.Fields(values)) == 0 {
			t.Errorf("%s:%d: %q is invalid: accepted is \"alpine: PACKAGE ...\", \"debian: PACKAGE ...\", \"remove: PATH ...\" or a # comment", path, i+1, line)
			continue
		}
		got[key] = append(got[key], strings.Fields(values)...)
	}
	for _, distro := range []string{"alpine", "debian"} {
		if len(got[distro]) == 0 {
			t.Errorf("%s: no %s packages", path, distro)
		}
	}
	own := []string{"/etc/lb", "/etc/supervisord", "/etc/consul", "/usr/local", "/tmp", "/var/lib/consul"}
	for _, p := range got["remove"] {
		clean := filepath.Clean(p)
		if !filepath.IsAbs(p) || clean == "/" || slices.ContainsFunc(own, func(o string) bool {
			return clean == o || strings.HasPrefix(clean, o+"/") || strings.HasPrefix(o, clean+"/")
		}) {
			t.Errorf("%s: remove: %q is invalid: accepted is an absolute path that holds none of the image's own files (%v)", path, p, own)
		}
	}
}
