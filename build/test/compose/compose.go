// Package compose finds the Docker Compose command the project runs. The
// decision lives in one place, build/scripts/compose.sh (an explicit COMPOSE
// wins, then `docker compose`, then `docker-compose`); this package asks that
// script, so the Makefile, the scripts, the end-to-end suite and the benchmark
// always run the same Compose.
package compose

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Command is one Compose command line and the environment it runs in.
type Command struct {
	Args    []string // "docker", "compose" or "docker-compose" or a binary's path
	Version string   // as `version --short` prints it, without a leading v: "2.28.1", "1.29.2"
	Env     []string // set on top of this process's environment, e.g. COMPOSE=docker-compose
}

// Find asks root's build/scripts/compose.sh which Compose runs in this
// process's environment plus env (NAME=value entries), then asks that Compose
// its version. The script's own message is the error when it finds none.
func Find(root string, env ...string) (Command, error) {
	c := Command{Env: env}
	script := exec.Command(filepath.Join(root, "build", "scripts", "compose.sh"))
	script.Env = c.Environ()
	var stdout, stderr bytes.Buffer
	script.Stdout, script.Stderr = &stdout, &stderr
	if err := script.Run(); err != nil {
		return c, fmt.Errorf("%s (%v)", strings.TrimSpace(stderr.String()), err)
	}
	c.Args = strings.Fields(stdout.String())
	if len(c.Args) == 0 {
		return c, fmt.Errorf("build/scripts/compose.sh printed no command")
	}
	cmd := c.Cmd("version", "--short")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		return c, fmt.Errorf("%s version --short: %v: %s", c, err, out)
	}
	c.Version = strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	return c, nil
}

// Major is the major version, "1" or "2".
func (c Command) Major() string {
	major, _, _ := strings.Cut(c.Version, ".")
	return major
}

// Environ is this process's environment with c.Env on top.
func (c Command) Environ() []string {
	return append(os.Environ(), c.Env...)
}

// Cmd is Compose with args, ready to run in c's environment.
func (c Command) Cmd(args ...string) *exec.Cmd {
	cmd := exec.Command(c.Args[0], append(c.Args[1:], args...)...)
	cmd.Env = c.Environ()
	return cmd
}

// String is the command line as a user types it: "docker compose".
func (c Command) String() string {
	return strings.Join(c.Args, " ")
}
