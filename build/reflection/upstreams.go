package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// replicaSource gives a Consul service's routed replicas, "ADDR:PORT".
type replicaSource interface {
	addresses(ctx context.Context, consulService string) ([]string, error)
}

// engineUpstreams reads the engine's /upstream/<Consul service> list: the
// servers its running workers route to, space-separated, each an IPv4
// address and port that the template checked. They are checked again here,
// since this program dials them.
type engineUpstreams struct {
	base string
}

// maxListBytes bounds a list: 64 servers (HAProxy's slots) of at most 21
// bytes each, with room to spare.
const maxListBytes = 64 << 10

func (e engineUpstreams) addresses(ctx context.Context, consulService string) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.base+consulService, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("the engine's list of %s replicas: %w", consulService, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxListBytes))
	if err != nil {
		return nil, fmt.Errorf("the engine's list of %s replicas: %w", consulService, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the engine's list of %s replicas: HTTP %d", consulService, resp.StatusCode)
	}
	return parseUpstreams(string(body))
}

// parseUpstreams reads a list; an entry that is not an IPv4 address with a
// port from 1 to 65535 fails the whole list, as it would mean the engine
// serves something other than its checked render.
func parseUpstreams(list string) ([]string, error) {
	var addrs []string
	for _, field := range strings.Fields(list) {
		host, port, err := net.SplitHostPort(field)
		if err != nil {
			return nil, fmt.Errorf("replica %q in the engine's list: %v", field, err)
		}
		ip, err := netip.ParseAddr(host)
		n, perr := strconv.Atoi(port)
		if err != nil || !ip.Is4() || perr != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("replica %q in the engine's list: accepted is an IPv4 address with a port from 1 to 65535", field)
		}
		addrs = append(addrs, field)
	}
	return addrs, nil
}
