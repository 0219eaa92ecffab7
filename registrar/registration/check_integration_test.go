package registration

import (
	"fmt"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/testenv"
)

// The registered gRPC check follows the real server: passing while it
// serves, critical once it stops.
func TestRegistrarCheckFollowsServer(t *testing.T) {
	t.Parallel()
	consul := testenv.StartConsul(t)
	ping := testenv.StartPingServer(t, "a")
	port := portOf(t, ping.Addr)
	_, id := startRegistered(t, consul, "ping-check", port, map[string]string{"HEALTH_CHECK_ENDPOINT": "protos.Ping"})

	svc, _, err := consul.Client.Agent().Service(id, nil)
	if err != nil {
		t.Fatalf("agent service %s: %v", id, err)
	}
	if got := fmt.Sprintf("%s %s:%d", svc.Service, svc.Address, svc.Port); got != "ping-check 127.0.0.1:"+port {
		t.Errorf("registered service: got %q, want %q", got, "ping-check 127.0.0.1:"+port)
	}
	checks, err := consul.Client.Agent().Checks()
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := checks[id+"-grpc"]; !ok || c.Type != "grpc" || c.ServiceID != id {
		t.Errorf("check %s-grpc: got %+v, want a grpc check of service %s", id, c, id)
	}

	healthIs(t, consul, "ping-check", id, "passing", 15*time.Second)
	ping.GRPC.Stop()
	healthIs(t, consul, "ping-check", id, "critical", 15*time.Second)
}

// Two instances of one service on one host (different APP_PORTs) coexist.
func TestRegistrarTwoInstances(t *testing.T) {
	t.Parallel()
	consul := testenv.StartConsul(t)
	var ids []string
	for _, host := range []string{"a", "b"} {
		ping := testenv.StartPingServer(t, host)
		_, id := startRegistered(t, consul, "ping-two", portOf(t, ping.Addr), nil)
		ids = append(ids, id)
	}
	if ids[0] == ids[1] {
		t.Fatalf("both instances have ID %q, want distinct IDs", ids[0])
	}
	for _, id := range ids {
		healthIs(t, consul, "ping-two", id, "passing", 15*time.Second)
	}
	entries, _, err := consul.Client.Catalog().Service("ping-two", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.ServiceID)
	}
	if len(got) != 2 || !(got[0] == ids[0] && got[1] == ids[1] || got[0] == ids[1] && got[1] == ids[0]) {
		t.Errorf("catalog instances of ping-two: got %q, want exactly %q", got, ids)
	}
}
