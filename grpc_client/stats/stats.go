// Package stats holds the percentile and median of grpc_client's load
// summaries. It lives next to the client because the client defines what its
// p50/p90/p99 mean; the benchmark (build/test/bench) imports it for its own
// medians and percentiles, so every figure the project reports is computed
// the same way.
package stats

import (
	"cmp"
	"slices"
)

// Percentile is the nearest-rank percentile of values (p from 0 to 1): the
// smallest value with at least p of all values at or below it. values need
// not be sorted and are left as they are; no values gives the zero value.
func Percentile[T cmp.Ordered](values []T, p float64) T {
	if len(values) == 0 {
		var zero T
		return zero
	}
	sorted := slices.Clone(values)
	slices.Sort(sorted)
	// The tiny margin keeps p*n that should be whole (0.9*10) from rounding
	// up to the next rank through floating-point error.
	rank := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(rank, len(sorted)-1))]
}

// Median is the 50th nearest-rank percentile: the middle value, or the lower
// of the two middle ones when there is an even number of values.
func Median[T cmp.Ordered](values []T) T {
	return Percentile(values, 0.5)
}
