package main

import "fmt"

// update brings the running HAProxy's backend to the rendered servers
// through the Runtime API: it reads the slots, plans the commands and runs
// them in order, stopping at the first that fails or answers anything but
// success. The error names the command and HAProxy's answer.
func update(api runner, backend string, servers []string) error {
	show := "show servers state " + backend
	answer, err := api.run(show)
	if err != nil {
		return fmt.Errorf("%s: %v", show, err)
	}
	slots, err := parseState(answer, backend)
	if err != nil {
		return err
	}
	cmds, err := plan(backend, slots, servers)
	if err != nil {
		return err
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
