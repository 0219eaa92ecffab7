package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The testdata/show-servers-state-*.txt files are real answers of HAProxy
// 3.0 (Debian trixie, the image's) running the deployment's haproxy.cfg
// and a render of its load-balancer.tpl: 2-replicas right after the
// start with two replicas, after-changes once haproxy-reload had moved it
// to a render where 10.20.30.41 had left and 10.20.30.43 had joined.
func captured(t *testing.T, name string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

func capturedSlots(t *testing.T, name string) []slot {
	t.Helper()
	slots, err := parseState(captured(t, name), "hello_server")
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return slots
}

// describe writes slots as "NAME ADDR:PORT on|off", as testSlots reads them.
func describe(slots []slot) []string {
	var out []string
	for _, s := range slots {
		state := "on"
		if s.disabled {
			state = "off"
		}
		out = append(out, fmt.Sprintf("%s %s %s", s.name, s.addr, state))
	}
	return out
}

// freeSlots are the placeholder slots replica-FROM to replica-64.
func freeSlots(from int) []string {
	var out []string
	for i := from; i <= 64; i++ {
		out = append(out, fmt.Sprintf("replica-%d 127.0.0.1:1 off", i))
	}
	return out
}

func TestParseCapturedState(t *testing.T) {
	for _, c := range []struct {
		file string
		want []string
	}{
		{"show-servers-state-2-replicas.txt", append([]string{
			"replica-1 10.20.30.41:7001 on",
			"replica-2 10.20.30.42:7001 on",
		}, freeSlots(3)...)},
		{"show-servers-state-after-changes.txt", append([]string{
			"replica-1 10.20.30.41:7001 off",
			"replica-2 10.20.30.42:7001 on",
			"replica-3 10.20.30.43:7001 on",
		}, freeSlots(4)...)},
	} {
		if got := describe(capturedSlots(t, c.file)); !slices.Equal(got, c.want) {
			t.Errorf("%s:\n  expected %q\n  received %q", c.file, c.want, got)
		}
	}
}

// Columns are read by their names in the header: the same answer with its
// columns in another order reads the same.
func TestParseStateByColumnName(t *testing.T) {
	answer := captured(t, "show-servers-state-2-replicas.txt")
	var shuffled []string
	for _, line := range strings.Split(answer, "\n") {
		f := strings.Fields(strings.TrimPrefix(line, "# "))
		if len(f) < 2 {
			shuffled = append(shuffled, line)
			continue
		}
		slices.Reverse(f)
		if strings.HasPrefix(line, "#") {
			shuffled = append(shuffled, "# "+strings.Join(f, " "))
		} else {
			shuffled = append(shuffled, strings.Join(f, " "))
		}
	}
	got, err := parseState(strings.Join(shuffled, "\n"), "hello_server")
	if err != nil {
		t.Fatal(err)
	}
	if want := capturedSlots(t, "show-servers-state-2-replicas.txt"); !slices.Equal(got, want) {
		t.Errorf("columns reversed:\n  expected %q\n  received %q", describe(want), describe(got))
	}
}

func TestParseStateAdminStateBits(t *testing.T) {
	const header = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_port\n"
	for admin, disabled := range map[string]bool{
		"0": false,
		"1": true,  // disable server
		"5": true,  // the config's "disabled": forced and configuration maintenance
		"8": false, // drain: still an enabled slot
		"4": false, // configuration maintenance alone: enable server cleared the forced bit
	} {
		slots, err := parseState(header+"3 hello_server 1 replica-1 10.0.0.1 2 "+admin+" 7001\n", "hello_server")
		if err != nil {
			t.Fatal(err)
		}
		if slots[0].disabled != disabled {
			t.Errorf("srv_admin_state %s: disabled %v, expected %v", admin, slots[0].disabled, disabled)
		}
	}
}

func TestParseStateErrors(t *testing.T) {
	const header = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_port\n"
	for _, c := range []struct {
		name, answer, want string
	}{
		{"unknown backend (captured)", captured(t, "show-servers-state-unknown-backend.txt"),
			`show servers state hello_server: HAProxy answered "Can't find backend."`},
		{"empty answer", "", "show servers state hello_server: no server slot"},
		{"no server", header, "show servers state hello_server: no server slot"},
		{"only another backend's servers", header + "4 other 1 s1 10.0.0.1 2 0 7001\n", "show servers state hello_server: no server slot"},
		{"a column missing from the header", "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_port\n",
			`show servers state hello_server: the header "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_port" has no column srv_admin_state`},
		{"a line without its backend", header + "3\n",
			`show servers state hello_server: line "3": no column be_name (2)`},
		{"an admin state that is not a number", header + "3 hello_server 1 replica-1 10.0.0.1 2 x 7001\n",
			`show servers state hello_server: line "3 hello_server 1 replica-1 10.0.0.1 2 x 7001": srv_admin_state "x" is not a number`},
		{"a short line", header + "3 hello_server 1 replica-1 10.0.0.1\n",
			`show servers state hello_server: line "3 hello_server 1 replica-1 10.0.0.1": no column srv_port (8)`},
		{"an address that is not IP", header + "3 hello_server 1 replica-1 example.com 2 0 7001\n",
			`show servers state hello_server: line "3 hello_server 1 replica-1 example.com 2 0 7001": srv_addr "example.com" is not an IP address`},
		{"a port out of range", header + "3 hello_server 1 replica-1 10.0.0.1 2 0 70000\n",
			`show servers state hello_server: line "3 hello_server 1 replica-1 10.0.0.1 2 0 70000": srv_port "70000" is not a port number`},
	} {
		t.Run(c.name, func(t *testing.T) {
			slots, err := parseState(c.answer, "hello_server")
			if err == nil || err.Error() != c.want {
				t.Errorf("expected the error %q, received %v and %q", c.want, err, describe(slots))
			}
		})
	}
}

// Lines of other backends (a `show servers state` without a backend lists
// them all) are skipped.
func TestParseStateSkipsOtherBackends(t *testing.T) {
	answer := "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_port\n" +
		"2 other 1 s1 10.9.9.9 2 0 80\n" +
		"3 hello_server 1 replica-1 10.0.0.1 2 0 7001\n"
	slots, err := parseState(answer, "hello_server")
	if err != nil {
		t.Fatal(err)
	}
	want := []slot{{name: "replica-1", addr: netip.MustParseAddrPort("10.0.0.1:7001")}}
	if !slices.Equal(slots, want) {
		t.Errorf("expected %q, received %q", describe(want), describe(slots))
	}
}
