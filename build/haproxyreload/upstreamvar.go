package main

import "strings"

// upstreamVar is the Runtime API command that sets proc.<backend>_upstream,
// the list haproxy.cfg's :8080/upstream serves, to the servers as the
// render's own set-var line has it: each "ADDR:PORT" followed by a space,
// or "" with no server. HAProxy marks setting a variable from the CLI
// experimental, hence experimental-mode first, on the same connection.
func upstreamVar(backend string, servers []string) string {
	set := "experimental-mode on; set var proc." + backend + "_upstream "
	if len(servers) == 0 {
		return set + `expr str("")`
	}
	return set + "fmt " + escapeCLIArg(strings.Join(servers, " ")+" ")
}

// escapeCLIArg makes s one argument of a Runtime API command: HAProxy's CLI
// splits arguments at spaces and commands at semicolons unless a backslash
// escapes them. fmt's argument is a log-format, where "%" starts a fetch;
// plan only lets IP addresses and ports through, which hold none.
func escapeCLIArg(s string) string {
	return strings.NewReplacer(`\`, `\\`, " ", `\ `, ";", `\;`).Replace(s)
}
