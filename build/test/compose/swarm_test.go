package compose

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"gopkg.in/yaml.v3"
)

// swarmConfig is what `docker stack deploy` would deploy: the Docker CLI's
// own merge of docker-compose.yaml and build/swarm/stack.yaml, with the
// settings' defaults. A warning (such as a host address Swarm ignores) fails.
func swarmConfig(t *testing.T) map[string]any {
	t.Helper()
	cmd := exec.Command("docker", "stack", "config", "-c", "docker-compose.yaml", "-c", "build/swarm/stack.yaml")
	cmd.Dir = repoRoot()
	cmd.Env = append(os.Environ(), "TAG=", "LB_ENGINE=", "SWARM_SUBNET=", "REPLICAS=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker stack config: %v\n%s", err, stderr.String())
	}
	if stderr.Len() != 0 {
		t.Errorf("docker stack config warned: %s", stderr.String())
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(stdout.Bytes(), &cfg); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// get walks nested maps: get(m, "a", "b") is m["a"]["b"], nil when absent.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// The stack is what the README's "More than one host" says it is.
func TestSwarmStack(t *testing.T) {
	cfg := swarmConfig(t)
	services, _ := cfg["services"].(map[string]any)
	subnet := fmt.Sprint(get(cfg, "networks", "default", "ipam", "config").([]any)[0].(map[string]any)["subnet"])
	if driver := get(cfg, "networks", "default", "driver"); driver != "overlay" || get(cfg, "networks", "default", "attachable") != true {
		t.Errorf("networks.default: driver %v, attachable %v; expected an attachable overlay", driver, get(cfg, "networks", "default", "attachable"))
	}
	for name, svc := range services {
		// No virtual IPs: this kernel has no IPVS, and nginx reaches each
		// replica at its own address from Consul.
		if mode := get(svc, "deploy", "endpoint_mode"); mode != "dnsrr" {
			t.Errorf("%s: deploy.endpoint_mode %v, expected dnsrr", name, mode)
		}
		ports, _ := get(svc, "ports").([]any)
		if name != "load-balancer" && len(ports) != 0 {
			t.Errorf("%s publishes %v: only the load balancer's 5000 is published on Swarm (the Consul UI would be on every address of the node; make swarm-ui forwards it)", name, ports)
		}
		if name != "consul-acl-bootstrap" {
			if bind := get(svc, "environment", "CONSUL_BIND_NETWORK"); bind != subnet {
				t.Errorf("%s: CONSUL_BIND_NETWORK %v, expected the overlay's subnet %s", name, bind, subnet)
			}
		}
	}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("consul-server-%d", i)
		constraints := fmt.Sprint(get(services[name], "deploy", "placement", "constraints"))
		if want := fmt.Sprintf("node.labels.grpclb.consul-server-%d == true", i); constraints != "["+want+"]" {
			t.Errorf("%s: placement constraints %s, expected [%s]", name, constraints, want)
		}
		// Swarm's DNS names only healthy tasks, and the servers join by name.
		if when := get(services[name], "environment", "CONSUL_SERVER_HEALTHY_WHEN"); when != "answering" {
			t.Errorf("%s: CONSUL_SERVER_HEALTHY_WHEN %v, expected answering (healthy before there is a leader)", name, when)
		}
		volumes, _ := get(services[name], "volumes").([]any)
		if len(volumes) != 1 || get(volumes[0], "type") != "volume" || get(volumes[0], "source") != name+"-data" || get(volumes[0], "target") != "/var/lib/consul" {
			t.Errorf("%s: volumes %v, expected the named volume %s-data on /var/lib/consul", name, volumes, name)
		}
	}
	if order := get(services["hello_server"], "deploy", "update_config", "order"); order != "start-first" {
		t.Errorf("hello_server: deploy.update_config.order %v, expected start-first", order)
	}
	if grace := get(services["hello_server"], "stop_grace_period"); grace != "30s" {
		t.Errorf("hello_server: stop_grace_period %v, expected 30s (the drain)", grace)
	}
	lb := services["load-balancer"]
	if mode := get(lb, "deploy", "mode"); mode != "global" {
		t.Errorf("load-balancer: deploy.mode %v, expected global (one per node)", mode)
	}
	ports, _ := get(lb, "ports").([]any)
	if len(ports) != 1 || get(ports[0], "mode") != "host" || get(ports[0], "target") != 5000 || get(ports[0], "published") != 5000 {
		t.Errorf("load-balancer: ports %v, expected 5000 published in host mode only", ports)
	}
}

// Compose still publishes what it did before the Swarm file existed: the
// Consul UI on the host's 127.0.0.1 and the load balancer on 0.0.0.0. The
// ports are in the override because they bind to a host address.
func TestOverridePublishesComposePorts(t *testing.T) {
	override := composeServices(t, "docker-compose.override.yaml")
	for name, want := range map[string]string{
		"consul-server-1": "${CONSUL_UI_HOST:-127.0.0.1}:${CONSUL_UI_PORT:-8500}:8500",
		"load-balancer":   "${LB_HOST:-0.0.0.0}:${LB_PORT:-5000}:5000",
	} {
		if got := fmt.Sprint(override[name]["ports"]); got != "["+want+"]" {
			t.Errorf("docker-compose.override.yaml: services.%s.ports %s, expected [%s]", name, got, want)
		}
	}
	for name, svc := range composeServices(t, "docker-compose.yaml") {
		if ports, ok := svc["ports"]; ok {
			t.Errorf("docker-compose.yaml: services.%s.ports %v belong in docker-compose.override.yaml (Swarm ignores the host address)", name, ports)
		}
	}
}
