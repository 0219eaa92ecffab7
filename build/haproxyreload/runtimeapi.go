package main

import (
	"io"
	"net"
	"time"
)

// runner sends one Runtime API command and returns HAProxy's answer.
type runner interface {
	run(cmd string) (string, error)
}

// runtimeAPI talks to HAProxy's stats socket (haproxy.cfg: level admin).
type runtimeAPI struct {
	socket string
	// timeout bounds each command; deadline, when set, all of them.
	timeout  time.Duration
	deadline time.Time
}

// run sends cmd on a connection of its own and reads the answer until
// HAProxy closes the connection, which it does after answering a command
// in its default, non-interactive mode.
func (r runtimeAPI) run(cmd string) (string, error) {
	deadline := time.Now().Add(r.timeout)
	if !r.deadline.IsZero() && r.deadline.Before(deadline) {
		deadline = r.deadline
	}
	conn, err := net.DialTimeout("unix", r.socket, time.Until(deadline))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if err := conn.SetDeadline(deadline); err != nil {
		return "", err
	}
	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", err
	}
	answer, err := io.ReadAll(conn)
	return string(answer), err
}
