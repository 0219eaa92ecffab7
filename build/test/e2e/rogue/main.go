// Command rogue is the attack helper of the e2e suite: each subcommand tries
// one thing an attacker on the compose network would try against the secured
// Consul servers, prints one line and exits
//
//	0  the attack was REFUSED, as the secured deployment must do (for
//	   rpc -mode tls-validcert, the control: the valid certificate was
//	   accepted, as it must be)
//	1  the attack was NOT refused: it worked (for tls-validcert: the valid
//	   certificate was refused, so the probe cannot tell refused from accepted)
//	2  usage error, or an unexpected answer (nothing listening, an HTTP status
//	   other than 403 or 200, the server's certificate not trusted, ...)
//
// It uses only the standard library and builds as a static binary
// (CGO_ENABLED=0 go build ./build/test/e2e/rogue) that the suite mounts into a
// container on the compose network.
//
//	rogue agent-register   -addr host:port [-token-file F]
//	rogue catalog-register -addr host:port [-token-file F]
//	rogue rpc -addr host:8300 -mode plain|tls-nocert|tls-othercert|tls-validcert
//	          [-ca F] [-cert F -key F] [-server-name N]
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes.
const (
	exitRefused  = 0
	exitAccepted = 1
	exitError    = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage:
  rogue agent-register   -addr host:port [-token-file F]
  rogue catalog-register -addr host:port [-token-file F]
  rogue rpc -addr host:8300 -mode plain|tls-nocert|tls-othercert|tls-validcert [-ca F] [-cert F -key F] [-server-name N]
exit status: 0 refused (tls-validcert: accepted, the control works), 1 not refused, 2 usage or unexpected error`

// run runs one subcommand; its result line goes to stdout, usage errors to
// stderr.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return exitError
	}
	var r result
	switch args[0] {
	case "agent-register":
		r = agentRegister(args[1:], stderr)
	case "catalog-register":
		r = catalogRegister(args[1:], stderr)
	case "rpc":
		r = rpcProbe(args[1:], stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, usage)
		return exitError
	default:
		fmt.Fprintf(stderr, "rogue: unknown subcommand %q\n%s\n", args[0], usage)
		return exitError
	}
	if r.usage {
		return exitError
	}
	fmt.Fprintf(stdout, "%s: %s %s\n", args[0], r.verdict(), oneLine(r.msg))
	return r.code
}

// result is a subcommand's outcome.
type result struct {
	code  int
	msg   string
	usage bool   // a usage error, already reported on stderr
	label string // replaces the verdict (the control's own words)
}

func (r result) verdict() string {
	if r.label != "" {
		return r.label
	}
	switch r.code {
	case exitRefused:
		return "REFUSED (expected):"
	case exitAccepted:
		return "NOT REFUSED:"
	default:
		return "ERROR:"
	}
}

func refused(format string, a ...any) result {
	return result{code: exitRefused, msg: fmt.Sprintf(format, a...)}
}

func accepted(format string, a ...any) result {
	return result{code: exitAccepted, msg: fmt.Sprintf(format, a...)}
}

func failed(format string, a ...any) result {
	return result{code: exitError, msg: fmt.Sprintf(format, a...)}
}

func usageError(stderr io.Writer, format string, a ...any) result {
	fmt.Fprintf(stderr, "rogue: "+format+"\n%s\n", append(a, usage)...)
	return result{code: exitError, usage: true}
}

// oneLine keeps the result on one line, and short.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 600 {
		s = s[:600] + "..."
	}
	return s
}
