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
// file and its last good copy.
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
		})
	}
}
