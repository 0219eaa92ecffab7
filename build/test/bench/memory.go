package main

import (
	"fmt"
	"strconv"
	"strings"
)

// ContainerMemory is one container's memory use while idle.
type ContainerMemory struct {
	Service string
	MiB     float64
}

// measureMemory reads idle memory per container (one replica, no load) and
// the image sizes.
func (b *Bench) measureMemory() error {
	if err := b.scale(1); err != nil {
		return err
	}
	out, err := b.compose("ps", "-q")
	if err != nil {
		return err
	}
	ids := strings.Fields(out)
	stats, err := run("docker", append([]string{"stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}"}, ids...)...)
	if err != nil {
		return err
	}
	for _, line := range strings.Split(strings.TrimSpace(stats), "\n") {
		f := strings.Fields(line) // name used / limit
		if len(f) < 2 {
			continue
		}
		mib, err := parseMiB(f[1])
		if err != nil {
			return fmt.Errorf("docker stats %q: %v", line, err)
		}
		b.Memory = append(b.Memory, ContainerMemory{Service: serviceOf(f[0]), MiB: mib})
	}
	b.ImageSizes = map[string]int64{}
	for _, image := range []string{"grpc-lb/base:latest", "grpc-lb/hello-server:latest", "grpc-lb/load-balancer:latest"} {
		size, err := run("docker", "image", "inspect", "--format", "{{.Size}}", image)
		if err != nil {
			return err
		}
		n, err := strconv.ParseInt(strings.TrimSpace(size), 10, 64)
		if err != nil {
			return err
		}
		b.ImageSizes[image] = n
	}
	return nil
}

// parseMiB reads docker stats' "12.3MiB" or "1.2GiB" or "900KiB".
func parseMiB(s string) (float64, error) {
	units := []struct {
		suffix string
		mib    float64
	}{{"GiB", 1024}, {"MiB", 1}, {"KiB", 1.0 / 1024}, {"B", 1.0 / (1024 * 1024)}}
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			f, err := strconv.ParseFloat(v, 64)
			return f * u.mib, err
		}
	}
	return 0, fmt.Errorf("unknown unit in %q", s)
}

// serviceOf turns grpclb_hello_server_1 or grpclb-hello_server-1 into hello_server.
func serviceOf(container string) string {
	name := strings.TrimPrefix(strings.TrimPrefix(container, "grpclb_"), "grpclb-")
	if i := strings.LastIndexAny(name, "_-"); i > 0 {
		if _, err := strconv.Atoi(name[i+1:]); err == nil {
			return name[:i]
		}
	}
	return name
}
