package main

import (
	"os/exec"
	"strconv"
	"strings"
)

// supervisordCtl is `supervisord ctl` on supervisord's RPC socket; its
// output goes nowhere.
type supervisordCtl struct {
	binary string
	server string // e.g. unix:///tmp/supervisord.sock
}

func (c supervisordCtl) command(args ...string) *exec.Cmd {
	return exec.Command(c.binary, append([]string{"ctl", "-s", c.server}, args...)...)
}

// PID reads `ctl pid`: the pid, 0 for a program that is not running, or
// "program 'NAME' not found" (exit 1), read as 0.
func (c supervisordCtl) PID(program string) int {
	out, _ := c.command("pid", program).Output()
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		return 0
	}
	return pid
}

// Stop starts `ctl stop` and returns: it waits for the program's exit
// itself, but checks only once a second, so stop watches the pid instead.
func (c supervisordCtl) Stop(program string) {
	cmd := c.command("stop", program)
	if cmd.Start() == nil {
		go func() { _ = cmd.Wait() }()
	}
}

func (c supervisordCtl) Shutdown() error {
	return c.command("shutdown").Run()
}
