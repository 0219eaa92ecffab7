package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/grpc-lb/nginx-consul/build/routes"
)

// EnginesDir is the folder, relative to the repository, with one folder per
// load-balancer engine (LB_ENGINE): each holds every file of its engine.
const EnginesDir = "build/config/lb"

// EngineFile is the path of one file of an engine's folder, such as
// EngineFile(t, "nginx", "nginx.conf").
func EngineFile(t testing.TB, engine, name string) string {
	t.Helper()
	return filepath.Join(RepoRoot(t), filepath.FromSlash(EnginesDir), engine, name)
}

// NginxBin and HAProxyBin run the nginx and HAProxy that the local images
// ship (Debian's release in build/scripts/debian.env), whatever release the
// host has: wrappers that build/test/scripts/engine-root.sh writes into bin/
// (make proxy-packages, which make test runs).
func NginxBin() string   { return engineBin("nginx") }
func HAProxyBin() string { return engineBin("haproxy") }

func engineBin(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "bin", name)
}

// Rewrite is one change a host test makes to an engine's file: every Old
// becomes New.
type Rewrite struct{ Old, New string }

// RewriteEngineFile returns the engine's file name (EngineFile) with the
// rewrites applied in order, each to the result of the ones before. Each
// Old must be there: a changed file fails the test, naming fn (what to
// update), instead of leaving a container path in place.
func RewriteEngineFile(t testing.TB, engine, name, fn string, rewrites ...Rewrite) string {
	t.Helper()
	raw, err := os.ReadFile(EngineFile(t, engine, name))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for _, r := range rewrites {
		if !strings.Contains(text, r.Old) {
			t.Fatalf("%s/%s/%s no longer contains %q: update %s", EnginesDir, engine, name, r.Old, fn)
		}
		text = strings.ReplaceAll(text, r.Old, r.New)
	}
	return text
}

// DeclarationFile is the declaration of routes, relative to the repository:
// which Consul service serves which gRPC services. The images hold it as
// /etc/grpc-lb/services.conf.
const DeclarationFile = "build/config/services.conf"

// Declaration is the path of the repository's DeclarationFile.
func Declaration(t testing.TB) string {
	t.Helper()
	return filepath.Join(RepoRoot(t), filepath.FromSlash(DeclarationFile))
}

// DeclaredServices are the Consul services the repository's declaration
// names, in its order.
func DeclaredServices(t testing.TB) []string {
	t.Helper()
	declared, err := routes.Load(Declaration(t))
	if err != nil {
		t.Fatal(err)
	}
	return routes.ConsulServices(declared)
}

// HelloServerDeclaration writes the repository's declaration of hello_server
// alone into a test file and returns its path: for the tests of one
// service's instances, which the other declared services would only add
// empty upstreams to.
func HelloServerDeclaration(t testing.TB) string {
	t.Helper()
	declared, err := routes.Load(Declaration(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range declared {
		if r.ConsulService == "hello_server" {
			path := filepath.Join(t.TempDir(), "services.conf")
			if err := os.WriteFile(path, []byte(r.ConsulService+" "+strings.Join(r.GRPCServices, " ")+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			return path
		}
	}
	t.Fatalf("%s declares no hello_server", DeclarationFile)
	return ""
}

// The lines of every engine's load-balancer.tpl that EngineTemplate changes.
const (
	refusedInContainer     = "{{- $refused := `^(0|127)\\.` }}"
	refusedOnHost          = "{{- $refused := `^0\\.` }}"
	declarationInContainer = `{{- $declaration := "/etc/grpc-lb/services.conf" }}`
)

// EngineTemplate writes the engine's load-balancer.tpl for a test on this
// host and returns its path. It reads its routes from declaration (a file in
// services.conf's format) instead of the image's path; with host, it also
// routes 127.x.x.x, which in the container is the load balancer itself and
// on the host is where the tests' replicas listen. Every other check stays.
func EngineTemplate(t testing.TB, engine, declaration string, host bool) string {
	t.Helper()
	rewrites := []Rewrite{{declarationInContainer, "{{- $declaration := " + strconv.Quote(declaration) + " }}"}}
	if host {
		rewrites = append(rewrites, Rewrite{refusedInContainer, refusedOnHost})
	}
	text := RewriteEngineFile(t, engine, "load-balancer.tpl", "EngineTemplate", rewrites...)
	path := filepath.Join(t.TempDir(), "load-balancer.tpl")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
