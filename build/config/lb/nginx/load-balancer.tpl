# Rendered by consul-template from the declaration of routes
# (/etc/grpc-lb/services.conf, build/config/services.conf) and the passing
# instances of each declared Consul service. Do not edit
# /tmp/nginx/load-balancer.conf: the next change in Consul overwrites it.
#
# Nothing from Consul's catalog or the declaration reaches this file as raw
# text. A declaration line is used only if its Consul service and gRPC
# service names match their grammar (services.conf says which) and none was
# declared before; an instance is routed only if its address is an IPv4
# address in dotted-decimal form (not 0.x.x.x, which is no host, nor
# 127.x.x.x, which in the load balancer's container is the load balancer
# itself) and its port is 1 to 65535. IPv6 addresses are refused on purpose:
# the compose network is IPv4 only. Anything else is left out and listed in
# a "# skipped" comment line, where every character outside
# [A-Za-z0-9_.:=/ -] is replaced by "?" and the value is cut to 200
# characters, so one bad entry can neither make `nginx -t` reject the file
# (which would freeze routing) nor inject directives. reload-nginx.sh logs
# those lines.
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

# One upstream per Consul service, named after it: each has its own servers,
# its own round robin and its own pool of kept-alive connections. The
# "# upstream" comment above each is what reload-nginx.sh logs.
#
# max_fails=0: nginx counts a stream the replica resets (grpc-go does so when
# a call's deadline passes) as a failed attempt, so max_fails=1 would take
# healthy replicas out on ordinary client deadlines. Consul's health check
# removes dead replicas instead, and a refused or timed-out connect is
# retried on another replica (grpc_next_upstream).
#
# keepalive: reuse upstream connections instead of opening one per call.
# nginx carries one call at a time on each upstream connection, so it needs
# as many connections as calls in flight; with fewer kept idle (nginx's
# example value, 64), every call above that many opened and closed a
# connection. 1024 is nginx.conf's http2_max_concurrent_streams: one
# client's calls in flight. An idle connection costs the replica its read
# and write buffers (grpc-go's default: 32 KiB each).
{{- range $service := $services }}
{{- $routed := scratch.MapValues (print "routed " $service) }}

# upstream {{ $service }}: {{ len $routed }} replica(s): {{ range $i, $a := $routed }}{{ if $i }} {{ end }}{{ $a }}{{ end }}
upstream {{ $service }} {
{{- range $routed }}
    server {{ . }} max_fails=0;
{{- else }}
    # No passing replica with an address that may be routed. A server
    # marked down keeps the config valid, and every call gets gRPC status
    # 14 UNAVAILABLE from nginx.conf's @no_replica.
    server 127.0.0.1:7777 down;
{{- end }}
    keepalive 1024;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
}
{{- end }}

# Reflection, for every routed service: the load balancer's lb-reflection
# program (build/reflection, supervisord's lb-reflection.conf) on loopback,
# which lists the declared services and asks their replicas for their
# descriptors. Its name has a "-", which no Consul service's has. One
# server: nginx never marks it failed.
upstream load-balancer-reflection {
    server 127.0.0.1:7780;
    keepalive 16;
}

# The route of each gRPC service: the upstream of the Consul service that
# serves it, and the reflection services' own. nginx.conf sets $grpc_service
# from the call's path and answers UNIMPLEMENTED when this map gives no
# upstream.
map $grpc_service $grpc_upstream {
    default "";
{{- range split " " $own }}
    "{{ . }}" load-balancer-reflection;
{{- end }}
{{- range scratch.MapValues "routes" }}
{{- $route := split " " . }}
    "{{ index $route 0 }}" {{ index $route 1 }};
{{- end }}
}

# Each upstream's servers as one line, which nginx's 8080 listener serves at
# /upstream/<Consul service>, and /upstream for the declaration's first
# service: what nginx's running workers route to, not only what the file
# says (a request there is answered by the workers of the config in force).
# "-" is no such service (404).
map $uri $upstream_servers {
    default "-";
{{- range $service := $services }}
    "/upstream/{{ $service }}" "{{ range scratch.MapValues (print "routed " $service) }}{{ . }} {{ end }}";
{{- if eq $service (scratch.Get "first") }}
    "/upstream" "{{ range scratch.MapValues (print "routed " $service) }}{{ . }} {{ end }}";
{{- end }}
{{- end }}
}

# grpc-message of nginx.conf's @no_replica, the answer when no replica
# answered a call, by upstream: with no replica routed, that there is none;
# otherwise how many are routed and that every try timed out or failed, with
# nginx's status for each try (502: refused or reset, 504: timed out). Each
# names the gRPC service ($grpc_service, which matched the grammar).
map "$grpc_upstream $upstream_status" $no_replica_message {
    default "no replica answered (upstream status $upstream_status)";
{{- range $service := $services }}
{{- $replicas := len (scratch.MapValues (print "routed " $service)) }}
{{- if eq $replicas 0 }}
    "~^{{ $service }} " "no healthy {{ $service }} replica is available behind the load balancer for $grpc_service";
{{- else }}
    "~^{{ $service }} 504(, 504)*$" "{{ $replicas }} {{ $service }} replica(s) known; every try timed out (upstream status $upstream_status) for $grpc_service";
    "~^{{ $service }} " "{{ $replicas }} {{ $service }} replica(s) known; every try failed (upstream status $upstream_status) for $grpc_service";
{{- end }}
{{- end }}
}
