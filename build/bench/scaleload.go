package main

import "time"

// measureScaleLoad counts failed calls while scaling 2 -> 5 -> 2 under
// load, and keeps the per-second timeline for the plot.
func (b *Bench) measureScaleLoad() error {
	if err := b.scale(2); err != nil {
		return err
	}
	cmd, out, err := clientStart("bench-scale-load", "load-balancer", 5000, "-c=50", "-rate=2000")
	if err != nil {
		return err
	}
	time.Sleep(5 * time.Second)
	for _, n := range []int{5, 2} {
		b.ScaleEvents = append(b.ScaleEvents, ScaleEvent{At: time.Now(), Replicas: n})
		if err := b.scale(n); err != nil {
			return err
		}
		time.Sleep(5 * time.Second)
	}
	s, err := clientStop("bench-scale-load", cmd, out)
	if err != nil {
		return err
	}
	b.ScaleLoad = s
	logf("scale 2 -> 5 -> 2 under load: %d calls, %d failed", s.Calls, s.Failed)
	return nil
}
