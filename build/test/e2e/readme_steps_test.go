//go:build e2e

package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/compose"
)

// TestREADME follows the README from `make up` to `make down`, in order,
// once per Compose version (subtests compose-v1, compose-v2): make and the
// README's compose commands run that version.
func TestREADME(t *testing.T) {
	for _, version := range composeVersions(t) {
		t.Run("compose-"+version, func(t *testing.T) {
			followREADME(t, composeUnderTest(t, version))
		})
	}
}

func followREADME(t *testing.T, c compose.Command) {
	d := NewDeployment(t, c)

	d.Step("0: start from nothing (make down)")
	d.mustRun(5*time.Minute, "make", "down")
	t.Cleanup(func() {
		if t.Failed() {
			d.DumpLogs()
		}
		out, err := d.run(5*time.Minute, "make", "down")
		if err != nil {
			t.Errorf("make down during cleanup: %v\n%s", err, out)
		}
	})

	d.Step("1: make up, then one call through :5000")
	d.mustRun(45*time.Minute, "make", "up")
	if d.compose.Major() == "2" {
		// Compose v2: its own wait for every healthcheck must succeed too.
		d.Compose(5*time.Minute, "up", "-d", "--wait")
	}
	hosts := d.Hostnames()
	if len(hosts) != 1 {
		t.Fatalf("after make up: %d running hello_server containers, want 1: %v", len(hosts), hosts)
	}
	var reply string
	eventually(t, 60*time.Second, "a call through the load balancer", func() error {
		var err error
		reply, err = d.Call()
		return err
	})
	if want := "Hello from " + hosts[0] + "."; reply != want {
		t.Fatalf("client reply:\n  expected %q\n  received %q", want, reply)
	}
	fmt.Printf("client: %s\n", reply)
	// The original README's form of the same command.
	out := strings.TrimSpace(d.mustRun(5*time.Minute, "go", "run", "grpc_client/main.go", "-port="+lbPort))
	if want := "Hello from " + hosts[0] + "."; out != want {
		t.Fatalf("go run grpc_client/main.go -port=%s:\n  expected %q\n  received %q", lbPort, want, out)
	}

	d.Step("2: Consul UI on 8500 with the token of make ui-token; catalog has 3 servers, the agents and hello_server passing")
	eventually(t, 30*time.Second, "Consul UI answers", uiAnswers)
	uiToken := d.uiToken(t)
	if uiToken != token(t, "ui") {
		t.Fatalf("make ui-token: expected the secret of .secrets/tokens/ui.secret, received %d other characters", len(uiToken))
	}
	consul := consulClientWith(t, uiToken)
	peers, err := consul.Status().Peers()
	if err != nil || len(peers) != 3 {
		t.Fatalf("raft peers: expected 3, received %v (err %v)", peers, err)
	}
	members, err := consul.Agent().Members(false)
	if err != nil {
		t.Fatal(err)
	}
	var servers, agents int
	for _, m := range members {
		if m.Status != 1 { // serf: 1 is alive
			continue
		}
		if m.Tags["role"] == "consul" {
			servers++
		} else {
			agents++
		}
	}
	if servers != 3 || agents != 3 {
		t.Fatalf("alive members: expected 3 servers and 3 agents (hello_server, echo_server, load-balancer), received %d and %d", servers, agents)
	}
	eventually(t, 30*time.Second, "hello_server passing in Consul", func() error {
		got, err := passingHostnames(consul, "hello_server")
		if err != nil {
			return err
		}
		if !slices.Equal(got, hosts) {
			return fmt.Errorf("passing hello_server: expected %v, received %v", hosts, got)
		}
		return nil
	})

	d.Step("3: scale to 5; 500 calls reach all 5, evenly")
	scale(t, d, 5)
	hosts = d.Hostnames()
	eventually(t, 30*time.Second, "500 calls spread over all 5 replicas", func() error {
		s := d.Load(2*time.Minute, "-n=500", "-c=10")
		return spreadOver(s, hosts, 500, 1.5)
	})

	d.Step("4: scale to 2; removed replicas leave Consul and nginx")
	scale(t, d, 2)
	hosts = d.Hostnames()
	eventually(t, 60*time.Second, "only the 2 remaining replicas pass in Consul", func() error {
		got, err := passingHostnames(consul, "hello_server")
		if err != nil {
			return err
		}
		if !slices.Equal(got, sortedCopy(hosts)) {
			return fmt.Errorf("passing hello_server: expected %v, received %v", sortedCopy(hosts), got)
		}
		return nil
	})
	eventually(t, 30*time.Second, "200 calls reach exactly the 2 remaining replicas", func() error {
		s := d.Load(2*time.Minute, "-n=200", "-c=10")
		return spreadOver(s, hosts, 200, 0)
	})

	d.Step("5: scale to 0; calls get UNAVAILABLE; the LB stays healthy; scale to 1 serves again")
	scale(t, d, 0)
	eventually(t, 60*time.Second, "calls answered UNAVAILABLE with the LB's message", func() error {
		s := d.Load(time.Minute, "-n=20", "-c=2")
		if s.Codes["Unavailable"] != 20 {
			return fmt.Errorf("codes: expected 20 Unavailable, received %v", s.Codes)
		}
		for _, f := range s.Failures {
			if !strings.Contains(f.Message, "no healthy hello_server replica") {
				return fmt.Errorf("message: expected the LB's gRPC message, received %q", f.Message)
			}
		}
		return nil
	})
	lbID := strings.TrimSpace(d.Compose(time.Minute, "ps", "-q", "load-balancer"))
	health := strings.TrimSpace(d.mustRun(time.Minute, "docker", "inspect", "--format", "{{.State.Health.Status}}", lbID))
	if health != "healthy" {
		t.Fatalf("load-balancer health with 0 replicas: expected healthy, received %q", health)
	}
	scale(t, d, 1)
	hosts = d.Hostnames()
	eventually(t, 60*time.Second, "calls served again after scaling to 1", func() error {
		reply, err := d.Call()
		if err != nil {
			return fmt.Errorf("%v: %s", err, reply)
		}
		if want := "Hello from " + hosts[0] + "."; reply != want {
			return fmt.Errorf("expected %q, received %q", want, reply)
		}
		return nil
	})

	d.Step("5a: Add your own service, as echo_server: docker compose build echo_server && make up; make scale SERVICE=echo_server N=3; grpcurl's Echo calls (through reflection) reach the 3 echo_server replicas, grpcurl list shows both services, Ping calls only hello_server's")
	d.Compose(10*time.Minute, "build", echoService)
	d.mustRun(10*time.Minute, "make", "up")
	d.mustRun(5*time.Minute, "make", "scale", "SERVICE="+echoService, "N=3")
	echoHosts := d.waitServiceReplicas(t, echoService, 3)
	answered := map[string]int{}
	eventually(t, 60*time.Second, "grpcurl's Echo calls reach all 3 echo_server replicas", func() error {
		for range 15 {
			host, err := d.grpcurlEcho()
			if err != nil {
				return err
			}
			if !slices.Contains(echoHosts, host) {
				t.Fatalf("an Echo call through :5000 was answered by %q, not an echo_server replica %v", host, echoHosts)
			}
			answered[host]++
		}
		if len(answered) != 3 {
			return fmt.Errorf("answered by %v, expected all of %v", answered, echoHosts)
		}
		return nil
	})
	fmt.Printf("grpcurl protos.Echo/Unary through :5000: answered by %v\n", answered)
	out, err = d.run(30*time.Second, filepath.Join(d.root, "bin", "grpcurl"), "-plaintext", lbAddr, "list")
	fmt.Printf("$ bin/grpcurl -plaintext %s list\n%s", lbAddr, out)
	if err != nil || out != frontDoorServices {
		t.Fatalf("grpcurl list through :5000: expected %q, received %q (%v)", frontDoorServices, out, err)
	}
	if s := d.Load(2*time.Minute, "-n=200", "-c=10"); spreadOver(s, hosts, 200, 0) != nil {
		t.Fatalf("Ping calls with echo_server scaled to 3: %v", spreadOver(s, hosts, 200, 0))
	}

	d.Step("5b: the engine: LB_ENGINE=haproxy compose up -d serves through HAProxy; LB_ENGINE=envoy make up is refused; compose up -d is nginx again")
	d.switchEngine(t, "haproxy")
	out, err = d.runWithEngine(5*time.Minute, "envoy", "make", "up")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(out, `LB_ENGINE="envoy" is invalid: accepted is `+acceptedEngines(t)) {
		t.Fatalf("LB_ENGINE=envoy make up: expected exit code 2 and the accepted values, received %v:\n%s", err, out)
	}
	if strings.Contains(out, "build-images") {
		t.Fatalf("LB_ENGINE=envoy make up built images before refusing:\n%s", out)
	}
	d.switchEngine(t, "nginx")

	d.Step("6: make up again, and make down then make up: the same secrets, a healthy cluster that serves")
	secrets := secretsDigest(t)
	d.mustRun(45*time.Minute, "make", "up")
	d.requireServes(t)
	d.mustRun(5*time.Minute, "make", "down")
	d.mustRun(45*time.Minute, "make", "up")
	if changed := changedSecrets(secrets, secretsDigest(t)); len(changed) > 0 {
		t.Fatalf(".secrets after make up, make down, make up: expected the same files, these changed: %v", changed)
	}
	waitConsulHealthy(t, consulClient(t), 2*time.Minute)
	d.requireServes(t)

	d.Step("7: make purge, then make up: a new cluster with new secrets; the old UI token is refused")
	oldUIToken := token(t, "ui")
	d.mustRun(5*time.Minute, "make", "purge")
	if _, err := os.Stat(secretsDir()); !os.IsNotExist(err) {
		t.Fatalf("after make purge: expected %s gone, received %v", secretsDir(), err)
	}
	d.mustRun(45*time.Minute, "make", "up")
	fresh := secretsDigest(t)
	for name, sum := range secrets {
		if fresh[name] == sum {
			t.Errorf("after make purge and make up: expected a new %s, received the old one", name)
		}
	}
	_, _, err = consulClientWith(t, oldUIToken).Catalog().Services(nil)
	if err == nil || !strings.Contains(err.Error(), "ACL not found") {
		t.Fatalf("the purged cluster's UI token: expected 403 ACL not found, received %v", err)
	}
	waitConsulHealthy(t, consulClient(t), 2*time.Minute)
	d.requireServes(t)

	d.Step("8: make down leaves no containers, networks or volumes")
	d.mustRun(5*time.Minute, "make", "down")
	for _, kind := range [][]string{
		{"ps", "-a", "--filter", "label=com.docker.compose.project=grpclb", "-q"},
		{"network", "ls", "--filter", "label=com.docker.compose.project=grpclb", "-q"},
		{"volume", "ls", "--filter", "label=com.docker.compose.project=grpclb", "-q"},
	} {
		out, err := exec.Command("docker", kind...).CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "" {
			t.Errorf("docker %s after make down: expected nothing, received %q (err %v)", strings.Join(kind, " "), out, err)
		}
	}
}

// uiToken runs `make ui-token` as the README says, without showing the
// token in the test's output.
func (d *Deployment) uiToken(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("make", "ui-token")
	cmd.Dir, cmd.Env = d.root, d.compose.Environ()
	out, err := runWithin(cmd, time.Minute, nil)
	if err != nil {
		t.Fatalf("make ui-token: %v\n%s", err, out)
	}
	return strings.TrimSpace(out)
}

// requireServes waits for the single replica of a fresh make up to answer
// through the load balancer.
func (d *Deployment) requireServes(t *testing.T) {
	t.Helper()
	hosts := d.Hostnames()
	if len(hosts) != 1 {
		t.Fatalf("after make up: %d running hello_server containers, want 1: %v", len(hosts), hosts)
	}
	eventually(t, 60*time.Second, "a call through the load balancer", func() error {
		reply, err := d.Call()
		if err != nil {
			return fmt.Errorf("%v: %s", err, reply)
		}
		if want := "Hello from " + hosts[0] + "."; reply != want {
			return fmt.Errorf("expected %q, received %q", want, reply)
		}
		return nil
	})
}

// scale runs the README's scaling command as written there and waits until
// the replicas are healthy.
func scale(t *testing.T, d *Deployment, n int) {
	t.Helper()
	d.Compose(10*time.Minute, "up", "-d", "--scale", fmt.Sprintf("hello_server=%d", n))
	eventually(t, 2*time.Minute, fmt.Sprintf("%d hello_server containers running", n), func() error {
		if got := len(d.Hostnames()); got != n {
			return fmt.Errorf("running hello_server containers: expected %d, received %d", n, got)
		}
		return nil
	})
	d.mustRun(3*time.Minute, "build/scripts/wait-healthy.sh", "120")
}

// grpcurlEcho makes the README's grpcurl call of protos.Echo/Unary through
// :5000 and returns the hostname of the replica that answered.
func (d *Deployment) grpcurlEcho() (string, error) {
	out, err := d.run(30*time.Second, filepath.Join(d.root, "bin", "grpcurl"), "-plaintext",
		"-d", `{"request_id":"1"}`, lbAddr, "protos.Echo/Unary")
	if err != nil {
		return "", fmt.Errorf("grpcurl protos.Echo/Unary: %v: %s", err, out)
	}
	var reply struct {
		Hostname string `json:"hostname"`
	}
	if err := json.Unmarshal([]byte(out), &reply); err != nil || reply.Hostname == "" {
		return "", fmt.Errorf("grpcurl protos.Echo/Unary: no hostname in %q (%v)", out, err)
	}
	return reply.Hostname, nil
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// runWithEngine runs a command as run does, with LB_ENGINE set to engine.
func (d *Deployment) runWithEngine(timeout time.Duration, engine, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Dir = d.root
	// The last value of a key wins (os/exec).
	cmd.Env = append(d.compose.Environ(), "LB_ENGINE="+engine)
	return runWithin(cmd, timeout, nil)
}

// switchEngine runs `LB_ENGINE=<name> compose up -d`, as the README shows,
// and requires the load balancer to run that engine and serve.
func (d *Deployment) switchEngine(t *testing.T, name string) {
	t.Helper()
	if out, err := d.runWithEngine(5*time.Minute, name, d.compose.Args[0], d.composeArgs("up", "-d")...); err != nil {
		t.Fatalf("LB_ENGINE=%s compose up -d: %v\n%s", name, err, out)
	}
	d.mustRun(5*time.Minute, "build/scripts/wait-healthy.sh", "180")
	sub := *d
	sub.engine = engines[name]
	sub.requireEngine(t)
	hosts := d.Hostnames()
	eventually(t, 60*time.Second, "a call through "+name, func() error {
		reply, err := d.Call()
		if err != nil {
			return fmt.Errorf("%v: %s", err, reply)
		}
		if want := "Hello from " + hosts[0] + "."; reply != want {
			return fmt.Errorf("expected %q, received %q", want, reply)
		}
		return nil
	})
	fmt.Printf("LB_ENGINE=%s compose up -d: the load balancer runs %s and serves\n", name, name)
}
