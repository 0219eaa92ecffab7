//go:build e2e

package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// badStopOrder starts the images with a SUPERVISORD_STOP_ORDER that leaves a
// program out, names one that does not exist, or lists one twice: the
// container must exit 2 at once, name the setting, the value and the
// programs it accepts, and start nothing.
func badStopOrder(t *testing.T, d *Deployment) {
	for _, c := range []struct {
		image, order, accepted string
	}{
		{image("hello-server"), "registrar consul-agent", "(consul-agent grpc-server registrar)"},
		{image("hello-server"), "registrar grpc_server consul-agent", "(consul-agent grpc-server registrar)"},
		{image("hello-server"), "registrar grpc-server grpc-server consul-agent", "(consul-agent grpc-server registrar)"},
		{image("load-balancer"), "", "(consul-agent consul-template nginx registrar)"},
	} {
		out, err := d.run(time.Minute, "docker", "run", "--rm", "-e", "SUPERVISORD_STOP_ORDER="+c.order, c.image)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("%s with SUPERVISORD_STOP_ORDER=%q: expected exit code 2, received %v; output:\n%s", c.image, c.order, err, out)
			continue
		}
		want := `SUPERVISORD_STOP_ORDER="` + c.order + `" is invalid: accepted is each of this image's supervisord programs ` + c.accepted
		if !strings.Contains(out, want) {
			t.Errorf("%s: expected the error %q, received:\n%s", c.image, want, out)
		}
		if strings.Contains(out, "supervisord") && strings.Contains(out, "success to start program") {
			t.Errorf("%s: a program started despite the invalid setting:\n%s", c.image, out)
		}
	}
}
