// Package testenv starts the real parts the tests talk to: a Consul agent
// and consul-template built by `make tools`, gRPC servers on 127.0.0.1:0,
// nginx, and the project's own binaries. Every helper waits with a
// deadline, never a sleep, and stops what it started when the test ends.
package testenv
