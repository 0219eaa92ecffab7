# Rendered by consul-template from the declaration of routes
# (/etc/grpc-lb/services.conf, build/config/services.conf) and the passing
# instances of each declared Consul service, for HAProxy (LB_ENGINE=haproxy).
# Do not edit /tmp/haproxy/load-balancer.cfg: the next change in Consul
# overwrites it. HAProxy loads it after haproxy.cfg, which holds the
# behaviour of every section below (the defaults sections they name with
# "from") and the 8080 listener.
#
# What is routed is decided exactly as in nginx's load-balancer.tpl: the
# block from the "scratch is fresh" comment to the $services line is
# byte-for-byte the same in every engine's template, and
# build/test/lbbehaviour's TestTemplatesShareValidation fails when they
# differ. Nothing from Consul's catalog or the declaration reaches this file
# as raw text. A declaration line is used only if its Consul service and
# gRPC service names match their grammar (services.conf says which) and
# none was declared before; an instance is routed only if its address is an
# IPv4 address in dotted-decimal form (not 0.x.x.x, nor 127.x.x.x) and its
# port is 1 to 65535. Anything else is listed in a sanitised "# skipped"
# comment line, which haproxy-reload logs, so one bad entry can neither make
# `haproxy -c` reject the file (which would freeze routing) nor inject
# directives. The names that do reach the file are [a-z0-9_] (Consul
# services: backends, variables) and [A-Za-z0-9_.] (gRPC services), which
# HAProxy takes as they are in a proxy name, a variable name and a pattern.
{{- /* scratch is fresh for every render. MapValues returns a map's values
       sorted by key.

       The routes come from the declaration, /etc/grpc-lb/services.conf
       (build/config/services.conf): one line per Consul service, its name
       and then the gRPC services it serves. A line whose names do not match
       the grammar, or that names a Consul or gRPC service an earlier line
       named, is left out whole and listed in a "# skipped declaration line"
       comment, sanitised as below. The results, in scratch:
         "services":       the declared Consul services, by name;
         "routes":         "<gRPC service> <Consul service>", by gRPC service;
         "grpc <S>":       the gRPC services of Consul service S;
         "routed <S>":     S's routed addresses, by node and ID;
         "first":          the declaration's first Consul service.
       The reflection services are the load balancer's own (build/reflection
       answers them for every routed service): they count as declared
       before the first line, so a line that names one is skipped.

       An instance's key is its node and ID, each quoted, so the servers keep
       Consul's order (node, then ID) and no two instances share a key. The
       loopback and "0." rule is its own line: build/test/testenv swaps it on
       the host, where the tests' replicas listen on 127.0.0.1; the
       declaration's path is its own line too, for the same reason. */}}
{{- $ipv4 := `^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$` }}
{{- $refused := `^(0|127)\.` }}
{{- $declaration := "/etc/grpc-lb/services.conf" }}
{{- $line := `^[a-z][a-z0-9_]{0,62}( [A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*)+$` }}
{{- $own := "grpc.reflection.v1.ServerReflection grpc.reflection.v1alpha.ServerReflection" }}
{{- range split " " $own }}{{ scratch.Set (print "route " .) "the load balancer" }}{{ end }}
{{- range $n, $raw := file $declaration | split "\n" }}
  {{- $text := $raw | regexReplaceAll `#.*$` "" | regexReplaceAll `[ \t]+` " " | trimSpace }}
  {{- if ne $text "" }}
    {{- $words := split " " $text }}
    {{- $service := index $words 0 }}
    {{- $fine := and (regexMatch $line $text) (le (len $text) 1000) (not (scratch.Key (print "grpc " $service))) }}
    {{- range $i, $grpc := $words }}{{ if and $i (scratch.Key (print "route " $grpc)) }}{{ $fine = false }}{{ end }}{{ end }}
    {{- if $fine }}
      {{- scratch.MapSet "services" $service $service }}
      {{- if not (scratch.Key "first") }}{{ scratch.Set "first" $service }}{{ end }}
      {{- range $i, $grpc := $words }}{{ if $i }}
        {{- scratch.Set (print "route " $grpc) $service }}
        {{- scratch.MapSet "routes" $grpc (print $grpc " " $service) }}
        {{- scratch.MapSet (print "grpc " $service) $grpc $grpc }}
      {{- end }}{{ end }}
    {{- else }}
# skipped declaration line {{ add $n 1 }} (a Consul service and its gRPC services, each once): {{ $text | regexReplaceAll `[^A-Za-z0-9_.:=/ -]` "?" | regexReplaceAll `^(.{0,200}).*$` "${1}" }}
    {{- end }}
  {{- end }}
{{- end }}
{{- range $service := scratch.MapValues "services" }}
  {{- range service $service }}
    {{- $key := printf "%q %q" .Node .ID }}
    {{- if and (regexMatch $ipv4 .Address) (not (regexMatch $refused .Address)) (ge .Port 1) (le .Port 65535) }}
      {{- scratch.MapSet (print "routed " $service) $key (printf "%s:%d" .Address .Port) }}
    {{- else }}
      {{- scratch.MapSet "skipped" (print $service " " $key) (print $service " instance (not an IPv4 address with a port from 1 to 65535): " (printf "id=%s node=%s address=%s port=%d" .ID .Node .Address .Port | regexReplaceAll `[^A-Za-z0-9_.:=/ -]` "?" | regexReplaceAll `^(.{0,200}).*$` "${1}")) }}
    {{- end }}
  {{- end }}
{{- end }}
{{- range scratch.MapValues "skipped" }}
# skipped {{ . }}
{{- end }}
{{- $services := scratch.MapValues "services" }}

# One backend per declared Consul service, named after it: each has its own
# servers, its own round robin and its own idle connections. Its behaviour
# is haproxy.cfg's "defaults replicas"; here are only its servers: one slot
# per routed address (Consul may hold two instances with the same address
# and port; each address is one server, sorted), then free slots up to 64,
# disabled at a placeholder address. haproxy-reload moves the running
# HAProxy to a new render through its Runtime API, without a reload: it
# points free slots at new replicas and disables the slots of replicas that
# left (a render that changes more than servers, from a new declaration,
# reloads HAProxy instead). Slots are servers of the config, not servers added at run time,
# because HAProxy 2.6 keeps no idle connections to an added server
# (measured: a new connection per call, a third of the calls per second).
# With no server enabled, a call gets gRPC status 14 UNAVAILABLE
# (haproxy.cfg turns HAProxy's 503 into it, naming the backend).
{{- range $service := $services }}
{{- range scratch.MapValues (print "routed " $service) }}{{ scratch.MapSet (print "servers " $service) . . }}{{ end }}
{{- $servers := scratch.MapValues (print "servers " $service) }}

backend {{ $service }} from replicas
{{- range $i, $addr := $servers }}
    server replica-{{ add $i 1 }} {{ $addr }}
{{- end }}
{{- if lt (len $servers) 64 }}
{{- range $i := loop (len $servers) 64 }}
    server replica-{{ add $i 1 }} 127.0.0.1:1 disabled
{{- end }}
{{- end }}
{{- end }}

# The gRPC listener, cleartext HTTP/2 (h2c, which is what gRPC clients speak
# without TLS) on haproxy.cfg's GRPC_LISTEN: it is here because its routes
# are, and a section cannot span two files. Its behaviour is haproxy.cfg's
# "defaults grpc", whose rules run first: they set txn.grpc_service to the
# call's gRPC service, the first part of its path if that is a gRPC full
# name, and answer any other path UNIMPLEMENTED (12) "malformed method
# name". Then each gRPC service the declaration names sets txn.route to the
# Consul service that serves it, whose backend takes the call; any other is
# answered UNIMPLEMENTED "unknown service <name>", as grpc-go's server words
# it, so a client cannot tell it from a server that lacks the service. The
# reflection services go to haproxy.cfg's backend load-balancer-reflection,
# the load balancer's lb-reflection program (build/reflection), which
# answers for every routed service. The answers are trailers-only: HTTP
# 200, no body, grpc-status and grpc-message in the headers (defaults grpc
# adds the content-type to a call that has no txn.route).
frontend grpc from grpc
    bind "${GRPC_LISTEN}" proto h2
{{- range scratch.MapValues "routes" }}
{{- $route := split " " . }}
    http-request set-var(txn.route) str({{ index $route 1 }}) if { var(txn.grpc_service) -m str {{ index $route 0 }} }
{{- end }}
{{- range split " " $own }}
    http-request set-var(txn.route) str(load-balancer-reflection) if { var(txn.grpc_service) -m str {{ . }} }
{{- end }}
    http-request return status 200 hdr grpc-status 12 hdr grpc-message "unknown service %[var(txn.grpc_service)]" unless { var(txn.route) -m found }
{{- range $service := $services }}
    use_backend {{ $service }} if { var(txn.route) -m str {{ $service }} }
{{- end }}
    use_backend load-balancer-reflection if { var(txn.route) -m str load-balancer-reflection }

# What haproxy.cfg's 8080 listener serves at /upstream/<Consul service>, and
# at /upstream for the declaration's first service: the servers the running
# worker routes to, each followed by a space, as nginx's /upstream; any
# other path is 404. The lists are the variables below.
backend upstream-list from http
{{- range $service := $services }}
    http-request return status 200 content-type text/plain lf-string "%[var(proc.{{ $service }}_upstream)]\n" if { path /upstream/{{ $service }} }
{{- if eq $service (scratch.Get "first") }}
    http-request return status 200 content-type text/plain lf-string "%[var(proc.{{ $service }}_upstream)]\n" if { path /upstream }
{{- end }}
{{- end }}
    http-request return status 404

# Each backend's servers as one line, proc.<Consul service>_upstream:
# haproxy-reload sets them through the Runtime API when it changes the
# servers without a reload; a HAProxy that starts or reloads reads them
# here.
global
{{- range $service := $services }}
    set-var proc.{{ $service }}_upstream str("{{ range scratch.MapValues (print "servers " $service) }}{{ . }} {{ end }}")
{{- end }}
