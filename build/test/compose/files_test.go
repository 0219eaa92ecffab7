package compose

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeServices reads one compose file's services, each as a map.
func composeServices(t *testing.T, name string) map[string]map[string]any {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot(), name))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Version  string                    `yaml:"version"`
		Services map[string]map[string]any `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if f.Version != "" {
		t.Errorf(`%s: version %q, expected none: Compose v2 warns "version is obsolete" on every command, and docker stack deploy needs no version`, name, f.Version)
	}
	return f.Services
}

// docker-compose.yaml is what Swarm deploys: `docker stack config`, the
// Docker CLI's own loader for `docker stack deploy`, accepts it. What only
// Compose understands is in the override: no service in the base builds an
// image or orders its start.
func TestBaseFileIsValidForDockerStackDeploy(t *testing.T) {
	docker, err := exec.LookPath("docker")
	if err != nil {
		t.Fatal("docker is missing: the Docker CLI is a Requirement of the README (it checks the file with `docker stack config`)")
	}
	cmd := exec.Command(docker, "stack", "config", "-c", "docker-compose.yaml")
	cmd.Dir = repoRoot()
	// Interpolation only: the defaults of ${...} are what a user deploys.
	cmd.Env = append(os.Environ(), "TAG=", "LB_ENGINE=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("docker stack config -c docker-compose.yaml: %v\n%s", err, out)
	}
	for name, svc := range composeServices(t, "docker-compose.yaml") {
		for _, key := range []string{"build", "depends_on"} {
			if _, ok := svc[key]; ok {
				t.Errorf("docker-compose.yaml: services.%s.%s belongs in docker-compose.override.yaml (Swarm ignores or refuses it)", name, key)
			}
		}
	}
}

// The override gives Compose what the base leaves out: the two images the
// project builds, and the start order behind the ACL tokens. Compose merges
// it by default, so `docker compose up` runs the deployment as before.
func TestOverrideBuildsAndOrdersForCompose(t *testing.T) {
	base := composeServices(t, "docker-compose.yaml")
	override := composeServices(t, "docker-compose.override.yaml")
	for name := range override {
		if _, ok := base[name]; !ok {
			t.Errorf("docker-compose.override.yaml: services.%s is not in docker-compose.yaml", name)
		}
	}
	for name, dockerfile := range map[string]string{
		"hello_server":  "build/dockerfiles/Dockerfile.grpc",
		"load-balancer": "build/dockerfiles/Dockerfile.lb",
	} {
		build, _ := override[name]["build"].(map[string]any)
		if build["dockerfile"] != dockerfile {
			t.Errorf("docker-compose.override.yaml: services.%s.build.dockerfile is %v, expected %s", name, build["dockerfile"], dockerfile)
		}
		deps, _ := override[name]["depends_on"].(map[string]any)
		bootstrap, _ := deps["consul-acl-bootstrap"].(map[string]any)
		if bootstrap["condition"] != "service_completed_successfully" {
			t.Errorf("docker-compose.override.yaml: services.%s.depends_on.consul-acl-bootstrap.condition is %v, expected service_completed_successfully (its tokens exist only then)", name, bootstrap["condition"])
		}
		for _, server := range []string{"consul-server-1", "consul-server-2", "consul-server-3"} {
			dep, _ := deps[server].(map[string]any)
			if dep["condition"] != "service_healthy" {
				t.Errorf("docker-compose.override.yaml: services.%s.depends_on.%s.condition is %v, expected service_healthy", name, server, dep["condition"])
			}
		}
	}
	if deps, _ := override["consul-acl-bootstrap"]["depends_on"].(map[string]any); len(deps) != 3 {
		t.Errorf("docker-compose.override.yaml: consul-acl-bootstrap waits for %v, expected the three Consul servers", deps)
	}
}
