package routes

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
)

// The grammar of the names in a declaration. Every engine's
// load-balancer.tpl and nginx.conf spell the same expressions
// (TestTemplatesUseTheGrammar).
const (
	// ConsulServicePattern names the nginx upstream, the HAProxy backend and
	// its variables, and, with "-" for "_", the replicas' Consul node prefix
	// and token files: so no dot, dash or capital.
	ConsulServicePattern = `[a-z][a-z0-9_]{0,62}`
	// GRPCServicePattern is a gRPC service's full name: dot-separated
	// identifiers, as protobuf's package and service names.
	GRPCServicePattern = `[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*`
	// MaxLine bounds a line's length (after comments and extra blanks are
	// removed), as the templates do.
	MaxLine = 1000
)

var (
	consulService = regexp.MustCompile(`^` + ConsulServicePattern + `$`)
	grpcService   = regexp.MustCompile(`^` + GRPCServicePattern + `$`)
)

// LoadBalancerServices are the gRPC services the load balancer answers
// itself: reflection, which build/reflection (the lb-reflection program)
// answers for every routed service. Both engines route them there, and a
// declaration may not name them (every engine's template pre-declares them
// with the same names, TestTemplatesUseTheGrammar).
var LoadBalancerServices = []string{
	"grpc.reflection.v1.ServerReflection",
	"grpc.reflection.v1alpha.ServerReflection",
}

// Route is one line of a declaration: a Consul service and the gRPC
// services its instances serve.
type Route struct {
	ConsulService string
	GRPCServices  []string
}

// NodePrefix is the prefix of the Consul nodes of the service's replicas,
// and of its token files: the name with "-" for "_" and a final "-"
// (hello_server: "hello-server-").
func (r Route) NodePrefix() string {
	return strings.ReplaceAll(r.ConsulService, "_", "-") + "-"
}

// Load reads the declaration at path (see Parse).
func Load(path string) ([]Route, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return Parse(f, path)
}

// Parse reads a declaration: one line per Consul service, its name and then
// its gRPC services, separated by blanks; "#" starts a comment. It refuses
// the whole declaration, naming each bad line (file:line), its value and
// what is accepted, if a name breaks the grammar, a line has no gRPC
// service or is too long, a Consul or gRPC service is declared twice, or a
// service's node prefix overlaps another's or the deployment's own.
// The templates instead skip such a line and keep the others, since a load
// balancer that stops routing everything for one bad line is worse.
func Parse(r io.Reader, name string) ([]Route, error) {
	var (
		routes    []Route
		errs      []error
		consul    = map[string]int{}
		grpc      = map[string]int{}
		scanner   = bufio.NewScanner(r)
		lineCount = 0
	)
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: "+format, append([]any{name, lineCount}, args...)...))
	}
	for scanner.Scan() {
		lineCount++
		text, _, _ := strings.Cut(scanner.Text(), "#")
		words := strings.Fields(text)
		if len(words) == 0 {
			continue
		}
		if joined := strings.Join(words, " "); len(joined) > MaxLine {
			bad("a line of %d characters; accepted: at most %d", len(joined), MaxLine)
			continue
		}
		route := Route{ConsulService: words[0], GRPCServices: words[1:]}
		switch {
		case !consulService.MatchString(route.ConsulService):
			bad("Consul service %q; accepted: a name matching ^%s$", route.ConsulService, ConsulServicePattern)
		case consul[route.ConsulService] != 0:
			bad("Consul service %q is declared on line %d already; accepted: one line per Consul service", route.ConsulService, consul[route.ConsulService])
		case len(route.GRPCServices) == 0:
			bad("Consul service %q with no gRPC service; accepted: the Consul service, then one or more gRPC services", route.ConsulService)
		}
		if consulService.MatchString(route.ConsulService) && consul[route.ConsulService] == 0 {
			for _, msg := range overlaps(route, routes, consul) {
				bad("%s", msg)
			}
		}
		consul[route.ConsulService] = lineCount
		for _, g := range route.GRPCServices {
			switch {
			case !grpcService.MatchString(g):
				bad("gRPC service %q; accepted: a gRPC full name, dot-separated identifiers (^%s$)", g, GRPCServicePattern)
			case grpc[g] != 0:
				bad("gRPC service %q is declared on line %d already; accepted: each gRPC service on one line", g, grpc[g])
			case slices.Contains(LoadBalancerServices, g):
				bad("gRPC service %q is the load balancer's own (it answers reflection for every routed service); accepted: any other gRPC service", g)
			}
			grpc[g] = lineCount
		}
		routes = append(routes, route)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if len(errs) == 0 && len(routes) == 0 {
		bad("no Consul service is declared; accepted: at least one line \"<Consul service> <gRPC service>...\"")
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return routes, nil
}

// reservedNodePrefixes are the node prefixes of the deployment's own Consul
// nodes, which no declared service's replicas may share.
var reservedNodePrefixes = []string{"load-balancer-", "consul-server-"}

// overlaps explains why route's node prefix may not be declared after the
// routes before it: the ACLs give a service's agents write access to the
// nodes named <node prefix>*, and consul-template reads a service's
// instances on them only, so no prefix may start another (hello beside
// hello_server would share the hello-server-* nodes). The wording is
// build/config/consul/declared-services.sh's.
func overlaps(route Route, before []Route, lines map[string]int) []string {
	prefix := route.NodePrefix()
	overlap := func(a, b string) bool { return strings.HasPrefix(a, b) || strings.HasPrefix(b, a) }
	var msgs []string
	for _, reserved := range reservedNodePrefixes {
		if overlap(prefix, reserved) {
			msgs = append(msgs, fmt.Sprintf("Consul service %q, whose replicas would be the Consul nodes \"%s*\"; accepted: a name whose node prefix (\"-\" for \"_\", then \"-\") neither starts nor is started by \"load-balancer-\" or \"consul-server-\"", route.ConsulService, prefix))
			break
		}
	}
	for _, other := range before {
		if overlap(prefix, other.NodePrefix()) {
			msgs = append(msgs, fmt.Sprintf("Consul service %q, whose replicas would be the Consul nodes \"%s*\", overlapping \"%s*\" of %q on line %d; accepted: node prefixes (\"-\" for \"_\", then \"-\") of which none starts another", route.ConsulService, prefix, other.NodePrefix(), other.ConsulService, lines[other.ConsulService]))
		}
	}
	return msgs
}

// ConsulServices are the declared Consul services, in the declaration's order.
func ConsulServices(routes []Route) []string {
	names := make([]string, len(routes))
	for i, r := range routes {
		names[i] = r.ConsulService
	}
	return names
}

// ServedBy is the Consul service that serves gRPC service g, or "".
func ServedBy(routes []Route, g string) string {
	for _, r := range routes {
		for _, s := range r.GRPCServices {
			if s == g {
				return r.ConsulService
			}
		}
	}
	return ""
}
