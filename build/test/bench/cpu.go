package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// CPUPerCall is where the CPU time of one throughput run went, per call:
// the load generator (its own count), the load balancer's and the replicas'
// containers (their cgroups), and the whole machine (/proc/stat), which also
// holds the kernel's network work that no container is charged for.
type CPUPerCall struct {
	Client, LB, Replicas, Machine time.Duration
}

// containerCPU reads a container's cumulative CPU time from its own cgroup:
// cgroup v2's cpu.stat, or cgroup v1's cpuacct.usage.
func containerCPU(id string) (time.Duration, error) {
	out, err := run("docker", "exec", id, "sh", "-c",
		"cat /sys/fs/cgroup/cpu.stat 2>/dev/null || echo cpuacct_ns $(cat /sys/fs/cgroup/cpuacct/cpuacct.usage)")
	if err != nil {
		return 0, err
	}
	return parseCgroupCPU(out)
}

// parseCgroupCPU reads "usage_usec N" (cgroup v2) or "cpuacct_ns N" (v1, as
// containerCPU prints it).
func parseCgroupCPU(out string) (time.Duration, error) {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 2 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "usage_usec":
			return time.Duration(n) * time.Microsecond, nil
		case "cpuacct_ns":
			return time.Duration(n), nil
		}
	}
	return 0, fmt.Errorf("no CPU usage in the container's cgroup files: %q", out)
}

// machineBusy is the CPU time all cores have spent not idle since boot.
func machineBusy() (time.Duration, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseProcStatBusy(string(data))
}

// parseProcStatBusy sums the first line of /proc/stat except idle and iowait
// (guest time is already inside user). Units are USER_HZ, 100 per second on
// Linux.
func parseProcStatBusy(stat string) (time.Duration, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("unexpected /proc/stat first line %q", line)
	}
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait, guest, guest_nice
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat field %d %q: %v", i+1, v, err)
		}
		busy += n
	}
	return time.Duration(busy) * (time.Second / 100), nil
}

// cpuSnapshot is the counters before or after a run.
type cpuSnapshot struct {
	lb, replicas, machine time.Duration
}

func takeCPUSnapshot(lb string, replicas []string) (cpuSnapshot, error) {
	var s cpuSnapshot
	var err error
	if s.lb, err = containerCPU(lb); err != nil {
		return s, err
	}
	for _, id := range replicas {
		d, err := containerCPU(id)
		if err != nil {
			return s, err
		}
		s.replicas += d
	}
	s.machine, err = machineBusy()
	return s, err
}

// perCall divides what each part used between two snapshots by the calls.
func perCall(before, after cpuSnapshot, clientCPUSeconds float64, calls int) CPUPerCall {
	if calls == 0 {
		return CPUPerCall{}
	}
	n := time.Duration(calls)
	return CPUPerCall{
		Client:   time.Duration(clientCPUSeconds*float64(time.Second)) / n,
		LB:       (after.lb - before.lb) / n,
		Replicas: (after.replicas - before.replicas) / n,
		Machine:  (after.machine - before.machine) / n,
	}
}
