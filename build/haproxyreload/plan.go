package main

import (
	"fmt"
	"net/netip"
	"strings"
)

// command is one Runtime API command and the answer that means it worked.
type command struct {
	line string
	// addrChange: `set server ... addr`, whose answer says what "changed
	// from" what; every other command the plan makes answers nothing.
	addrChange bool
}

// accepts tells whether answer is HAProxy's answer of success to c.
func (c command) accepts(answer string) bool {
	if c.addrChange {
		return strings.Contains(answer, "changed from")
	}
	return strings.TrimSpace(answer) == ""
}

// placeholder is the address of the free slots HAProxy's load-balancer.tpl
// renders (disabled, never served).
var placeholder = netip.MustParseAddrPort("127.0.0.1:1")

// plan returns the Runtime API commands that bring the backend's slots to
// the rendered servers, in the order to run them:
//
//  1. Enabled slots whose address is no longer rendered are disabled: no
//     new call goes to them, the calls in flight finish.
//  2. Each rendered address no enabled slot serves gets a disabled slot:
//     one with the same address (Docker reuses addresses), else a free slot
//     that never served (the placeholder address), else any disabled slot
//     whose address is not rendered. Its address is set if it differs, then
//     it is enabled. A slot disabled in step 1 is not reused in the same
//     plan: its calls may still be in flight.
//  3. The list /upstream serves is set (upstreamVar).
//
// servers are the rendered "ADDR:PORT"s. It fails, making no command, when
// an address is not an IP address and port, or when no slot is left for a
// server; the caller then reloads HAProxy, which reads the render itself.
func plan(backend string, slots []slot, servers []string) ([]command, error) {
	var wanted []netip.AddrPort
	isWanted := map[netip.AddrPort]bool{}
	for _, s := range servers {
		a, err := netip.ParseAddrPort(s)
		if err != nil || a.Addr().Zone() != "" || a.Port() == 0 {
			return nil, fmt.Errorf("the rendered server address %q is not an IP address with a port from 1 to 65535", s)
		}
		if !isWanted[a] {
			isWanted[a] = true
			wanted = append(wanted, a)
		}
	}

	var cmds []command
	serving := map[netip.AddrPort]bool{}
	for _, s := range slots {
		switch {
		case s.disabled:
		case isWanted[s.addr]:
			serving[s.addr] = true
		default:
			cmds = append(cmds, command{line: "disable server " + backend + "/" + s.name})
		}
	}

	taken := map[string]bool{}
	for _, a := range wanted {
		if serving[a] {
			continue
		}
		s, ok := freeSlot(slots, a, isWanted, taken)
		if !ok {
			return nil, fmt.Errorf("no free server slot for %s: %d replicas, %d slots", a, len(servers), len(slots))
		}
		taken[s.name] = true
		if s.addr != a {
			cmds = append(cmds, command{
				line:       fmt.Sprintf("set server %s/%s addr %s port %d", backend, s.name, a.Addr(), a.Port()),
				addrChange: true,
			})
		}
		cmds = append(cmds, command{line: "enable server " + backend + "/" + s.name})
	}
	return append(cmds, command{line: upstreamVar(backend, servers)}), nil
}

// freeSlot picks the disabled slot for addr by plan's rules, skipping taken
// ones.
func freeSlot(slots []slot, addr netip.AddrPort, isWanted map[netip.AddrPort]bool, taken map[string]bool) (slot, bool) {
	for _, fits := range []func(slot) bool{
		func(s slot) bool { return s.addr == addr },
		func(s slot) bool { return s.addr == placeholder },
		func(s slot) bool { return !isWanted[s.addr] },
	} {
		for _, s := range slots {
			if s.disabled && !taken[s.name] && fits(s) {
				return s, true
			}
		}
	}
	return slot{}, false
}
