package stats

import (
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 20; i++ {
		d = append(d, time.Duration(21-i)*time.Millisecond) // unsorted on purpose
	}
	if got := Percentile(d, 0.5); got != 10*time.Millisecond {
		t.Errorf("p50: expected 10ms, received %s", got)
	}
	if got := Percentile(d, 0.95); got != 19*time.Millisecond {
		t.Errorf("p95: expected 19ms, received %s", got)
	}
	if got := Percentile(d, 1); got != 20*time.Millisecond {
		t.Errorf("p100: expected the largest, 20ms, received %s", got)
	}
	if got := Percentile(d, 0); got != time.Millisecond {
		t.Errorf("p0: expected the smallest, 1ms, received %s", got)
	}
	if d[0] != 20*time.Millisecond {
		t.Errorf("Percentile sorted its input in place: d[0] is %s, expected it untouched (20ms)", d[0])
	}
	if got := Percentile[time.Duration](nil, 0.95); got != 0 {
		t.Errorf("p95 of nothing: expected 0, received %s", got)
	}
}

// A rank that is not whole rounds up: p91 of 1..10 is 10 (nearest rank: 9
// of 10 values is less than 91%), p1 of 1..100 is 1. Whole ranks must not:
// p7 of 1..100 is 7 (0.07*100 is 7.000000000000001 in floating point), p90
// is 90, p99 is 99.
func TestPercentileRanks(t *testing.T) {
	ten := []int{10, 9, 8, 7, 6, 5, 4, 3, 2, 1}
	if got := Percentile(ten, 0.91); got != 10 {
		t.Errorf("p91 of 1..10: expected 10, received %v", got)
	}
	var v []float64
	for i := 100; i >= 1; i-- {
		v = append(v, float64(i))
	}
	for p, want := range map[float64]float64{0.01: 1, 0.07: 7, 0.5: 50, 0.9: 90, 0.99: 99} {
		if got := Percentile(v, p); got != want {
			t.Errorf("p%v of 1..100: expected %v, received %v", p*100, want, got)
		}
	}
}

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2}, // even: the lower middle value
		{[]float64{7}, 7},
		{nil, 0},
	} {
		if got := Median(c.in); got != c.want {
			t.Errorf("Median(%v): expected %v, received %v", c.in, c.want, got)
		}
	}
}
