// Package portflag is the -port flag of grpc_server and grpc_client: a TCP
// port from 1 to 65535, whose errors name the flag, the value and that range.
//
// It lives with the server because the port is the server's: grpc_server
// listens on it, and grpc_client's -port names the port of a server (or of
// the load balancer in front of servers). The client already depends on
// the server's interface; the server never depends on the client.
package portflag

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
)

// The ports a -port flag accepts.
const (
	Min = 1
	Max = 65535
)

// accepted is what every error says is accepted.
var accepted = fmt.Sprintf("accepted is %d-%d", Min, Max)

// Var defines the flag name on fs, stored in p, with value as its default.
// A value that is not a number fails fs.Parse, naming the flag, the value and
// the range; Check reports a number out of range.
func Var(fs *flag.FlagSet, p *int, name string, value int, usage string) {
	*p = value
	fs.Var((*port)(p), name, usage)
}

// Check reports a port out of range, naming the flag and the value.
func Check(name string, p int) error {
	if p < Min || p > Max {
		return fmt.Errorf("-%s=%d is invalid: %s", name, p, accepted)
	}
	return nil
}

// port is an int flag whose parse error says what is accepted; the flag
// package's own says only "parse error". The flag package adds the flag's
// name and the value to it.
type port int

func (p *port) String() string { return strconv.Itoa(int(*p)) }

func (p *port) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return errors.New(accepted)
	}
	*p = port(n)
	return nil
}
