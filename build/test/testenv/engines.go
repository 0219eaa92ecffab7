package testenv

import (
	"path/filepath"
	"runtime"
	"testing"
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
