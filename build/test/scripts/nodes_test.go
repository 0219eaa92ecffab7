// Package scripts holds the scripts that only the tests run: engine-root.sh
// (the images' nginx and HAProxy for the integration tests),
// check-generated.sh (make check's generated-code and tidy check) and
// nodes.sh (the swarm of Docker daemons of TestSwarmThreeNodes). This test
// checks that nodes.sh refuses a bad setting with exit 2 and one line naming
// the setting, the value and what is accepted, before it changes anything.
package scripts

import (
	"os"
	"strings"
	"testing"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

func TestNodesScriptRefusesBadSettings(t *testing.T) {
	if os.Geteuid() != 0 {
		status, out := testenv.RunScript(t, nil, "build/test/scripts/nodes.sh", "create")
		if status == 0 || !strings.Contains(out, "run it as root") {
			t.Errorf("nodes.sh create as uid %d: exit %d, %q; expected a refusal that names root", os.Geteuid(), status, out)
		}
		return
	}
	for _, c := range []struct {
		env  []string
		args []string
		want string
	}{
		{[]string{"NODES=9"}, []string{"create"}, `NODES="9" is invalid: accepted is a whole number from 1 to 5`},
		{[]string{"STATE_DIR=relative/dir"}, []string{"create"}, `STATE_DIR="relative/dir" is invalid: accepted is an absolute path`},
		{[]string{"IMAGES=grpc-lb/no-such-image:never"}, []string{"create"}, `IMAGES: "grpc-lb/no-such-image:never" is not an image of this machine's engine`},
		{nil, []string{"split"}, `usage: nodes.sh create | destroy`},
	} {
		testenv.RequireRefused(t, c.env, "build/test/scripts/nodes.sh", c.args, c.want)
	}
}
