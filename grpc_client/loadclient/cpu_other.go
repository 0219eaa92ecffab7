//go:build !unix

package loadclient

import "time"

// processCPU is not measured on this platform; the summary then reports
// cpu_seconds as -1.
func processCPU() (time.Duration, bool) { return 0, false }
