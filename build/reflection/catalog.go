package main

import (
	"log"
	"slices"
	"strings"
	"sync"

	"github.com/grpc-lb/nginx-consul/build/routes"
)

// ReflectionServices are the gRPC services the load balancer answers
// itself, through this program: both engines route them here, and
// build/routes refuses a declaration that names them.
var ReflectionServices = routes.LoadBalancerServices

// catalog is what the declaration says, as reflection needs it.
type catalog struct {
	routes []routes.Route
}

func newCatalog(declared []routes.Route) catalog { return catalog{routes: declared} }

// listed is ListServices' answer: every declared gRPC service and the
// reflection services, sorted.
func (c catalog) listed() []string {
	names := slices.Clone(ReflectionServices)
	for _, r := range c.routes {
		names = append(names, r.GRPCServices...)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// askOrder is the order in which the Consul services are asked about
// symbol: first the one serving the declared gRPC service that is symbol
// or encloses it (protos.Echo for protos.Echo.Unary), the longest such
// name, then every other in the declaration's order. With symbol "" (a
// request that names no symbol) it is the declaration's order.
func (c catalog) askOrder(symbol string) []string {
	owner, longest := "", 0
	for _, r := range c.routes {
		for _, g := range r.GRPCServices {
			if (symbol == g || strings.HasPrefix(symbol, g+".")) && len(g) > longest {
				owner, longest = r.ConsulService, len(g)
			}
		}
	}
	order := []string{}
	if owner != "" {
		order = append(order, owner)
	}
	for _, r := range c.routes {
		if r.ConsulService != owner {
			order = append(order, r.ConsulService)
		}
	}
	return order
}

// declarationFile reads the declaration again for every request, as the
// engines' templates do on every render: a new declaration is answered as
// soon as it is there. A declaration that no longer parses is logged once
// and the last good one is kept, as the engines keep their last good
// config.
type declarationFile struct {
	path string
	log  *log.Logger

	mu      sync.Mutex
	last    catalog
	lastErr string
}

// newDeclarationFile reads path once; an error there is the caller's to
// report (the program does not start on a bad declaration).
func newDeclarationFile(path string, logger *log.Logger) (*declarationFile, error) {
	declared, err := routes.Load(path)
	if err != nil {
		return nil, err
	}
	return &declarationFile{path: path, log: logger, last: newCatalog(declared)}, nil
}

func (d *declarationFile) current() catalog {
	declared, err := routes.Load(d.path)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err != nil {
		if msg := err.Error(); msg != d.lastErr {
			d.log.Printf("the declaration of routes %s is refused, answering from the last good one: %v", d.path, err)
			d.lastErr = msg
		}
		return d.last
	}
	d.last, d.lastErr = newCatalog(declared), ""
	return d.last
}
