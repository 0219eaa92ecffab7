//go:build e2e

package e2e

import (
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// badStopOrder starts the images with a SUPERVISORD_STOP_ORDER that leaves a
// program out, names one that does not exist, or lists one twice, and the
// load balancer with an LB_ENGINE it does not have: the container must exit
// 2 at once, name the setting, the value and what it accepts, and start
// nothing.
func badStopOrder(t *testing.T, d *Deployment) {
	lbOrder := "SUPERVISORD_STOP_ORDER=registrar consul-template nginx haproxy consul-agent"
	// The entrypoint names the image's engines sorted, as it reads them.
	all := repoEngines(t)
	lbEngines := "accepted is one of this image's load-balancer engines: " + strings.Join(slices.Sorted(slices.Values(all)), " ")
	for _, c := range []struct {
		image, setting, want string
	}{
		{image("hello-server"), "SUPERVISORD_STOP_ORDER=registrar consul-agent", "(consul-agent grpc-server registrar)"},
		{image("hello-server"), "SUPERVISORD_STOP_ORDER=registrar grpc_server consul-agent", "(consul-agent grpc-server registrar)"},
		{image("hello-server"), "SUPERVISORD_STOP_ORDER=registrar grpc-server grpc-server consul-agent", "(consul-agent grpc-server registrar)"},
		{image("load-balancer"), "SUPERVISORD_STOP_ORDER=", "(consul-agent consul-template " + d.engine.name + " registrar)"},
		// The other engine's program may be listed, this engine's may not be left out.
		{image("load-balancer"), "SUPERVISORD_STOP_ORDER=registrar consul-template consul-agent", "(consul-agent consul-template " + d.engine.name + " registrar)"},
		{image("load-balancer"), "LB_ENGINE=envoy", lbEngines},
		{image("load-balancer"), "LB_ENGINE=" + all[0] + " " + all[len(all)-1], lbEngines},
		{image("load-balancer"), "LB_ENGINE=", lbEngines},
	} {
		name, value, _ := strings.Cut(c.setting, "=")
		args := []string{"run", "--rm", "-e", c.setting}
		if name == "LB_ENGINE" {
			args = append(args, "-e", lbOrder)
		} else if c.image == image("load-balancer") {
			args = append(args, "-e", "LB_ENGINE="+d.engine.name)
		}
		out, err := d.run(time.Minute, "docker", append(args, c.image)...)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("%s with %s: expected exit code 2, received %v; output:\n%s", c.image, c.setting, err, out)
			continue
		}
		want := name + `="` + value + `" is invalid: `
		if name == "SUPERVISORD_STOP_ORDER" {
			want += "accepted is each of this image's supervisord programs " + c.want
		} else {
			want += c.want
		}
		if !strings.Contains(out, want) {
			t.Errorf("%s: expected the error %q, received:\n%s", c.image, want, out)
		}
		if strings.Contains(out, "supervisord") && strings.Contains(out, "success to start program") {
			t.Errorf("%s: a program started despite the invalid setting:\n%s", c.image, out)
		}
	}
}
