package testenv

import (
	"path/filepath"
	"runtime"
)

// NginxBin and HAProxyBin run the nginx and HAProxy that the local images
// ship (Debian's release in build/scripts/debian.env), whatever release the
// host has: wrappers that build/scripts/engine-root.sh writes into bin/
// (make proxy-packages, which make test runs).
func NginxBin() string   { return engineBin("nginx") }
func HAProxyBin() string { return engineBin("haproxy") }

func engineBin(name string) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "bin", name)
}
