//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/grpc-lb/nginx-consul/build/test/transparency"
)

// defaultFlowControl is grpc-go's own flow control (a stock server's),
// which TestResilience's replicas run: what users put behind the engines.
const defaultFlowControl = "dynamic"

// requireFlowControl fails unless every replica's server, grpc_server in
// hello_server and echo_server in echo_server, runs with -flow-control=mode.
func (d *Deployment) requireFlowControl(t *testing.T, mode string) {
	t.Helper()
	for service, server := range map[string]string{"hello_server": "grpc_server", echoService: "echo_server"} {
		prefix := "/usr/local/bin/" + server + " -port=7777 -drain=3s -shutdown-timeout=10s -flow-control=" + mode + " "
		ids := d.ContainerIDs(service)
		if len(ids) == 0 {
			t.Fatalf("no %s container", service)
		}
		for _, id := range ids {
			if len(d.processes(id, prefix)) != 1 {
				t.Fatalf("%s replica %s: expected one process %q, found none", service, id, prefix)
			}
		}
	}
}

// largeCallsAfterScaling is issue #19's reproduction, run after the scaling
// scenarios under load: on one client connection, six runs of 2,000 large
// unary calls (the interop soak's sizes) from 4 threads to one replica (of
// echo_server, which serves protos.Echo) in
// grpc-go's default flow control, each call OK within a second; large
// streams of each kind; then streams stuck in the balancer (a client that
// stops reading, a replica that stops reading) and calls canceled mid-call
// must hold no other call.
func largeCallsAfterScaling(t *testing.T, d *Deployment) {
	d.echoRoutedTo(t, time.Minute, d.ScaleServiceTo(t, echoService, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	conn, err := transparency.Dial(lbAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for run := 1; run <= 6; run++ {
		start := time.Now()
		s := transparency.LargeUnarySoak(ctx, conn, 4, 2000, 0)
		fmt.Printf("large unary calls, run %d of 6: %s (%s)\n", run, s, time.Since(start).Round(time.Millisecond))
		if err := s.Err(); err != nil {
			t.Errorf("run %d of 6: %v", run, err)
		}
	}
	if err := transparency.LargeStreams(ctx, conn, 16); err != nil {
		t.Errorf("large streams: %v", err)
	}
	stuck, err := transparency.StuckStreams(ctx, lbAddr, 20)
	if err != nil {
		t.Errorf("stuck streams: %v", err)
	} else {
		fmt.Println("stuck streams: another client's 20 large calls each passed within 1 s")
	}
	// The scenarios after this one stop replicas and count on their calls
	// finishing: the stuck calls must be over on the replica first. HAProxy
	// delivers the writers' cancel only once the replica reads again.
	started := time.Now()
	if err := stuck.AwaitEnded(ctx, lbAddr, 2*time.Minute); err != nil {
		t.Errorf("the stuck calls did not end on the replica: %v", err)
	} else {
		fmt.Printf("the stuck calls ended on the replica %s after the check\n", time.Since(started).Round(100*time.Millisecond))
	}
	if err := transparency.CanceledLargeCalls(ctx, lbAddr, 10); err != nil {
		t.Errorf("canceled calls: %v", err)
	} else {
		fmt.Println("canceled calls: the same client's next 10 large calls each passed within 1 s")
	}
}
