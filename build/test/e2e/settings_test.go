//go:build e2e

package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
)

// The published ports and the image tag come from the variables that the
// Makefile and docker-compose.yaml read (LB_PORT, CONSUL_UI_PORT, TAG), with
// the defaults written in docker-compose.yaml, so the suite checks the
// deployment `make up` started, whatever the user set.
var (
	lbPort       = composeSetting("LB_PORT")
	consulUIPort = composeSetting("CONSUL_UI_PORT")
	imageTag     = composeSetting("TAG")
	// lbAddr and consulAddr are where a client on this host reaches them.
	lbAddr     = net.JoinHostPort("127.0.0.1", lbPort)
	consulAddr = net.JoinHostPort("127.0.0.1", consulUIPort)
)

// composeSetting is the variable's value from the environment, else its
// default in the compose files (`${NAME:-default}`; the published ports are
// in docker-compose.override.yaml). A variable the compose files do not read
// is a bug in the suite: it panics with the name.
func composeSetting(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	var raw []byte
	for _, file := range []string{"docker-compose.yaml", "docker-compose.override.yaml"} {
		b, err := os.ReadFile(filepath.Join(repoRoot(), file))
		if err != nil {
			panic(err)
		}
		raw = append(raw, b...)
	}
	m := regexp.MustCompile(`\$\{` + regexp.QuoteMeta(name) + `:-([^}]*)\}`).FindSubmatch(raw)
	if m == nil {
		panic(fmt.Sprintf("docker-compose.yaml and docker-compose.override.yaml have no ${%s:-default}", name))
	}
	return string(m[1])
}

// image is the deployment's image of that name, with the tag in force.
func image(name string) string { return "grpc-lb/" + name + ":" + imageTag }
