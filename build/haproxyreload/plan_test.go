package main

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// testSlots makes slots from "NAME ADDR:PORT on|off" specs, in order.
func testSlots(t *testing.T, specs ...string) []slot {
	t.Helper()
	var out []slot
	for _, spec := range specs {
		f := strings.Fields(spec)
		if len(f) != 3 || (f[2] != "on" && f[2] != "off") {
			t.Fatalf("slot spec %q: want NAME ADDR:PORT on|off", spec)
		}
		out = append(out, slot{name: f[0], addr: netip.MustParseAddrPort(f[1]), disabled: f[2] == "off"})
	}
	return out
}

func commandLines(cmds []command) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.line)
	}
	return out
}

// varFor is the upstreamVar command plan ends with.
func varFor(servers ...string) string { return upstreamVar("hello_server", servers) }

func TestPlan(t *testing.T) {
	for _, c := range []struct {
		name    string
		slots   []string
		servers []string
		want    []string
	}{
		{
			name:    "nothing changed: only the variable is set again",
			slots:   []string{"replica-1 10.0.0.1:7001 on", "replica-2 10.0.0.2:7001 on", "replica-3 127.0.0.1:1 off"},
			servers: []string{"10.0.0.1:7001", "10.0.0.2:7001"},
			want:    []string{varFor("10.0.0.1:7001", "10.0.0.2:7001")},
		},
		{
			name:    "a replica that left is disabled",
			slots:   []string{"replica-1 10.0.0.1:7001 on", "replica-2 10.0.0.2:7001 on", "replica-3 127.0.0.1:1 off"},
			servers: []string{"10.0.0.2:7001"},
			want:    []string{"disable server hello_server/replica-1", varFor("10.0.0.2:7001")},
		},
		{
			name: "a disabled slot with the same address is enabled again, before a placeholder",
			slots: []string{
				"replica-1 10.0.0.1:7001 on", "replica-2 127.0.0.1:1 off", "replica-3 10.0.0.3:7001 off",
			},
			servers: []string{"10.0.0.1:7001", "10.0.0.3:7001"},
			want:    []string{"enable server hello_server/replica-3", varFor("10.0.0.1:7001", "10.0.0.3:7001")},
		},
		{
			name: "a new address takes a placeholder slot before a disabled slot of a replica that left",
			slots: []string{
				"replica-1 10.0.0.1:7001 on", "replica-2 10.0.0.2:7001 off", "replica-3 127.0.0.1:1 off",
			},
			servers: []string{"10.0.0.1:7001", "10.0.0.4:7001"},
			want: []string{
				"set server hello_server/replica-3 addr 10.0.0.4 port 7001",
				"enable server hello_server/replica-3",
				varFor("10.0.0.1:7001", "10.0.0.4:7001"),
			},
		},
		{
			name:    "with no placeholder left, a disabled slot of a replica that left is taken",
			slots:   []string{"replica-1 10.0.0.1:7001 on", "replica-2 10.0.0.2:7001 off"},
			servers: []string{"10.0.0.1:7001", "10.0.0.4:7002"},
			want: []string{
				"set server hello_server/replica-2 addr 10.0.0.4 port 7002",
				"enable server hello_server/replica-2",
				varFor("10.0.0.1:7001", "10.0.0.4:7002"),
			},
		},
		{
			name: "a disabled slot whose address is rendered is kept for that address",
			// 10.0.0.4 comes first and may not take replica-1, which
			// 10.0.0.3 gets back.
			slots:   []string{"replica-1 10.0.0.3:7001 off", "replica-2 10.0.0.2:7001 off"},
			servers: []string{"10.0.0.4:7001", "10.0.0.3:7001"},
			want: []string{
				"set server hello_server/replica-2 addr 10.0.0.4 port 7001",
				"enable server hello_server/replica-2",
				"enable server hello_server/replica-1",
				varFor("10.0.0.4:7001", "10.0.0.3:7001"),
			},
		},
		{
			name: "leavers are disabled before new replicas are enabled",
			slots: []string{
				"replica-1 10.0.0.1:7001 on", "replica-2 10.0.0.2:7001 on", "replica-3 127.0.0.1:1 off",
			},
			servers: []string{"10.0.0.5:7001"},
			want: []string{
				"disable server hello_server/replica-1",
				"disable server hello_server/replica-2",
				"set server hello_server/replica-3 addr 10.0.0.5 port 7001",
				"enable server hello_server/replica-3",
				varFor("10.0.0.5:7001"),
			},
		},
		{
			name:    "only the port changes",
			slots:   []string{"replica-1 10.0.0.1:7001 on", "replica-2 127.0.0.1:1 off"},
			servers: []string{"10.0.0.1:7002"},
			want: []string{
				"disable server hello_server/replica-1",
				"set server hello_server/replica-2 addr 10.0.0.1 port 7002",
				"enable server hello_server/replica-2",
				varFor("10.0.0.1:7002"),
			},
		},
		{
			name:    "no replica left: every serving slot is disabled and the list emptied",
			slots:   []string{"replica-1 10.0.0.1:7001 on", "replica-2 10.0.0.2:7001 on", "replica-3 127.0.0.1:1 off"},
			servers: nil,
			want: []string{
				"disable server hello_server/replica-1",
				"disable server hello_server/replica-2",
				`experimental-mode on; set var proc.hello_server_upstream expr str("")`,
			},
		},
		{
			name:    "no replica before or after",
			slots:   []string{"replica-1 127.0.0.1:1 off", "replica-2 127.0.0.1:1 off"},
			servers: nil,
			want:    []string{`experimental-mode on; set var proc.hello_server_upstream expr str("")`},
		},
		{
			name:    "an address rendered twice takes one slot",
			slots:   []string{"replica-1 127.0.0.1:1 off", "replica-2 127.0.0.1:1 off"},
			servers: []string{"10.0.0.1:7001", "10.0.0.1:7001"},
			want: []string{
				"set server hello_server/replica-1 addr 10.0.0.1 port 7001",
				"enable server hello_server/replica-1",
				varFor("10.0.0.1:7001", "10.0.0.1:7001"),
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := plan("hello_server", testSlots(t, c.slots...), c.servers)
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if lines := commandLines(got); !slices.Equal(lines, c.want) {
				t.Errorf("plan, slots %q, servers %q:\n  expected %q\n  received %q", c.slots, c.servers, c.want, lines)
			}
			for _, cmd := range got {
				if want := strings.HasPrefix(cmd.line, "set server "); cmd.addrChange != want {
					t.Errorf("%q: addrChange %v, expected %v", cmd.line, cmd.addrChange, want)
				}
			}
		})
	}
}

func TestPlanOutOfSlots(t *testing.T) {
	for _, c := range []struct {
		name    string
		slots   []string
		servers []string
		want    string
	}{
		{
			name:    "more replicas than slots",
			slots:   []string{"replica-1 10.0.0.1:7001 on", "replica-2 127.0.0.1:1 off"},
			servers: []string{"10.0.0.1:7001", "10.0.0.2:7001", "10.0.0.3:7001"},
			want:    "no free server slot for 10.0.0.3:7001: 3 replicas, 2 slots",
		},
		{
			// Its calls may be in flight: the slot is not pointed
			// elsewhere in the same run.
			name:    "a slot disabled in this run is not reused",
			slots:   []string{"replica-1 10.0.0.1:7001 on"},
			servers: []string{"10.0.0.2:7001"},
			want:    "no free server slot for 10.0.0.2:7001: 1 replicas, 1 slots",
		},
		{
			name:    "a disabled slot of a rendered address is not taken by another",
			slots:   []string{"replica-1 10.0.0.1:7001 off"},
			servers: []string{"10.0.0.2:7001", "10.0.0.1:7001"},
			want:    "no free server slot for 10.0.0.2:7001: 2 replicas, 1 slots",
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := plan("hello_server", testSlots(t, c.slots...), c.servers)
			if err == nil || err.Error() != c.want {
				t.Errorf("plan: expected the error %q, received %v and the commands %q", c.want, err, commandLines(got))
			}
		})
	}
}

// 65 replicas for the 64 slots of a real HAProxy's state: the two it
// serves and 63 new ones, of which 62 find a free slot.
func TestPlanOutOfSlotsOnCapturedState(t *testing.T) {
	slots := capturedSlots(t, "show-servers-state-2-replicas.txt")
	servers := []string{"10.20.30.41:7001", "10.20.30.42:7001"}
	for i := range 63 {
		servers = append(servers, fmt.Sprintf("10.1.0.%d:7001", i+1))
	}
	_, err := plan("hello_server", slots, servers)
	if want := "no free server slot for 10.1.0.63:7001: 65 replicas, 64 slots"; err == nil || err.Error() != want {
		t.Errorf("plan: expected the error %q, received %v", want, err)
	}
}

// Addresses that a Runtime API command could not carry as they are.
func TestPlanRefusesAddressesThatAreNotIPAndPort(t *testing.T) {
	slots := testSlots(t, "replica-1 127.0.0.1:1 off")
	for _, addr := range []string{"localhost:7001", "10.0.0.1", "10.0.0.1:0", "10.0.0.1:70000", "[fe80::1%eth0]:7001", "10.0.0.1:7001;"} {
		if got, err := plan("hello_server", slots, []string{addr}); err == nil {
			t.Errorf("plan with the server %q: expected an error, received the commands %q", addr, commandLines(got))
		}
	}
}

func TestCommandAccepts(t *testing.T) {
	for _, c := range []struct {
		cmd    command
		answer string
		want   bool
	}{
		{command{line: "enable server hello_server/replica-1"}, "\n", true},
		{command{line: "enable server hello_server/replica-1"}, "", true},
		{command{line: "disable server hello_server/replica-1"}, captured(t, "answer-disable-server.txt"), true},
		{command{line: "enable server hello_server/replica-1"}, captured(t, "answer-enable-server.txt"), true},
		{command{line: "enable server hello_server/replica-99"}, captured(t, "answer-no-such-server.txt"), false},
		{command{line: upstreamVar("hello_server", []string{"10.0.0.1:7001"})}, captured(t, "answer-set-var.txt"), true},
		{command{line: "set var proc.hello_server_upstream fmt x"}, captured(t, "answer-set-var-without-experimental-mode.txt"), false},
		{command{line: "set server hello_server/replica-1 addr 10.0.0.1 port 7001", addrChange: true}, captured(t, "answer-set-server-addr.txt"), true},
		{command{line: "set server hello_server/replica-1 addr 10.0.0.1 port 7001", addrChange: true}, captured(t, "answer-set-server-addr-only.txt"), true},
		{command{line: "set server hello_server/replica-1 addr 10.0.0.1 port 7001", addrChange: true}, captured(t, "answer-no-such-server.txt"), false},
		{command{line: "set server hello_server/replica-1 addr 10.0.0.1 port 7001", addrChange: true}, "\n", false},
	} {
		if got := c.cmd.accepts(c.answer); got != c.want {
			t.Errorf("%q accepts %q: expected %v, received %v", c.cmd.line, c.answer, c.want, got)
		}
	}
}

func TestUpstreamVar(t *testing.T) {
	for _, c := range []struct {
		servers []string
		want    string
	}{
		{nil, `experimental-mode on; set var proc.hello_server_upstream expr str("")`},
		{[]string{"10.0.0.1:7001"}, `experimental-mode on; set var proc.hello_server_upstream fmt 10.0.0.1:7001\ `},
		{[]string{"10.0.0.1:7001", "10.0.0.2:7001"}, `experimental-mode on; set var proc.hello_server_upstream fmt 10.0.0.1:7001\ 10.0.0.2:7001\ `},
	} {
		if got := upstreamVar("hello_server", c.servers); got != c.want {
			t.Errorf("upstreamVar(%q):\n  expected %s\n  received %s", c.servers, c.want, got)
		}
	}
}

func TestEscapeCLIArg(t *testing.T) {
	for in, want := range map[string]string{
		"":              "",
		"a b":           `a\ b`,
		"a;disable x":   `a\;disable\ x`,
		`back\slash`:    `back\\slash`,
		`\ `:            `\\\ `,
		"10.0.0.1:7001": "10.0.0.1:7001",
	} {
		if got := escapeCLIArg(in); got != want {
			t.Errorf("escapeCLIArg(%q): expected %q, received %q", in, want, got)
		}
	}
}
