package main

import (
	"fmt"
	"regexp"
)

// backendName is a backend name that may go into Runtime API commands,
// where a space or semicolon would split them, and into the variable
// proc.<backend>_upstream, whose name HAProxy limits to these characters.
// The template names backends after Consul services, [a-z0-9_].
var backendName = regexp.MustCompile(`^[A-Za-z0-9_.]+$`)

// update brings the running HAProxy's backends to the rendered servers
// through the Runtime API: it reads each backend's slots and plans its
// commands, all before changing anything, then runs the commands in order,
// stopping at the first that fails or answers anything but success. The
// error names the command and HAProxy's answer.
func update(api runner, backends []backend) error {
	var cmds []command
	for _, b := range backends {
		if !backendName.MatchString(b.name) {
			return fmt.Errorf("the rendered backend name %q is not one a Runtime API command can carry: accepted are letters, digits and \"_\", \".\"", b.name)
		}
		show := "show servers state " + b.name
		answer, err := api.run(show)
		if err != nil {
			return fmt.Errorf("%s: %v", show, err)
		}
		slots, err := parseState(answer, b.name)
		if err != nil {
			return err
		}
		planned, err := plan(b.name, slots, b.servers)
		if err != nil {
			return err
		}
		cmds = append(cmds, planned...)
	}
	for _, c := range cmds {
		answer, err := api.run(c.line)
		if err != nil {
			return fmt.Errorf("%s: %v", c.line, err)
		}
		if !c.accepts(answer) {
			return fmt.Errorf("%s: HAProxy answered %q", c.line, oneLine(answer))
		}
	}
	return nil
}
