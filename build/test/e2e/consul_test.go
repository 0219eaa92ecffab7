//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
)

// consulClient reaches the published Consul API with the read-only UI
// token, the one `make ui-token` prints: the suite reads what a user can see,
// and never holds a token that could change anything.
func consulClient(t *testing.T) *api.Client {
	t.Helper()
	return consulClientWith(t, token(t, "ui"))
}

// consulClientWith reaches the published Consul API with token ("" is the
// anonymous token).
func consulClientWith(t *testing.T, token string) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: consulAddr, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// passingHostnames lists the hostnames (service meta) of the passing
// instances of service, sorted.
func passingHostnames(c *api.Client, service string) ([]string, error) {
	entries, _, err := c.Health().Service(service, "", true, nil)
	if err != nil {
		return nil, err
	}
	var hosts []string
	for _, e := range entries {
		hosts = append(hosts, e.Service.Meta["hostname"])
	}
	sort.Strings(hosts)
	return hosts, nil
}

// uiAnswers checks that the Consul UI serves its page.
func uiAnswers() error {
	resp, err := http.Get("http://" + consulAddr + "/ui/")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /ui/: status %d, want 200", resp.StatusCode)
	}
	return nil
}

// waitConsulHealthy waits until autopilot reports all three servers healthy
// voters with one failure tolerated: what a restarted server must restore
// before another may stop (a server that comes back at a new address is
// healthy only once raft has taken in that address).
func waitConsulHealthy(t *testing.T, c *api.Client, deadline time.Duration) {
	t.Helper()
	start := time.Now()
	eventually(t, deadline, "Consul healthy: 3 servers, 1 failure tolerated", func() error {
		return consulHealthy(c)
	})
	fmt.Printf("Consul healthy (3 servers, 1 failure tolerated) after %s\n", time.Since(start).Round(100*time.Millisecond))
}

func consulHealthy(c *api.Client) error {
	h, err := c.Operator().AutopilotServerHealth(nil)
	if err != nil {
		return err
	}
	var servers []string
	for _, s := range h.Servers {
		servers = append(servers, fmt.Sprintf("%s %s healthy=%v voter=%v leader=%v", s.Name, s.Address, s.Healthy, s.Voter, s.Leader))
	}
	if !h.Healthy || h.FailureTolerance < 1 || len(h.Servers) != 3 {
		// Raft's own list shows what autopilot's leaves out: an entry at a
		// server's old address, or a server raft does not count.
		var peers []string
		if raft, err := c.Operator().RaftGetConfiguration(nil); err != nil {
			peers = append(peers, "unread: "+err.Error())
		} else {
			for _, s := range raft.Servers {
				peers = append(peers, fmt.Sprintf("%s %s voter=%v leader=%v", s.Node, s.Address, s.Voter, s.Leader))
			}
		}
		return fmt.Errorf("autopilot: healthy %v, failure tolerance %d, servers %v; raft peers %v", h.Healthy, h.FailureTolerance, servers, peers)
	}
	return nil
}
