package main

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// slot is one server of the backend, as `show servers state` reports it.
type slot struct {
	name string
	addr netip.AddrPort
	// disabled: in maintenance set by `disable server` or the config's
	// `disabled` keyword (admin state bit 0x01, SRV_ADMF_FMAINT).
	disabled bool
}

// The columns parseState reads, by the names in the answer's header line.
const (
	colBackend    = "be_name"
	colName       = "srv_name"
	colAddr       = "srv_addr"
	colPort       = "srv_port"
	colAdminState = "srv_admin_state"
)

// adminForcedMaint is SRV_ADMF_FMAINT in srv_admin_state: the bit that
// `disable server` sets and `enable server` clears.
const adminForcedMaint = 0x01

// parseState reads the answer to `show servers state BACKEND`: a format
// version line, a header line ("# be_id be_name srv_id srv_name ..."), then
// one line per server. Columns are found by their names in the header, so
// a HAProxy that adds or moves columns is still read right. Lines of other
// backends are skipped; an answer without a header (HAProxy's "Can't find
// backend.") is an error that quotes it.
func parseState(answer, backend string) ([]slot, error) {
	var cols map[string]int
	var slots []slot
	for _, line := range strings.Split(answer, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "#"); ok {
			cols = map[string]int{}
			for i, name := range strings.Fields(rest) {
				cols[name] = i
			}
			for _, want := range []string{colBackend, colName, colAddr, colPort, colAdminState} {
				if _, ok := cols[want]; !ok {
					return nil, fmt.Errorf("show servers state %s: the header %q has no column %s", backend, line, want)
				}
			}
			continue
		}
		if cols == nil {
			// The format version ("1") comes before the header.
			if _, err := strconv.Atoi(strings.TrimSpace(line)); err == nil {
				continue
			}
			return nil, fmt.Errorf("show servers state %s: HAProxy answered %q", backend, oneLine(answer))
		}
		f := strings.Fields(line)
		get := func(col string) (string, error) {
			i := cols[col]
			if i >= len(f) {
				return "", fmt.Errorf("no column %s (%d)", col, i+1)
			}
			return f[i], nil
		}
		be, err := get(colBackend)
		if err == nil && be != backend {
			continue
		}
		var s slot
		if err == nil {
			s, err = parseSlot(get)
		}
		if err != nil {
			return nil, fmt.Errorf("show servers state %s: line %q: %v", backend, line, err)
		}
		slots = append(slots, s)
	}
	if len(slots) == 0 {
		return nil, fmt.Errorf("show servers state %s: no server slot", backend)
	}
	return slots, nil
}

func parseSlot(get func(string) (string, error)) (slot, error) {
	var vals [4]string
	for i, col := range []string{colName, colAddr, colPort, colAdminState} {
		v, err := get(col)
		if err != nil {
			return slot{}, err
		}
		vals[i] = v
	}
	addr, err := netip.ParseAddr(vals[1])
	if err != nil {
		return slot{}, fmt.Errorf("%s %q is not an IP address", colAddr, vals[1])
	}
	port, err := strconv.ParseUint(vals[2], 10, 16)
	if err != nil {
		return slot{}, fmt.Errorf("%s %q is not a port number", colPort, vals[2])
	}
	admin, err := strconv.ParseUint(vals[3], 10, 32)
	if err != nil {
		return slot{}, fmt.Errorf("%s %q is not a number", colAdminState, vals[3])
	}
	return slot{
		name:     vals[0],
		addr:     netip.AddrPortFrom(addr, uint16(port)),
		disabled: admin&adminForcedMaint != 0,
	}, nil
}

// oneLine puts a multi-line answer of HAProxy on one log line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
