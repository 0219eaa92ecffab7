package goaway

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/ghzload"
	"github.com/grpc-lb/nginx-consul/build/test/testenv"
	"github.com/grpc-lb/nginx-consul/grpc_client/loadclient"
)

// The load and the reloads, the same for both clients. Measured on a
// loaded 2-core machine with -c 50: at 30 reloads 300 ms apart, ghz saw
// draining failures after 6 (4 connections), 13 (16) and 15 (50
// connections) of the 30 reloads; at 1 s apart with 4 connections after 3
// to 6 of 10. Each reload is a separate chance, so 30 of them with 16
// connections leave a ghz that surfaces these failures a tiny chance of
// showing none.
const (
	concurrency = 50
	connections = 16
	reloads     = 30
	interval    = 300 * time.Millisecond
	// The load runs from before the first reload to after the last.
	duration = interval*(reloads+1) + 500*time.Millisecond
)

// reloadsDuring sends nginx's master SIGHUP (what `nginx -s reload` sends)
// reloads times, interval apart, starting one interval from now. The
// returned func waits for the last one and returns when each was sent.
func reloadsDuring(t *testing.T, n *testenv.ProdNginx) func() []time.Time {
	t.Helper()
	var (
		mu    sync.Mutex
		marks []time.Time
		errs  []error
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for i := 0; i < reloads; i++ {
			time.Sleep(interval)
			mu.Lock()
			marks = append(marks, time.Now())
			mu.Unlock()
			if err := n.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("reload %d: %v", i+1, err))
				mu.Unlock()
				return
			}
		}
	}()
	return func() []time.Time {
		t.Helper()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, err := range errs {
			t.Fatal(err)
		}
		return marks
	}
}

// requireReloaded waits until nginx's master has logged want reloads in all.
func requireReloaded(t *testing.T, n *testenv.ProdNginx, want int) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, fmt.Sprintf("nginx logs %d reloads", want), func() error {
		if got := strings.Count(n.Output(), "(SIGHUP) received"); got != want {
			return fmt.Errorf("%d logged", got)
		}
		return nil
	})
}

// TestGhzSurfacesGoawayGrpcClientDoesNot runs each client through the
// production nginx (real consul-template render) to three real servers
// while nginx reloads 30 times. ghz (grpc-go v1.34.0) must report calls
// failed with "the connection is draining": that proves the reloads
// refuse calls with GOAWAY and that ghz shows them, so a zero from ghz
// elsewhere means something. grpc_client (current grpc-go) must report
// none, since it retries them transparently.
func TestGhzSurfacesGoawayGrpcClientDoesNot(t *testing.T) {
	ghz := testenv.Tool(t, "ghz")
	client := testenv.Binary(t, "./grpc_client")
	var addrs []string
	for _, h := range []string{"a", "b", "c"} {
		addrs = append(addrs, testenv.StartPingServer(t, h).Addr)
	}
	n := testenv.StartProdNginx(t, addrs)

	// ghz first: it has to show there is something to see.
	wait := reloadsDuring(t, n)
	rep, _, err := ghzload.Run(context.Background(), ghzload.Config{
		Ghz: ghz, Proto: filepath.Join(testenv.RepoRoot(t), "protos", "api.proto"), Target: n.Addr,
		Concurrency: concurrency, Connections: connections, Duration: duration,
	})
	marks := wait()
	if err != nil {
		t.Fatal(err)
	}
	requireReloaded(t, n, reloads)
	s := ghzload.Summarize(rep, marks...)
	perReload := make([]int, 0, reloads)
	hit := 0
	for _, w := range s.Windows[1:] {
		perReload = append(perReload, w.Matching(ghzload.DrainingMessage))
		if perReload[len(perReload)-1] > 0 {
			hit++
		}
	}
	drained := s.Matching(ghzload.DrainingMessage)
	t.Logf("ghz: %d calls (%.0f/s), %d failed, %d draining; draining per reload %v (%d of %d reloads); before the first reload: %d failed; errors %v",
		s.Calls, s.CallsPerSecond, s.Failed, drained, perReload, hit, reloads, s.Windows[0].Failed, s.Errors)
	if s.Calls == 0 || s.OK == 0 {
		t.Fatalf("ghz made %d calls, %d OK: the load did not run", s.Calls, s.OK)
	}
	if drained == 0 {
		t.Fatalf("ghz reported no call failed with %q over %d reloads of nginx under %d calls in flight on %d connections: "+
			"either the reloads no longer refuse calls with GOAWAY or ghz retries them transparently; then a zero from it proves nothing", ghzload.DrainingMessage, reloads, concurrency, connections)
	}
	if s.Windows[0].Failed != 0 {
		t.Errorf("ghz: %d calls failed before the first reload: %v", s.Windows[0].Failed, s.Windows[0].Errors)
	}

	// The control: the same load and reloads, the project's client.
	host, port, err := net.SplitHostPort(n.Addr)
	if err != nil {
		t.Fatal(err)
	}
	wait = reloadsDuring(t, n)
	p := testenv.Start(t, nil, client, "-host="+host, "-port="+port,
		"-c="+strconv.Itoa(concurrency), "-connections="+strconv.Itoa(connections), "-duration="+duration.String(), "-json")
	code := p.Wait(t, duration+30*time.Second)
	wait()
	requireReloaded(t, n, 2*reloads)
	var cs loadclient.Summary
	if err := json.Unmarshal([]byte(p.Output()), &cs); err != nil {
		t.Fatalf("grpc_client (exit %d) printed no JSON summary: %v\n%s", code, err, p.Output())
	}
	byMessage := map[string]int{}
	for _, f := range cs.Failures {
		byMessage[f.Code+": "+f.Message]++
	}
	t.Logf("grpc_client: %d calls (%.0f/s), %d failed %v", cs.Calls, cs.CallsPerSecond, cs.Failed, byMessage)
	if cs.OK == 0 {
		t.Fatalf("grpc_client made %d calls, none OK: the load did not run", cs.Calls)
	}
	if cs.Failed != 0 {
		t.Errorf("grpc_client: %d of %d calls failed under the same %d reloads, want none (it retries GOAWAY'd calls transparently): %v",
			cs.Failed, cs.Calls, reloads, byMessage)
	}
}
