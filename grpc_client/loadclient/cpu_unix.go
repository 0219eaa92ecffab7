//go:build unix

package loadclient

import (
	"syscall"
	"time"
)

// processCPU is the CPU time (user and system) this process has used so far.
// The benchmark divides the load generator's share by the calls it made, so
// each path's cost per call can be compared with the other containers'.
func processCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
