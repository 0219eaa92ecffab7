# Rendered by consul-template from the passing hello_server instances in
# Consul, for HAProxy (LB_ENGINE=haproxy). Do not edit
# /tmp/haproxy/load-balancer.cfg: the next change in Consul overwrites it.
# HAProxy loads it after haproxy.cfg, which holds everything else.
#
# Which instances are routed is decided exactly as in load-balancer.tpl
# (nginx's): the block from the "scratch is fresh" comment to the
# $routed line is byte-for-byte the same in every engine's template, and
# build/test/lbbehaviour's TestTemplatesShareValidation fails when they
# differ.
# An instance is routed only if its address is an IPv4 address in
# dotted-decimal form (not 0.x.x.x, nor 127.x.x.x) and its port is 1 to
# 65535; any other is listed in a sanitised "# skipped" comment line, which
# haproxy-reload logs, so one bad entry can neither make `haproxy -c`
# reject the file (which would freeze routing) nor inject directives.
{{- /* scratch is fresh for every render. MapValues returns a map's values
       sorted by key; the key is node and ID, each quoted, so the servers keep
       Consul's order (node, then ID) and no two instances share a key. The
       loopback and "0." rule is its own line: build/test/testenv swaps it on the
       host, where the tests' replicas listen on 127.0.0.1. */}}
{{- $ipv4 := `^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}$` }}
{{- $refused := `^(0|127)\.` }}
{{- range service "hello_server" }}
  {{- $key := printf "%q %q" .Node .ID }}
  {{- if and (regexMatch $ipv4 .Address) (not (regexMatch $refused .Address)) (ge .Port 1) (le .Port 65535) }}
    {{- scratch.MapSet "routed" $key (printf "%s:%d" .Address .Port) }}
  {{- else }}
    {{- scratch.MapSet "skipped" $key (printf "id=%s node=%s address=%s port=%d" .ID .Node .Address .Port | regexReplaceAll `[^A-Za-z0-9_.:=/ -]` "?" | regexReplaceAll `^(.{0,200}).*$` "${1}") }}
  {{- end }}
{{- end }}
{{- range scratch.MapValues "skipped" }}
# skipped hello_server instance (not an IPv4 address with a port from 1 to 65535): {{ . }}
{{- end }}
{{- $routed := scratch.MapValues "routed" }}

# The servers: one slot per routed address (Consul may hold two instances
# with the same address and port; each address is one server, sorted), then
# free slots up to 64, disabled at a placeholder address. haproxy-reload
# moves the running HAProxy to a new render through its Runtime API, without
# a reload: it points free slots at new replicas and disables the slots of
# replicas that left. Slots are servers of the config, not servers added at
# run time, because HAProxy 2.6 keeps no idle connections to an added server
# (measured: a new connection per call, a third of the calls per second).
# With no server enabled, haproxy.cfg's frontend answers every call with
# gRPC status 14 UNAVAILABLE (nbsrv(hello_server) is 0).
{{- range $routed }}{{ scratch.MapSet "servers" . . }}{{ end }}
{{- $servers := scratch.MapValues "servers" }}
backend hello_server from hello_server
{{- range $i, $addr := $servers }}
    server replica-{{ add $i 1 }} {{ $addr }}
{{- end }}
{{- if lt (len $servers) 64 }}
{{- range $i := loop (len $servers) 64 }}
    server replica-{{ add $i 1 }} 127.0.0.1:1 disabled
{{- end }}
{{- end }}

# The servers as one line, which haproxy.cfg's 8080 frontend serves at
# /upstream: what HAProxy routes to, as nginx's $hello_server_upstream.
# haproxy-reload sets it through the Runtime API when it changes the
# servers without a reload; a HAProxy that starts or reloads reads it here.
global
    set-var proc.hello_server_upstream str("{{- range $servers }}{{ . }} {{ end -}}")
