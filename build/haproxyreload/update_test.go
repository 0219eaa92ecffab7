package main

import (
	"errors"
	"slices"
	"testing"
)

// fakeAPI answers Runtime API commands from a table and records them.
type fakeAPI struct {
	answers map[string]string
	// fail: commands whose connection fails.
	fail map[string]error
	sent []string
}

func (f *fakeAPI) run(cmd string) (string, error) {
	f.sent = append(f.sent, cmd)
	if err, ok := f.fail[cmd]; ok {
		return "", err
	}
	// HAProxy ends every answer with an empty line.
	if a, ok := f.answers[cmd]; ok {
		return a, nil
	}
	return "\n", nil
}

func TestUpdateRunsThePlanOnTheCapturedState(t *testing.T) {
	api := &fakeAPI{answers: map[string]string{
		"show servers state hello_server":                              captured(t, "show-servers-state-2-replicas.txt"),
		"set server hello_server/replica-3 addr 10.20.30.43 port 7001": captured(t, "answer-set-server-addr.txt"),
	}}
	servers := []string{"10.20.30.42:7001", "10.20.30.43:7001"}
	if err := update(api, []backend{{name: "hello_server", servers: servers}}); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"show servers state hello_server",
		"disable server hello_server/replica-1",
		"set server hello_server/replica-3 addr 10.20.30.43 port 7001",
		"enable server hello_server/replica-3",
		upstreamVar("hello_server", servers),
	}
	if !slices.Equal(api.sent, want) {
		t.Errorf("commands:\n  expected %q\n  received %q", want, api.sent)
	}
}

// The state after that update, captured from the real HAProxy: the same
// render needs no change, and 10.20.30.41 coming back gets its slot again.
func TestUpdateOnTheCapturedStateAfterChanges(t *testing.T) {
	state := captured(t, "show-servers-state-after-changes.txt")
	for _, c := range []struct {
		servers []string
		want    []string
	}{
		{[]string{"10.20.30.42:7001", "10.20.30.43:7001"}, nil},
		{[]string{"10.20.30.41:7001", "10.20.30.42:7001", "10.20.30.43:7001"}, []string{"enable server hello_server/replica-1"}},
	} {
		api := &fakeAPI{answers: map[string]string{"show servers state hello_server": state}}
		if err := update(api, []backend{{name: "hello_server", servers: c.servers}}); err != nil {
			t.Fatal(err)
		}
		want := append(append([]string{"show servers state hello_server"}, c.want...), upstreamVar("hello_server", c.servers))
		if !slices.Equal(api.sent, want) {
			t.Errorf("servers %q:\n  expected %q\n  received %q", c.servers, want, api.sent)
		}
	}
}

func TestUpdateStopsAtTheFirstFailure(t *testing.T) {
	state := captured(t, "show-servers-state-2-replicas.txt")
	for _, c := range []struct {
		name    string
		api     *fakeAPI
		servers []string
		want    string
	}{
		{
			name:    "the socket does not answer",
			api:     &fakeAPI{fail: map[string]error{"show servers state hello_server": errors.New("connect: no such file or directory")}},
			servers: []string{"10.20.30.41:7001"},
			want:    "show servers state hello_server: connect: no such file or directory",
		},
		{
			name:    "unknown backend (captured answer)",
			api:     &fakeAPI{answers: map[string]string{"show servers state hello_server": captured(t, "show-servers-state-unknown-backend.txt")}},
			servers: []string{"10.20.30.41:7001"},
			want:    `show servers state hello_server: HAProxy answered "Can't find backend."`,
		},
		{
			name: "enable answers an error (captured answer)",
			api: &fakeAPI{answers: map[string]string{
				"show servers state hello_server":                              state,
				"set server hello_server/replica-3 addr 10.20.30.43 port 7001": captured(t, "answer-set-server-addr.txt"),
				"enable server hello_server/replica-3":                         captured(t, "answer-no-such-server.txt"),
			}},
			servers: []string{"10.20.30.41:7001", "10.20.30.42:7001", "10.20.30.43:7001"},
			want:    `enable server hello_server/replica-3: HAProxy answered "No such server."`,
		},
		{
			name: "set server answers no change",
			api: &fakeAPI{answers: map[string]string{
				"show servers state hello_server": state,
			}},
			servers: []string{"10.20.30.41:7001", "10.20.30.42:7001", "10.20.30.43:7001"},
			want:    `set server hello_server/replica-3 addr 10.20.30.43 port 7001: HAProxy answered ""`,
		},
		{
			name:    "out of slots",
			api:     &fakeAPI{answers: map[string]string{"show servers state hello_server": "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_port\n3 hello_server 1 replica-1 10.0.0.1 2 0 7001\n"}},
			servers: []string{"10.0.0.1:7001", "10.0.0.2:7001"},
			want:    "no free server slot for 10.0.0.2:7001: 2 replicas, 1 slots",
		},
		{
			name: "setting the variable fails (captured answer without experimental-mode)",
			api: &fakeAPI{answers: map[string]string{
				"show servers state hello_server":                                             state,
				upstreamVar("hello_server", []string{"10.20.30.41:7001", "10.20.30.42:7001"}): captured(t, "answer-set-var-without-experimental-mode.txt"),
			}},
			servers: []string{"10.20.30.41:7001", "10.20.30.42:7001"},
			want:    `experimental-mode on; set var proc.hello_server_upstream fmt 10.20.30.41:7001\ 10.20.30.42:7001\ : HAProxy answered "This command is restricted to experimental mode only."`,
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := update(c.api, []backend{{name: "hello_server", servers: c.servers}})
			if err == nil {
				t.Fatalf("expected an error, received none; sent %q", c.api.sent)
			}
			if err.Error() != c.want {
				t.Errorf("expected the error %q, received %q", c.want, err)
			}
		})
	}
}

// Every backend's slots are read and planned before any change: a plan
// that fails (the second backend is out of slots) changes nothing. Then
// each backend's commands run, its variable last.
func TestUpdateEveryBackend(t *testing.T) {
	state := captured(t, "show-servers-state-2-replicas.txt")
	oneSlot := "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_port\n5 echo_server 1 replica-1 127.0.0.1 0 5 1\n"
	backends := []backend{
		{name: "hello_server", servers: []string{"10.20.30.42:7001", "10.20.30.43:7001"}},
		{name: "echo_server", servers: []string{"10.20.30.51:7002"}},
	}
	api := &fakeAPI{answers: map[string]string{
		"show servers state hello_server":                              state,
		"show servers state echo_server":                               oneSlot,
		"set server hello_server/replica-3 addr 10.20.30.43 port 7001": captured(t, "answer-set-server-addr.txt"),
		"set server echo_server/replica-1 addr 10.20.30.51 port 7002":  captured(t, "answer-set-server-addr.txt"),
	}}
	if err := update(api, backends); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"show servers state hello_server",
		"show servers state echo_server",
		"disable server hello_server/replica-1",
		"set server hello_server/replica-3 addr 10.20.30.43 port 7001",
		"enable server hello_server/replica-3",
		upstreamVar("hello_server", backends[0].servers),
		"set server echo_server/replica-1 addr 10.20.30.51 port 7002",
		"enable server echo_server/replica-1",
		upstreamVar("echo_server", backends[1].servers),
	}
	if !slices.Equal(api.sent, want) {
		t.Errorf("commands:\n  expected %q\n  received %q", want, api.sent)
	}

	api = &fakeAPI{answers: map[string]string{"show servers state hello_server": state, "show servers state echo_server": oneSlot}}
	backends[1].servers = []string{"10.20.30.51:7002", "10.20.30.52:7002"}
	err := update(api, backends)
	if want := "no free server slot for 10.20.30.52:7002: 2 replicas, 1 slots"; err == nil || err.Error() != want {
		t.Errorf("expected the error %q, received %v", want, err)
	}
	if want := []string{"show servers state hello_server", "show servers state echo_server"}; !slices.Equal(api.sent, want) {
		t.Errorf("a failed plan: expected only %q, received %q", want, api.sent)
	}
}

// A backend name that would split a Runtime API command, or make no
// variable name, is refused before any command.
func TestUpdateRefusesBackendNamesACommandCannotCarry(t *testing.T) {
	for _, name := range []string{"hello server", "x;disable", "a-b", "a:b", ""} {
		api := &fakeAPI{}
		if err := update(api, []backend{{name: name, servers: []string{"10.0.0.1:7001"}}}); err == nil || len(api.sent) != 0 {
			t.Errorf("backend %q: expected an error and no command, received %v and %q", name, err, api.sent)
		}
	}
}
