package loadclient

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/grpc-lb/nginx-consul/protos"
)

// RunLoad sends calls from cfg.Concurrency workers over cfg.Connections
// connections, either cfg.Calls of them or for cfg.Duration, and summarizes.
// When ctx ends, no new call starts but calls in flight run to completion, so
// stopping a run early never turns a good call into a failure.
func RunLoad(ctx context.Context, cfg Config) (Summary, error) {
	conns := make([]*grpc.ClientConn, cfg.Connections)
	for i := range conns {
		conn, err := Dial(cfg.Target())
		if err != nil {
			return Summary{}, err
		}
		defer conn.Close()
		conns[i] = conn
	}

	var next atomic.Int64
	var deadline time.Time
	cpuBefore, cpuKnown := processCPU()
	start := time.Now()
	if cfg.Duration > 0 {
		deadline = start.Add(cfg.Duration)
	}
	more := func() bool {
		if ctx.Err() != nil {
			return false
		}
		if !deadline.IsZero() {
			return time.Now().Before(deadline)
		}
		return next.Add(1) <= int64(cfg.Calls)
	}

	var pace <-chan struct{}
	if cfg.Rate > 0 {
		stopPacer := make(chan struct{})
		defer close(stopPacer)
		pace = pacer(cfg.Rate, cfg.Concurrency, stopPacer)
	}

	perWorker := make([][]result, cfg.Concurrency)
	var wg sync.WaitGroup
	for w := 0; w < cfg.Concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			client := protos.NewPingClient(conns[w%len(conns)])
			for more() {
				if pace != nil {
					<-pace
				}
				perWorker[w] = append(perWorker[w], callOnce(context.Background(), client, cfg.Greeting, cfg.Timeout))
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpuAfter, _ := processCPU()

	var all []result
	for _, rs := range perWorker {
		all = append(all, rs...)
	}
	s := summarize(cfg.Target(), start, elapsed, all)
	s.CPUSeconds = -1
	if cpuKnown {
		s.CPUSeconds = (cpuAfter - cpuBefore).Seconds()
	}
	return s, nil
}

// pacer releases calls at rate per second. With a fixed rate the number of
// failed calls during an outage measures the outage, instead of how fast
// workers can fail; calls the workers cannot keep up with are not queued.
func pacer(rate float64, burst int, stop <-chan struct{}) <-chan struct{} {
	tokens := make(chan struct{}, burst)
	go func() {
		start := time.Now()
		released := 0
		ticker := time.NewTicker(time.Millisecond)
		defer ticker.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ticker.C:
			}
			due := int(time.Since(start).Seconds() * rate)
			for ; released < due; released++ {
				select {
				case tokens <- struct{}{}:
				default:
				}
			}
		}
	}()
	return tokens
}
