//go:build e2e

package e2e

import (
	"fmt"
	"net/http"
	"sort"
	"testing"

	"github.com/hashicorp/consul/api"
)

func consulClient(t *testing.T) *api.Client {
	t.Helper()
	c, err := api.NewClient(&api.Config{Address: consulAddr})
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
