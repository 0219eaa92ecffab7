package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/grpc_client/loadclient"
)

// network is the compose project's default network (COMPOSE_PROJECT_NAME in .env).
const network = "grpclb_default"

func run(name string, args ...string) (string, error) {
	return runEnv(nil, name, args...)
}

// runEnv runs a command with env added to the bench's environment.
func runEnv(env []string, name string, args ...string) (string, error) {
	var out bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// compose runs Compose with the engine and the replicas' flow control the
// bench has set, so no command undoes them.
func (b *Bench) compose(args ...string) (string, error) {
	env := []string{"LB_ENGINE=" + b.engine, "GRPC_SERVER_FLOW_CONTROL=" + cmpString(b.flowControl, "static")}
	return runEnv(env, b.Compose[0], append(b.Compose[1:], args...)...)
}

func cmpString(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// useEngine runs the load balancer with engine (LB_ENGINE; compose
// recreates the container when it changes) and n replicas, and waits until
// calls through it reach all of them.
func (b *Bench) useEngine(engine string, n int) error {
	if engine != b.engine {
		logf("switching the load balancer to %s", engine)
		b.engine = engine
		if _, err := b.compose("up", "-d", "--scale", fmt.Sprintf("hello_server=%d", n)); err != nil {
			return err
		}
		if _, err := run("build/scripts/wait-healthy.sh", "180"); err != nil {
			return err
		}
	} else if err := b.scale(n); err != nil {
		return err
	}
	return waitRouted(n)
}

// setFlowControl recreates the n replicas with grpc_server's -flow-control
// (GRPC_SERVER_FLOW_CONTROL) and waits until they are routed.
func (b *Bench) setFlowControl(mode string, n int) error {
	if cmpString(b.flowControl, "static") == mode {
		return nil
	}
	logf("recreating the replicas with -flow-control=%s", mode)
	b.flowControl = mode
	if _, err := b.compose("up", "-d", "--scale", fmt.Sprintf("hello_server=%d", n)); err != nil {
		return err
	}
	if _, err := run("build/scripts/wait-healthy.sh", "180"); err != nil {
		return err
	}
	return waitRouted(n)
}

// nginxConf is nginx's config in the load balancer, nginxServers the
// upstream consul-template renders for it.
const (
	nginxConf    = "/etc/lb/nginx/nginx.conf"
	nginxServers = "/tmp/nginx/load-balancer.conf"
)

// setNginxKeepalive rewrites the rendered upstream's keepalive and reloads
// nginx, then waits until no old worker is left.
func (b *Bench) setNginxKeepalive(n int) error {
	lb, err := b.serviceIDs("load-balancer")
	if err != nil || len(lb) != 1 {
		return fmt.Errorf("load-balancer container %v: %v", lb, err)
	}
	// Only hello_server's upstream, the one the throughput runs call: the
	// render has one per declared service and lb-reflection's besides.
	script := fmt.Sprintf(`sed -i '%s s/^\( *keepalive\) [0-9]*;/\1 %d;/' %s && nginx -q -t -e stderr -c %[4]s && nginx -e stderr -c %[4]s -s reload`, helloUpstream, n, nginxServers, nginxConf)
	if _, err := run("docker", "exec", "-u", "app", lb[0], "sh", "-c", script); err != nil {
		return err
	}
	if err := b.requireNginxKeepalive(n); err != nil {
		return err
	}
	return testenv.Poll(30*time.Second, 100*time.Millisecond, func() error {
		out, err := run("docker", "exec", lb[0], "sh", "-c", `cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\0' ' '`)
		if err != nil {
			return err
		}
		if strings.Contains(out, "is shutting down") {
			return fmt.Errorf("an nginx worker from before the reload is still running")
		}
		return nil
	})
}

// helloUpstream is the sed address of hello_server's upstream block in
// nginx's render.
const helloUpstream = `/^upstream hello_server {/,/^}/`

// requireNginxKeepalive checks the keepalive of hello_server's rendered
// upstream.
func (b *Bench) requireNginxKeepalive(n int) error {
	lb, err := b.serviceIDs("load-balancer")
	if err != nil || len(lb) != 1 {
		return fmt.Errorf("load-balancer container %v: %v", lb, err)
	}
	out, err := run("docker", "exec", lb[0], "sh", "-c", fmt.Sprintf(`sed -n '%s p' %s | grep -c '^ *keepalive %d;'`, helloUpstream, nginxServers, n))
	if err != nil || strings.TrimSpace(out) != "1" {
		return fmt.Errorf("%s does not hold keepalive %d (grep: %q, %v)", nginxServers, n, strings.TrimSpace(out), err)
	}
	return nil
}

// scale sets the number of replicas and waits until they are healthy.
func (b *Bench) scale(n int) error {
	if _, err := b.compose("up", "-d", "--no-recreate", "--scale", fmt.Sprintf("hello_server=%d", n)); err != nil {
		return err
	}
	_, err := run("build/scripts/wait-healthy.sh", "120")
	return err
}

// serviceIDs are the container IDs of a compose service.
func (b *Bench) serviceIDs(service string) ([]string, error) {
	out, err := b.compose("ps", "-q", service)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// replicaIPs are the addresses of the hello_server containers on the compose network.
func (b *Bench) replicaIPs() ([]string, error) {
	ids, err := b.serviceIDs("hello_server")
	if err != nil {
		return nil, err
	}
	var ips []string
	for _, id := range ids {
		ip, err := run("docker", "inspect", "--format", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", id)
		if err != nil {
			return nil, err
		}
		ips = append(ips, strings.TrimSpace(ip))
	}
	return ips, nil
}

// clientCPUs limits the load generator's container (docker run --cpus) in
// the throughput runs; empty means no limit.
var clientCPUs string

// clientRun runs grpc_client in a container on the compose network, so every
// path is measured from the same place with the same load generator.
func clientRun(host string, port int, args ...string) (loadclient.Summary, error) {
	base := []string{"run", "--rm", "--network", network}
	if clientCPUs != "" {
		base = append(base, "--cpus", clientCPUs)
	}
	base = append(base, "--entrypoint", "/usr/local/bin/grpc_client",
		"grpc-lb/hello-server:latest", "-host", host, "-port", fmt.Sprint(port), "-json")
	out, err := exec.Command("docker", append(base, args...)...).Output()
	var s loadclient.Summary
	if jerr := json.Unmarshal(out, &s); jerr != nil {
		return s, fmt.Errorf("grpc_client %s:%d %v: %v (run error %v): %s", host, port, args, jerr, err, out)
	}
	return s, nil
}

// clientStart starts a long client run in the background; stop it with clientStop.
func clientStart(name, host string, port int, args ...string) (*exec.Cmd, *bytes.Buffer, error) {
	base := []string{"run", "--rm", "--name", name, "--network", network, "--entrypoint", "/usr/local/bin/grpc_client",
		"grpc-lb/hello-server:latest", "-host", host, "-port", fmt.Sprint(port), "-json", "-duration=1h"}
	var out bytes.Buffer
	cmd := exec.Command("docker", append(base, args...)...)
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	// Wait until the container runs, so the caller's timeline starts with load on.
	err := testenv.Poll(30*time.Second, 100*time.Millisecond, func() error {
		s, err := run("docker", "inspect", "--format", "{{.State.Running}}", name)
		if strings.TrimSpace(s) != "true" {
			return fmt.Errorf("running: %q (%v)", strings.TrimSpace(s), err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("load container %s did not start within 30 s: %w", name, err)
	}
	return cmd, &out, nil
}

// clientStop interrupts the background client (calls in flight finish) and
// returns its summary.
func clientStop(name string, cmd *exec.Cmd, out *bytes.Buffer) (loadclient.Summary, error) {
	if _, err := run("docker", "kill", "--signal=INT", name); err != nil {
		return loadclient.Summary{}, err
	}
	_ = cmd.Wait()
	var s loadclient.Summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		return s, fmt.Errorf("background client: %v: %s", err, out.String())
	}
	return s, nil
}

// haproxyConf is the load balancer's HAProxy config; haproxyOneCall its
// line that limits a backend connection to one call at a time.
const (
	haproxyConf    = "/etc/lb/haproxy/haproxy.cfg"
	haproxyOneCall = "    tune.h2.be.max-concurrent-streams 1"
)

// setHAProxyOneCallPerConnection removes (on false) or restores (on true)
// haproxyOneCall in the running load balancer, reloads HAProxy and waits
// until the worker of the old config has exited.
func (b *Bench) setHAProxyOneCallPerConnection(on bool) error {
	lb, err := b.serviceIDs("load-balancer")
	if err != nil || len(lb) != 1 {
		return fmt.Errorf("load-balancer container %v: %v", lb, err)
	}
	edit := fmt.Sprintf(`cp %[1]s /tmp/haproxy.cfg.bench && grep -qx '%[2]s' %[1]s && sed -i '/^%[2]s$/d' %[1]s`, haproxyConf, haproxyOneCall)
	if on {
		edit = fmt.Sprintf(`cp /tmp/haproxy.cfg.bench %[1]s && grep -qx '%[2]s' %[1]s`, haproxyConf, haproxyOneCall)
	}
	logf("HAProxy with one call per backend connection: %v", on)
	script := edit + ` && kill -USR2 "$(cat /tmp/haproxy/haproxy.pid)"`
	// As root: /etc/lb/ is root's (the app user may not change it).
	if _, err := run("docker", "exec", lb[0], "sh", "-c", script); err != nil {
		return err
	}
	// The master and one worker: the old worker has exited.
	return testenv.Poll(30*time.Second, 100*time.Millisecond, func() error {
		out, err := run("docker", "exec", lb[0], "sh", "-c", `for p in /proc/[0-9]*; do tr '\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '^/usr/sbin/haproxy '`)
		if err != nil && strings.TrimSpace(out) == "" {
			return err
		}
		if n := strings.TrimSpace(out); n != "2" {
			return fmt.Errorf("%s haproxy processes, expected the master and one worker", n)
		}
		return nil
	})
}
