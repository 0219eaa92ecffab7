package testenv

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// Instance is one instance of a Consul service (hello_server unless
// Service says otherwise) in Consul's catalog, on a node of its own (as
// each replica container runs on its own node).
type Instance struct {
	// Service is the Consul service; "" is hello_server.
	Service  string
	Node, ID string
	// Address is the service address, which load-balancer.tpl renders; the
	// node gets the same address (Consul wants one for every node).
	Address string
	Port    int
	// Check is the status of the instance's one check ("passing",
	// "critical"); empty registers no check, which Consul counts as passing.
	Check string
}

// RegisterHelloServer puts inst into the catalog as an instance of its
// Service, hello_server by default.
func (c *Consul) RegisterHelloServer(t testing.TB, inst Instance) {
	t.Helper()
	if err := c.RegisterHelloServerErr(inst); err != nil {
		t.Fatalf("registering instance %+v: %v", inst, err)
	}
}

// RegisterHelloServerErr is RegisterHelloServer returning Consul's answer,
// for entries Consul might refuse.
func (c *Consul) RegisterHelloServerErr(inst Instance) error {
	service := inst.Service
	if service == "" {
		service = "hello_server"
	}
	reg := &api.CatalogRegistration{
		Node:    inst.Node,
		Address: inst.Address,
		Service: &api.AgentService{
			ID:      inst.ID,
			Service: service,
			Address: inst.Address,
			Port:    inst.Port,
		},
	}
	if inst.Check != "" {
		reg.Check = &api.AgentCheck{
			Node:      inst.Node,
			CheckID:   "service:" + inst.ID,
			Name:      service + " health",
			Status:    inst.Check,
			ServiceID: inst.ID,
		}
	}
	_, err := c.Client.Catalog().Register(reg, nil)
	return err
}

// ProdTemplate is the deployment's build/config/lb/nginx/load-balancer.tpl
// (nginx's), reading the repository's declaration (see EngineTemplate).
func ProdTemplate(t testing.TB) string {
	t.Helper()
	return EngineTemplate(t, "nginx", Declaration(t), false)
}

// HostTemplate is nginx's load-balancer.tpl for a test on this host: in the
// container 127.x.x.x is the load balancer itself and is refused, on the
// host it is where the tests' replicas listen (see EngineTemplate). Every
// other check stays, and lbbehaviour's TestTemplateRendersOnlyValidInstances
// runs ProdTemplate.
func HostTemplate(t testing.TB) string {
	t.Helper()
	return EngineTemplate(t, "nginx", Declaration(t), true)
}

// ProdLoadBalancer is the load balancer container's trio on this host:
// nginx with the deployment's nginx.conf (as StartProdNginx), consul-template
// rendering its upstream from Consul, and reload-nginx.sh.
type ProdLoadBalancer struct {
	*ProdNginx
	Consul *Consul
	// Dir holds nginx.conf (Conf), the rendered upstream (Upstream), the pid
	// file and reload-nginx.sh's last good copy.
	Dir, Conf, Upstream string
	// Template is the load-balancer.tpl consul-template renders.
	Template string
}

// StartProdLoadBalancer renders template from c's catalog with the real
// consul-template, then starts nginx on it; it fails the test if nginx does
// not start. Render and Reload then follow changes in the catalog.
func StartProdLoadBalancer(t testing.TB, c *Consul, template string) *ProdLoadBalancer {
	t.Helper()
	lb := prodLoadBalancerFiles(t, c, template)
	lb.Process = runNginx(t, lb.Dir, lb.Conf, lb.Addr, lb.HealthAddr)
	return lb
}

// Render runs bin/consul-template -once against the agent, as the
// container's consul-template does on every change, and returns the
// rendered upstream.
func (lb *ProdLoadBalancer) Render(t testing.TB) string {
	t.Helper()
	return renderOnce(t, lb.Consul, lb.Template, lb.Upstream)
}

// LB is lb as an Engine's load balancer (NginxEngine.StartLB's).
func (lb *ProdLoadBalancer) LB() *LB {
	return &LB{
		Addr: lb.Addr, HealthAddr: lb.HealthAddr, Process: lb.Process,
		Consul: lb.Consul, Dir: lb.Dir, Conf: lb.Conf, Servers: lb.Upstream, Template: lb.Template,
		impl: lb,
	}
}

// Nginx is the ProdLoadBalancer behind lb; it panics if lb is not nginx.
func (lb *LB) Nginx() *ProdLoadBalancer {
	n, ok := lb.impl.(*ProdLoadBalancer)
	if !ok {
		panic("testenv: " + lb.Engine.Name + " is not nginx")
	}
	return n
}

// CheckConfig runs `nginx -t` on the config and returns nil if nginx
// accepts it, else nginx's complaint.
func (lb *ProdLoadBalancer) CheckConfig() error {
	out, err := exec.Command(NginxBin(), "-t", "-q", "-e", "stderr", "-p", lb.Dir+"/", "-c", lb.Conf).CombinedOutput()
	if err != nil {
		return &nginxRejected{err: err, out: strings.TrimSpace(string(out))}
	}
	return nil
}

type nginxRejected struct {
	err error
	out string
}

func (e *nginxRejected) Error() string { return "nginx -t: " + e.err.Error() + ": " + e.out }

// Reload runs build/config/lb/nginx/reload-nginx.sh, which
// consul-template runs after each render, with the container's paths
// replaced by the test's, and returns what it printed on stdout and stderr.
// The script always exits 0; any other exit fails the test.
func (lb *ProdLoadBalancer) Reload(t testing.TB) (stdout, stderr string) {
	t.Helper()
	script := filepath.Join(lb.Dir, "reload-nginx.sh")
	if err := os.WriteFile(script, []byte(reloadScript(t, lb.Dir, lb.Conf, lb.Upstream)), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", script)
	// bin/ first: the script's plain "nginx" must be the images' nginx,
	// not one the host may have.
	cmd.Env = []string{"PATH=" + filepath.Dir(NginxBin()) + string(os.PathListSeparator) + os.Getenv("PATH")}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("reload-nginx.sh: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

// reloadScript is reload-nginx.sh with the container's paths replaced by
// the test's. Each rewrite must match: a changed script fails here instead
// of running against container paths.
func reloadScript(t testing.TB, dir, conf, upstream string) string {
	t.Helper()
	return RewriteEngineFile(t, "nginx", "reload-nginx.sh", "ProdLoadBalancer.Reload",
		Rewrite{"live=/tmp/nginx/load-balancer.conf\n", "live=" + upstream + "\n"},
		Rewrite{"good=/tmp/nginx/load-balancer.conf.last-good\n", "good=" + filepath.Join(dir, "load-balancer.conf.last-good") + "\n"},
		Rewrite{"pidfile=/tmp/nginx/nginx.pid\n", "pidfile=" + filepath.Join(dir, "nginx.pid") + "\n"},
		Rewrite{"nginx -e stderr ", NginxBin() + " -p " + dir + "/ -e stderr "},
		Rewrite{" -c /etc/lb/nginx/nginx.conf", " -c " + conf})
}
