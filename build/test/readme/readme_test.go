package readme

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// root is the repository's root, three folders above this file.
func root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

func repoFile(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root(), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// The Go version the README asks for is the one go.mod needs: an older Go
// would have to download a newer toolchain, or fail.
func TestGoVersionMatchesGoMod(t *testing.T) {
	mod := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(repoFile(t, "go.mod"))
	if mod == nil {
		t.Fatal("go.mod has no go line")
	}
	readme := regexp.MustCompile(`Go (\d+\.\d+(?:\.\d+)?) or newer`).FindStringSubmatch(repoFile(t, "README.md"))
	if readme == nil {
		t.Fatal(`README.md says no "Go X or newer"`)
	}
	if readme[1] != mod[1] {
		t.Fatalf("Go version: go.mod needs %s, README.md asks for %s", mod[1], readme[1])
	}
}

// The README's list of make targets is what `make help` prints.
func TestMakeTargetsMatchMakeHelp(t *testing.T) {
	cmd := exec.Command("make", "--no-print-directory", "help")
	cmd.Dir = root()
	help, err := cmd.Output()
	if err != nil {
		t.Fatalf("make help: %v", err)
	}
	readme := repoFile(t, "README.md")
	_, after, ok := strings.Cut(readme, "## Make targets\n\n```\n")
	if !ok {
		t.Fatal("README.md has no ## Make targets block")
	}
	block, _, _ := strings.Cut(after, "```")
	if block != string(help) {
		t.Fatalf("README.md's make targets differ from `make help`:\n--- README\n%s--- make help\n%s", block, help)
	}
}

// The README's quiescence ("still for 500 ms (at most 1 s)") is
// consul-template's wait block: the time a new replica waits to be routed,
// and what decides how many reloads a scale event costs.
func TestQuiescenceMatchesConsulTemplate(t *testing.T) {
	hcl := regexp.MustCompile(`(?s)\nwait \{\s*min = "(\d+)ms"\s*max = "(\d+)s"\s*\}`).FindStringSubmatch(repoFile(t, "build/config/consul-template/consul-template.hcl"))
	if hcl == nil {
		t.Fatal(`consul-template.hcl has no wait { min = "Nms" max = "Ns" } block`)
	}
	readme := regexp.MustCompile(`has been still for (\d+) ms \(at most (\d+) s\)`).FindStringSubmatch(repoFile(t, "README.md"))
	if readme == nil {
		t.Fatal(`README.md says no "has been still for N ms (at most N s)"`)
	}
	if readme[1] != hcl[1] || readme[2] != hcl[2] {
		t.Fatalf("consul-template's wait: consul-template.hcl has min %s ms, max %s s; README.md says %s ms, at most %s s", hcl[1], hcl[2], readme[1], readme[2])
	}
}
