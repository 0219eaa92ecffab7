//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/grpc-lb/nginx-consul/build/test/ghzload"
	"github.com/grpc-lb/nginx-consul/build/test/transparency"
	"github.com/grpc-lb/nginx-consul/protos"
)

// echoGhzDuration is how long ghz calls Echo while echo_server scales 2 ->
// 5 -> 2: longer than that takes here (about 25 s), which the scenario
// checks.
const echoGhzDuration = 50 * time.Second

// echoService is the deployment's second Consul service: echo_server,
// serving protos.Echo (build/config/services.conf).
const echoService = "echo_server"

// twoServices is issue #21's proof with the deployment's two services: under
// load of both, echo_server scales 2 -> 5 -> 2 on its own with no failed call
// of either service; each service's calls land on its own replicas only,
// spread over all of them; echo_server's token cannot register hello_server,
// and an echo_server instance that names protos.Ping in its tags and
// metadata gets no protos.Ping call; with no echo_server replica, Echo is
// answered UNAVAILABLE naming the service, while Ping is served. ghz on
// Echo during the scaling: no failed call with HAProxy, and with nginx only
// those a reload's GOAWAY allows, counted (requireGhzThroughChanges).
func twoServices(t *testing.T, d *Deployment) {
	lb := d.ContainerIDs("load-balancer")[0]
	hello := d.Hostnames()
	echo := d.ScaleServiceTo(t, echoService, 2)
	d.echoRoutedTo(t, time.Minute, echo)

	ping := d.StartLoad(t, "-c=20", "-rate=500")
	echoLoad := startEchoLoad(8)
	// And ghz, a client that does not retry, on Echo: see scalingUnderGhz.
	started := time.Now()
	waitGhz := startGhz(ghzload.Config{
		Ghz: filepath.Join(d.root, "bin", "ghz"), Proto: filepath.Join(d.root, "protos", "echo.proto"),
		Method: "protos.Echo.Unary", Data: `{"request_id":"ghz"}`,
		Target: lbAddr, Concurrency: 20, Connections: 2, Rate: 400, Duration: echoGhzDuration,
	}, echoGhzDuration+2*time.Minute)
	time.Sleep(3 * time.Second) // ghz's connections are up and busy
	five := d.ScaleServiceTo(t, echoService, 5)
	d.requireEchoSpread(t, time.Minute, five)
	two := d.ScaleServiceTo(t, echoService, 2)
	d.echoRoutedTo(t, time.Minute, two)
	if scaled := time.Now(); scaled.After(started.Add(echoGhzDuration)) {
		t.Fatalf("scaling echo_server 2 -> 5 -> 2 took %s, longer than ghz's %s run: raise echoGhzDuration", scaled.Sub(started).Round(time.Second), echoGhzDuration)
	}
	echoSummary := echoLoad.stop()
	pingSummary := ping.Stop(t)
	d.requireGhzThroughChanges(t, lb, started, waitGhz, "echo_server scaled 2 -> 5 -> 2 (ghz on protos.Echo)", 2)
	fmt.Printf("echo_server 2 -> 5 -> 2 under load: Echo %s\n", echoSummary)
	requireNoFailures(t, pingSummary, "Ping calls while echo_server scaled 2 -> 5 -> 2")
	if echoSummary.calls == 0 || echoSummary.failed != 0 {
		t.Errorf("Echo calls while echo_server scaled 2 -> 5 -> 2: expected some calls and 0 failed, received %s", echoSummary)
	}
	for host := range pingSummary.ByReplica {
		if !slices.Contains(hello, host) {
			t.Errorf("a Ping call was answered by %q, not a hello_server replica (%v)", host, hello)
		}
	}
	for host := range echoSummary.byReplica {
		if !slices.Contains(five, host) {
			t.Errorf("an Echo call was answered by %q, not an echo_server replica (%v)", host, five)
		}
	}

	d.echoTokenCannotTakePing(t, lb)

	// No echo_server replica: Echo gets UNAVAILABLE naming the service;
	// Ping is not affected.
	d.ScaleServiceTo(t, echoService, 0)
	eventually(t, 30*time.Second, "Echo answered UNAVAILABLE with no echo_server replica", func() error {
		_, st := echoCall(2 * time.Second)
		if st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "echo_server") || !strings.Contains(st.Message(), "protos.Echo") {
			return fmt.Errorf("received %s %q", st.Code(), st.Message())
		}
		fmt.Printf("Echo with no echo_server replica: %s %q\n", st.Code(), st.Message())
		return nil
	})
	requireNoFailures(t, d.Load(time.Minute, "-n=200", "-c=8"), "Ping calls with no echo_server replica")
	d.echoRoutedTo(t, time.Minute, d.ScaleServiceTo(t, echoService, 1))
}

// echoTokenCannotTakePing checks the trust model (build/config/consul/
// README.md, "Who may serve what") from inside an echo_server replica, with
// its own registrar token: registering hello_server is refused, and an
// echo_server instance whose tags and metadata claim protos.Ping is routed
// for echo_server and never for hello_server. The instance is at the
// replica's address and port 7778, where nothing listens: an address no
// other instance has, so each engine's /upstream lists it once it is routed
// (HAProxy lists an address once, however many instances share it).
func (d *Deployment) echoTokenCannotTakePing(t *testing.T, lb string) {
	t.Helper()
	replica := d.ContainerIDs(echoService)[0]
	address := d.ContainerIP(replica)
	out, err := d.run(30*time.Second, "docker", "exec", replica, "/usr/local/bin/consul", "services", "register",
		"-token-file="+registrarTokenFile, "-id=hello_server-from-echo", "-name=hello_server",
		"-address="+address, "-port=7777")
	if err == nil || !strings.Contains(out, "Permission denied") {
		t.Errorf("echo_server's registrar token registering hello_server: expected Permission denied, received (err %v):\n%s", err, out)
	}
	fmt.Printf("echo_server's token registering hello_server: refused (%s)\n", strings.TrimSpace(out))

	d.mustRun(30*time.Second, "docker", "exec", replica, "/usr/local/bin/consul", "services", "register",
		"-token-file="+registrarTokenFile, "-id=echo_server-claims-ping", "-name="+echoService,
		"-address="+address, "-port=7778", "-tag=protos.Ping", "-tag=grpc", "-meta=grpc_service=protos.Ping")
	deregister := func() {
		if out, err := d.run(30*time.Second, "docker", "exec", replica, "/usr/local/bin/consul", "services", "deregister",
			"-token-file="+registrarTokenFile, "-id=echo_server-claims-ping"); err != nil {
			t.Errorf("deregistering echo_server-claims-ping: %v: %s", err, out)
		}
	}
	// Deregistered below; on a failure before that, when the test ends
	// (the scenario's replicas are still up then: restore keeps them).
	deregistered := false
	t.Cleanup(func() {
		if !deregistered {
			deregister()
		}
	})
	addr := net.JoinHostPort(address, "7778")
	eventually(t, 30*time.Second, "the claiming instance routed for echo_server", func() error {
		list, err := d.upstreamOf(lb, echoService)
		if err != nil {
			return err
		}
		if !slices.Contains(strings.Fields(list), addr) {
			return fmt.Errorf("/upstream/%s does not list %s: %q", echoService, addr, list)
		}
		return nil
	})
	s := d.Load(time.Minute, "-n=500", "-c=8")
	requireNoFailures(t, s, "Ping calls while an echo_server instance claims protos.Ping")
	// The check that can fail: a template routing by tags or metadata puts
	// the instance into hello_server's upstream, and Ping calls still pass
	// (the engine tries the next replica when port 7778 refuses).
	if list, err := d.upstreamOf(lb, "hello_server"); err != nil || slices.Contains(strings.Fields(list), addr) {
		t.Errorf("/upstream/hello_server: expected no %s (echo_server's instance claiming protos.Ping), received %q (err %v)", addr, list, err)
	} else {
		fmt.Printf("an echo_server instance claiming protos.Ping: routed for Echo only; %d Ping calls, 0 failed, by %v\n", s.Calls, s.ByReplica)
	}
	deregister()
	deregistered = true
}

// upstreamOf is what the engine's 8080 listener says it routes to for the
// Consul service.
func (d *Deployment) upstreamOf(lb, service string) (string, error) {
	return d.run(10*time.Second, "docker", "exec", lb, "wget", "-q", "-T", "2", "-O", "-", "http://127.0.0.1:8080/upstream/"+service)
}

// echoCall makes one Echo call through the load balancer and returns the
// replica that answered and the call's status.
func echoCall(timeout time.Duration) (string, *status.Status) {
	conn, err := transparency.Dial(lbAddr)
	if err != nil {
		return "", status.New(codes.Internal, err.Error())
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	reply, err := protos.NewEchoClient(conn).Unary(ctx, &protos.EchoRequest{RequestId: "one"})
	return reply.GetHostname(), status.Convert(err)
}

// echoRoutedTo waits until Echo calls through :5000 reach every one of
// hosts.
func (d *Deployment) echoRoutedTo(t *testing.T, deadline time.Duration, hosts []string) {
	t.Helper()
	eventually(t, deadline, fmt.Sprintf("Echo calls reach all of %v", hosts), func() error {
		s := echoBatch(40*len(hosts), 8)
		for _, h := range hosts {
			if s.byReplica[h] == 0 {
				return fmt.Errorf("echo_server replica %s got no calls: %s", h, s)
			}
		}
		return nil
	})
}

// requireEchoSpread waits until a batch of Echo calls reaches every one of
// hosts, then requires of the next batch that each got at least half of an
// even share and nothing else answered.
func (d *Deployment) requireEchoSpread(t *testing.T, deadline time.Duration, hosts []string) {
	t.Helper()
	d.echoRoutedTo(t, deadline, hosts)
	calls := 100 * len(hosts)
	s := echoBatch(calls, 8)
	fmt.Printf("Echo spread over %d echo_server replicas: %s\n", len(hosts), s)
	for _, h := range hosts {
		if s.byReplica[h] < calls/len(hosts)/2 {
			t.Errorf("echo_server replica %s got %d of %d Echo calls; expected at least half of an even share (%d): %s", h, s.byReplica[h], calls, calls/len(hosts)/2, s)
		}
	}
	if s.failed != 0 || s.calls != calls {
		t.Errorf("Echo spread batch: expected %d calls and none failed, received %s", calls, s)
	}
}

// echoSummary counts Echo calls: how many, how many failed (by code), and
// which replica answered each.
type echoSummary struct {
	calls, failed int
	codes         map[codes.Code]int
	byReplica     map[string]int
	firstFailure  string
}

func (s echoSummary) String() string {
	return fmt.Sprintf("%d calls, %d failed %v%s, by replica %v", s.calls, s.failed, s.codes, map[bool]string{true: " (first: " + s.firstFailure + ")", false: ""}[s.firstFailure != ""], s.byReplica)
}

// echoRecorder is an echoSummary that several goroutines add to.
type echoRecorder struct {
	mu sync.Mutex
	s  echoSummary
}

func newEchoRecorder() *echoRecorder {
	return &echoRecorder{s: echoSummary{codes: map[codes.Code]int{}, byReplica: map[string]int{}}}
}

func (r *echoRecorder) add(host string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.calls++
	if err != nil {
		st := status.Convert(err)
		r.s.failed++
		r.s.codes[st.Code()]++
		if r.s.firstFailure == "" {
			r.s.firstFailure = fmt.Sprintf("%s %q", st.Code(), st.Message())
		}
		return
	}
	r.s.byReplica[host]++
}

// echoWorker makes Echo calls on conn until more says stop.
func echoWorker(conn *grpc.ClientConn, r *echoRecorder, more func() bool) {
	client := protos.NewEchoClient(conn)
	for more() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		reply, err := client.Unary(ctx, &protos.EchoRequest{RequestId: "load"})
		cancel()
		r.add(reply.GetHostname(), err)
	}
}

// echoBatch makes n Echo calls from c goroutines on one new connection.
func echoBatch(n, c int) echoSummary {
	r := newEchoRecorder()
	conn, err := transparency.Dial(lbAddr)
	if err != nil {
		r.add("", err)
		return r.s
	}
	defer conn.Close()
	var left sync.Mutex
	remaining := n
	more := func() bool {
		left.Lock()
		defer left.Unlock()
		remaining--
		return remaining >= 0
	}
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			echoWorker(conn, r, more)
		}()
	}
	wg.Wait()
	return r.s
}

// echoLoad is Echo calls from c goroutines on one connection, until stop.
type echoLoad struct {
	r    *echoRecorder
	done chan struct{}
	wg   sync.WaitGroup
	conn *grpc.ClientConn
}

func startEchoLoad(c int) *echoLoad {
	l := &echoLoad{r: newEchoRecorder(), done: make(chan struct{})}
	conn, err := transparency.Dial(lbAddr)
	if err != nil {
		l.r.add("", err)
		return l
	}
	l.conn = conn
	more := func() bool {
		select {
		case <-l.done:
			return false
		default:
			return true
		}
	}
	for range c {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			echoWorker(conn, l.r, more)
		}()
	}
	return l
}

func (l *echoLoad) stop() echoSummary {
	close(l.done)
	l.wg.Wait()
	if l.conn != nil {
		l.conn.Close()
	}
	l.r.mu.Lock()
	defer l.r.mu.Unlock()
	return l.r.s
}
