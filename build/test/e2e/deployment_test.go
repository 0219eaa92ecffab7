//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/compose"
	"github.com/grpc-lb/nginx-consul/grpc_client/loadclient"
)

// Deployment drives the compose project the way the README tells a user to.
type Deployment struct {
	t       *testing.T
	root    string
	compose compose.Command // every command runs in its environment, so make and the scripts run this Compose too
	client  string          // the grpc_client binary
	engine  engine          // the load balancer's engine; LB_ENGINE is in compose's environment
	// swarmNodes are the daemons of build/test/scripts/nodes.sh (make swarm-e2e only).
	swarmNodes []swarmNode
}

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// NewDeployment drives the deployment with Compose c (see composeUnderTest)
// and the load balancer's default engine, nginx, and builds the client once.
func NewDeployment(t *testing.T, c compose.Command) *Deployment {
	return NewEngineDeployment(t, c, engines["nginx"])
}

// NewEngineDeployment is NewDeployment with the load balancer's engine e: the
// user's LB_ENGINE=<engine> make up, and LB_ENGINE for every compose command
// after it.
func NewEngineDeployment(t *testing.T, c compose.Command, e engine) *Deployment {
	c.Env = append(slices.Clone(c.Env), "LB_ENGINE="+e.name)
	d := &Deployment{t: t, root: repoRoot(), compose: c, engine: e}
	d.client = filepath.Join(t.TempDir(), "grpc_client")
	d.mustRun(5*time.Minute, "go", "build", "-o", d.client, "./grpc_client")
	return d
}

// Step prints a banner, like the README's numbered steps.
func (d *Deployment) Step(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	fmt.Printf("\n=== STEP %s (%s)\n", line, time.Now().Format("15:04:05"))
}

// run runs a command in the repository root, in the deployment's Compose
// environment, and returns its combined output. make's output is also shown as
// it comes, so a long `make up` shows progress.
func (d *Deployment) run(timeout time.Duration, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = d.root
	cmd.Env = d.compose.Environ()
	var show io.Writer
	if name == "make" {
		show = os.Stdout
	}
	return runWithin(cmd, timeout, show)
}

// runWithin runs cmd and returns its combined output, also copied to show
// unless that is nil, and kills it after timeout.
func runWithin(cmd *exec.Cmd, timeout time.Duration, show io.Writer) (string, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if show != nil {
		shown := io.MultiWriter(&out, show)
		cmd.Stdout, cmd.Stderr = shown, shown
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return out.String(), err
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		return out.String(), fmt.Errorf("%s: still running after %s", strings.Join(cmd.Args, " "), timeout)
	}
}

func (d *Deployment) mustRun(timeout time.Duration, name string, args ...string) string {
	d.t.Helper()
	fmt.Printf("$ %s %s\n", name, strings.Join(args, " "))
	out, err := d.run(timeout, name, args...)
	if err != nil {
		d.t.Fatalf("%s %s failed: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// Compose runs the deployment's Compose with args.
func (d *Deployment) Compose(timeout time.Duration, args ...string) string {
	d.t.Helper()
	return d.mustRun(timeout, d.compose.Args[0], d.composeArgs(args...)...)
}

// composeArgs are the arguments after the deployment's Compose program:
// "compose", args... for `docker compose`, args... for docker-compose.
func (d *Deployment) composeArgs(args ...string) []string {
	return append(slices.Clone(d.compose.Args[1:]), args...)
}

// DumpLogs prints what every service logged and the containers' state.
func (d *Deployment) DumpLogs() {
	for _, args := range [][]string{{"ps"}, {"logs", "--no-color", "--tail=300"}} {
		out, _ := d.run(time.Minute, d.compose.Args[0], d.composeArgs(args...)...)
		fmt.Printf("\n--- %s %s\n%s\n", d.compose, strings.Join(args, " "), out)
	}
}

// Call makes one call through the load balancer like the README's client step.
func (d *Deployment) Call() (string, error) {
	out, err := d.run(30*time.Second, d.client, "-port="+lbPort, "-timeout=3s")
	return strings.TrimSpace(out), err
}

// Load runs the client in load mode with -json and returns its summary.
// It does not fail the test on failed calls: callers assert on the summary.
func (d *Deployment) Load(timeout time.Duration, args ...string) loadclient.Summary {
	d.t.Helper()
	args = append([]string{"-port=" + lbPort, "-json"}, args...)
	cmd := exec.Command(d.client, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		d.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		d.t.Fatalf("grpc_client %v: still running after %s", args, timeout)
	}
	var s loadclient.Summary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		d.t.Fatalf("grpc_client %v: no JSON summary (%v); stdout:\n%s\nstderr:\n%s", args, err, stdout.String(), stderr.String())
	}
	return s
}

// Hostnames are the hostnames of the running hello_server containers.
func (d *Deployment) Hostnames() []string {
	d.t.Helper()
	ids := strings.Fields(d.Compose(time.Minute, "ps", "-q", "hello_server"))
	if len(ids) == 0 {
		return nil
	}
	out := d.mustRun(time.Minute, "docker", append([]string{"inspect", "--format", "{{.State.Status}} {{.Config.Hostname}}"}, ids...)...)
	var hosts []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "running" {
			hosts = append(hosts, f[1])
		}
	}
	return hosts
}
