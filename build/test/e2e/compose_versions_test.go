//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/compose"
)

// composeVersions are the Compose versions the README steps run under, from
// E2E_COMPOSE: "v1 v2" when unset (CI: both), or one of them where only that
// one is installed. Anything else fails the suite, naming the setting.
func composeVersions(t *testing.T) []string {
	t.Helper()
	raw, set := os.LookupEnv("E2E_COMPOSE")
	if !set {
		return []string{"v1", "v2"}
	}
	versions, err := parseComposeVersions(raw)
	if err != nil {
		t.Fatal(err)
	}
	return versions
}

func parseComposeVersions(raw string) ([]string, error) {
	versions := strings.Fields(raw)
	bad := len(versions) == 0
	for i, v := range versions {
		if (v != "v1" && v != "v2") || slices.Contains(versions[:i], v) {
			bad = true
		}
	}
	if bad {
		return nil, fmt.Errorf(`E2E_COMPOSE=%q is invalid: accepted are "v1 v2" (the default: the README steps under both), "v1" or "v2"`, raw)
	}
	return versions, nil
}

// newestComposeVersion is the version the resilience scenarios run under:
// v2, what most users have, unless E2E_COMPOSE leaves it out.
func newestComposeVersion(versions []string) string {
	return slices.Max(versions)
}

// composeUnderTest is the Compose of one version, chosen through COMPOSE the
// way a user chooses it (COMPOSE="docker-compose" make up), so make, the
// scripts and the suite all run it:
//   - v1: docker-compose as installed (Debian's docker-compose 1.29.2 in CI).
//   - v2: the pinned build, bin/docker-compose. `make compose-plugin` first
//     installs it as the Docker CLI plugin into a scratch DOCKER_CONFIG and
//     `docker compose version` must report the pinned version there, so the
//     README's `docker compose` path is proven. The deployment then runs it
//     standalone: the same binary and code, with the user's own Docker
//     configuration (context, credentials, buildx), which a scratch
//     DOCKER_CONFIG would replace and installing into ~/.docker would
//     overwrite the user's own plugin.
func composeUnderTest(t *testing.T, version string) compose.Command {
	t.Helper()
	root := repoRoot()
	var env []string
	switch version {
	case "v1":
		env = []string{"COMPOSE=docker-compose"}
	case "v2":
		installPluginInScratchConfig(t, root)
		env = []string{"COMPOSE=" + filepath.Join(root, "bin", "docker-compose")}
	default:
		t.Fatalf("compose version %q: accepted are v1 and v2", version)
	}
	c, err := compose.Find(root, env...)
	if err != nil {
		t.Fatalf("Compose %s: %v\n(E2E_COMPOSE chooses the versions the suite runs: \"v1 v2\", \"v1\" or \"v2\")", version, err)
	}
	if err := checkComposeVersion(version, c.Version, pinnedComposeVersion(t, root)); err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	fmt.Printf("compose %s: %s, version %s\n", version, c, c.Version)
	return c
}

// checkComposeVersion fails when got is not the Compose that version names:
// any 1.x for v1, exactly the pinned build for v2.
func checkComposeVersion(version, got, pinned string) error {
	switch {
	case version == "v1" && !strings.HasPrefix(got, "1."):
		return fmt.Errorf("reports version %q: expected Compose v1 (1.x)", got)
	case version == "v2" && got != pinned:
		return fmt.Errorf("reports version %q: expected the pinned Compose v2 %s (build/tools/docker-compose/go.mod)", got, pinned)
	}
	return nil
}

// pinnedComposeVersion is the Compose v2 version the wrapper module pins.
func pinnedComposeVersion(t *testing.T, root string) string {
	t.Helper()
	mod, err := os.ReadFile(filepath.Join(root, "build", "tools", "docker-compose", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`github\.com/docker/compose/v2 v(\S+)`).FindSubmatch(mod)
	if m == nil {
		t.Fatal("build/tools/docker-compose/go.mod requires no github.com/docker/compose/v2")
	}
	return string(m[1])
}

// installPluginInScratchConfig runs `make compose-plugin` (which builds
// bin/docker-compose if needed) with DOCKER_CONFIG in a temporary directory,
// and checks that `docker compose` then runs the pinned build.
func installPluginInScratchConfig(t *testing.T, root string) {
	t.Helper()
	scratch := "DOCKER_CONFIG=" + t.TempDir()
	fmt.Printf("$ %s make compose-plugin\n", scratch)
	mk := exec.Command("make", "compose-plugin")
	mk.Dir, mk.Env = root, append(os.Environ(), scratch)
	if out, err := runWithin(mk, 20*time.Minute, os.Stdout); err != nil {
		t.Fatalf("make compose-plugin: %v\n%s", err, out)
	}
	v := exec.Command("docker", "compose", "version", "--short")
	v.Dir, v.Env = root, append(os.Environ(), scratch)
	out, err := runWithin(v, time.Minute, nil)
	if err != nil {
		t.Fatalf("docker compose version --short with the plugin in %s: %v\n%s", scratch, err, out)
	}
	if got, want := strings.TrimPrefix(strings.TrimSpace(out), "v"), pinnedComposeVersion(t, root); got != want {
		t.Fatalf("docker compose version --short with the plugin in %s:\n  expected %s\n  received %q", scratch, want, got)
	}
}

// The suite's Compose checks, against wrong input: these run without Docker.
func TestComposeChecksCatchWrongInput(t *testing.T) {
	for _, raw := range []string{"", " ", "v3", "v1 v1", "v2,v1", "docker-compose"} {
		if v, err := parseComposeVersions(raw); err == nil {
			t.Errorf("E2E_COMPOSE=%q: expected an error, received %v", raw, v)
		} else if !strings.Contains(err.Error(), "E2E_COMPOSE=") || !strings.Contains(err.Error(), "accepted") {
			t.Errorf("E2E_COMPOSE=%q: the error must name the setting and what is accepted: %v", raw, err)
		}
	}
	for raw, want := range map[string][]string{"v1 v2": {"v1", "v2"}, "v2": {"v2"}, " v1 ": {"v1"}, "v2 v1": {"v2", "v1"}} {
		if got, err := parseComposeVersions(raw); err != nil || !slices.Equal(got, want) {
			t.Errorf("E2E_COMPOSE=%q: expected %v, received %v (err %v)", raw, want, got, err)
		}
	}
	if got := newestComposeVersion([]string{"v2", "v1"}); got != "v2" {
		t.Errorf("resilience with v1 and v2: expected v2, received %s", got)
	}
	if got := newestComposeVersion([]string{"v1"}); got != "v1" {
		t.Errorf("resilience with only v1: expected v1, received %s", got)
	}
	for _, c := range []struct{ version, got string }{
		{"v1", "2.28.1"}, {"v2", "1.29.2"}, {"v2", "2.29.0"}, {"v2", "dev"}, {"v1", ""},
	} {
		if err := checkComposeVersion(c.version, c.got, "2.28.1"); err == nil {
			t.Errorf("%s reporting %q: expected an error", c.version, c.got)
		}
	}
	for _, c := range []struct{ version, got string }{{"v1", "1.29.2"}, {"v2", "2.28.1"}} {
		if err := checkComposeVersion(c.version, c.got, "2.28.1"); err != nil {
			t.Errorf("%s reporting %q: %v", c.version, c.got, err)
		}
	}
}
