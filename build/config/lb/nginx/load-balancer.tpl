# Rendered by consul-template from the passing hello_server instances in
# Consul. Do not edit /tmp/nginx/load-balancer.conf: the next change in
# Consul overwrites it.
#
# Nothing from Consul's catalog reaches this file as raw text. An instance is
# routed only if its address is an IPv4 address in dotted-decimal form (not
# 0.x.x.x, which is no host, nor 127.x.x.x, which in the load balancer's
# container is the load balancer itself) and its port is 1 to 65535. IPv6
# addresses are refused on purpose: the compose network is IPv4 only. Any
# other instance is left out of the upstream, of /upstream and of the replica
# count below, so one bad entry can neither make `nginx -t` reject the file
# (which would freeze routing) nor inject directives; it is listed in a
# "# skipped" comment line, where every character outside
# [A-Za-z0-9_.:=/ -] is replaced by "?" and the value is cut to 200
# characters. reload-nginx.sh logs those lines.
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

# max_fails=0: nginx counts a stream the replica resets (grpc-go does so when
# a call's deadline passes) as a failed attempt, so max_fails=1 would take
# healthy replicas out on ordinary client deadlines. Consul's health check
# removes dead replicas instead, and a refused or timed-out connect is
# retried on another replica (grpc_next_upstream).
upstream hello_server {
{{- range $routed }}
    server {{ . }} max_fails=0;
{{- else }}
    # No passing replica with an address that may be routed. A server
    # marked down keeps the config valid, and every call gets gRPC status
    # 14 UNAVAILABLE from @no_replica.
    server 127.0.0.1:7777 down;
{{- end }}

    # Reuse upstream connections instead of opening one per call. nginx
    # carries one call at a time on each upstream connection, so it needs as
    # many connections as calls in flight; with fewer kept idle (nginx's
    # example value, 64), every call above that many opened and closed a
    # connection. 1024 is nginx.conf's http2_max_concurrent_streams: one
    # client's calls in flight. An idle connection costs the replica its
    # read and write buffers (grpc-go's default: 32 KiB each).
    keepalive 1024;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
}

# The servers above, as one line that nginx's 8080 listener serves at
# /upstream: what nginx's running workers route to, not only what the file
# says (a request there is answered by the workers of the config in force).
map "" $hello_server_upstream {
    default "{{- range $routed }}{{ . }} {{ end -}}";
}

# grpc-message of nginx.conf's @no_replica, the answer when no replica
# answered a call: with no replica routed above, that there is none;
# otherwise how many are routed and that every try timed out or failed, with
# nginx's status for each try (502: refused or reset, 504: timed out).
{{- $replicas := len $routed }}
map $upstream_status $hello_server_unavailable {
{{- if eq $replicas 0 }}
    default "no healthy hello_server replica is available behind the load balancer";
{{- else }}
    "~^504(, 504)*$" "{{ $replicas }} hello_server replica(s) known; every try timed out (upstream status $upstream_status)";
    default "{{ $replicas }} hello_server replica(s) known; every try failed (upstream status $upstream_status)";
{{- end }}
}
