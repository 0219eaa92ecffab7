package testenv

import (
	"io"
	"net/http"
	"testing"
)

// :8080/upstream answers with the servers of the upstream the workers run,
// which the end-to-end suite reads to prove that a reload took effect.
func TestProdNginxServesItsUpstream(t *testing.T) {
	for _, c := range []struct {
		name  string
		addrs []string
		want  string
	}{
		{"two replicas", []string{"127.0.0.1:7001", "127.0.0.2:7002"}, "127.0.0.1:7001 127.0.0.2:7002 \n"},
		{"no replica", nil, "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := StartProdNginx(t, c.addrs)
			resp, err := http.Get("http://" + n.HealthAddr + "/upstream")
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK || string(body) != c.want {
				t.Fatalf("GET /upstream:\n  expected 200 %q\n  received %d %q", c.want, resp.StatusCode, body)
			}
		})
	}
}
