package testenv

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/consul/api"
	"github.com/hashicorp/consul/sdk/testutil"
)

var pathOnce sync.Once

// putToolsOnPath makes sdk/testutil find the Consul that `make tools` built.
func putToolsOnPath(t testing.TB) {
	t.Helper()
	Tool(t, "consul")
	pathOnce.Do(func() {
		bin := filepath.Join(RepoRoot(t), "bin")
		os.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	})
}

// Consul is a real single-node Consul agent (server mode) on loopback ports.
type Consul struct {
	*testutil.TestServer
	// Client carries the initial management token when the test enabled
	// ACLs (see EnableACLs), so a test's setup is never denied.
	Client *api.Client
	logs   *SyncBuffer
}

// StartConsul starts an agent and stops it when the test ends. configure may
// adjust the agent's config (e.g. reuse ports for a restart, EnableACLs).
func StartConsul(t testing.TB, configure ...func(*testutil.TestServerConfig)) *Consul {
	t.Helper()
	putToolsOnPath(t)
	logs := &SyncBuffer{}
	srv, err := testutil.NewTestServerConfigT(t, func(c *testutil.TestServerConfig) {
		c.LogLevel = "warn"
		c.Stdout, c.Stderr = logs, logs
		// Consul 1.13 has no "version" config key; the sdk writes one for newer agents.
		c.Version = ""
		c.Peering = nil
		for _, f := range configure {
			f(c)
		}
	})
	if err != nil {
		t.Fatalf("starting consul: %v", err)
	}
	c := &Consul{TestServer: srv, logs: logs}
	t.Cleanup(func() {
		_ = srv.Stop()
		if t.Failed() {
			t.Logf("consul logs:\n%s", logs.String())
		}
	})
	// WaitForLeader sends the initial management token itself.
	srv.WaitForLeader(t)
	// The token is empty without ACLs, as before.
	client, err := api.NewClient(&api.Config{Address: srv.HTTPAddr, Token: srv.Config.ACL.Tokens.InitialManagement})
	if err != nil {
		t.Fatal(err)
	}
	c.Client = client
	if srv.Config.ACL.Enabled {
		waitForACLs(t, c)
	}
	return c
}

// Logs is what the agent printed so far.
func (c *Consul) Logs() string { return c.logs.String() }

// HealthOf returns the aggregated health of every instance of a service, by
// service ID ("passing", "warning", "critical").
func (c *Consul) HealthOf(service string) (map[string]string, error) {
	entries, _, err := c.Client.Health().Service(service, "", false, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, e := range entries {
		out[e.Service.ID] = e.Checks.AggregatedStatus()
	}
	return out, nil
}

// SyncBuffer is a buffer that a process's output and a test may use at once.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.Clone(b.buf.String())
}
