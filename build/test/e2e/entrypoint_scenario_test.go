//go:build e2e

package e2e

import (
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/stopbudget"
)

// badSettings starts the images with a program file whose priority is
// missing, not a number, or another running program's (sed in the
// container, before the entrypoint), and the load balancer with an
// LB_ENGINE it does not have: the container must exit 2 at once, name the
// file or setting, the value and what it accepts, and start nothing.
func badSettings(t *testing.T, d *Deployment) {
	const accepted = "accepted is a whole number that no other program the container runs has (the highest stops first)"
	tree, err := stopbudget.Load(d.root)
	if err != nil {
		t.Fatal(err)
	}
	// A priority the image's other program has: the setting and its error.
	sameAs := func(other string) (string, string) {
		p := tree.Programs[other]
		return fmt.Sprintf("s/^priority=.*/priority=%d/", p.Priority),
			fmt.Sprintf("priority=%d is invalid: %s; program %s (/etc/supervisord/programs/%s) has %d too", p.Priority, accepted, other, filepath.Base(p.File), p.Priority)
	}
	grpcSed, grpcWant := sameAs("grpc-server")
	templateSed, templateWant := sameAs("consul-template")
	engineFile := "/etc/lb/" + d.engine.name + "/supervisord.conf"
	// The entrypoint names the image's engines sorted, as it reads them.
	all := repoEngines(t)
	lbEngines := "accepted is one of this image's load-balancer engines: " + strings.Join(slices.Sorted(slices.Values(all)), " ")
	registrar := "/etc/supervisord/programs/registrar.conf"
	for _, c := range []struct {
		image, setting string
		file, sed      string // sed's script for file, in the container
		want           string
	}{
		{image("hello-server"), "", registrar, "/^priority=/d",
			registrar + ": program registrar: priority is not set: " + accepted},
		{image("hello-server"), "", registrar, "s/^priority=.*/priority=first/",
			registrar + `: program registrar: priority="first" is invalid: accepted is a whole number (lower starts first and stops last)`},
		{image("hello-server"), "", registrar, grpcSed, registrar + ": program registrar: " + grpcWant},
		{image("load-balancer"), "", engineFile, templateSed, engineFile + ": program " + d.engine.name + ": " + templateWant},
		{image("load-balancer"), "LB_ENGINE=envoy", "", "", `LB_ENGINE="envoy" is invalid: ` + lbEngines},
		{image("load-balancer"), "LB_ENGINE=" + all[0] + " " + all[len(all)-1], "", "", `LB_ENGINE="` + all[0] + " " + all[len(all)-1] + `" is invalid: ` + lbEngines},
		{image("load-balancer"), "LB_ENGINE=", "", "", `LB_ENGINE="" is invalid: ` + lbEngines},
	} {
		setting := c.setting
		if setting == "" && c.image == image("load-balancer") {
			setting = "LB_ENGINE=" + d.engine.name
		}
		args := []string{"run", "--rm"}
		if setting != "" {
			args = append(args, "-e", setting)
		}
		what := setting
		if c.file != "" {
			// The entrypoint runs as root, and so does this shell before it.
			args = append(args, "--entrypoint", "/bin/sh", c.image, "-c",
				fmt.Sprintf("sed -i '%s' %s && exec /usr/local/bin/supervisord-entrypoint", c.sed, c.file))
			what = fmt.Sprintf("sed '%s' %s", c.sed, c.file)
		} else {
			args = append(args, c.image)
		}
		out, err := d.run(time.Minute, "docker", args...)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("%s with %s: expected exit code 2, received %v; output:\n%s", c.image, what, err, out)
			continue
		}
		if !strings.Contains(out, "entrypoint: "+c.want+"\n") {
			t.Errorf("%s with %s: expected the error %q, received:\n%s", c.image, what, c.want, out)
		}
		if strings.Contains(out, "supervisord") && strings.Contains(out, "success to start program") {
			t.Errorf("%s with %s: a program started despite the invalid setting:\n%s", c.image, what, out)
		}
	}
}
