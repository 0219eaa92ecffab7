//go:build e2e

package e2e

import (
	"encoding/hex"
	"net"
	"slices"
	"strconv"
	"strings"
)

// establishedTo reads a container's /proc/net/tcp and lists the remote
// IPv4 addresses it has an ESTABLISHED connection to on port, each once,
// sorted. The images have no ss or netstat; the kernel's table is always
// there. Addresses are little-endian hex there, as on every x86 and arm64.
func establishedTo(procNetTCP string, port int) []string {
	var addrs []string
	for _, line := range strings.Split(procNetTCP, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[3] != "01" { // 01: TCP_ESTABLISHED
			continue
		}
		hexIP, hexPort, ok := strings.Cut(f[2], ":")
		if !ok || len(hexIP) != 8 {
			continue
		}
		p, err := strconv.ParseUint(hexPort, 16, 16)
		b, err2 := hex.DecodeString(hexIP)
		if err != nil || err2 != nil || int(p) != port {
			continue
		}
		ip := net.IPv4(b[3], b[2], b[1], b[0]).String()
		if !slices.Contains(addrs, ip) {
			addrs = append(addrs, ip)
		}
	}
	slices.Sort(addrs)
	return addrs
}
