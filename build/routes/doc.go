// Package routes reads the declaration of routes, build/config/services.conf:
// which Consul service serves which gRPC services. The load balancer's
// templates parse the same file themselves (consul-template has no Go
// plugins); this package holds the grammar they must agree with, and the
// tests that hold them to it.
package routes
