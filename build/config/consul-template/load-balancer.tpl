# Rendered by consul-template from the passing hello_server instances in
# Consul. Do not edit /etc/nginx/conf.d/load-balancer.conf: the next change
# in Consul overwrites it.
#
# max_fails=0: nginx counts a stream the replica resets (grpc-go does so when
# a call's deadline passes) as a failed attempt, so max_fails=1 would take
# healthy replicas out on ordinary client deadlines. Consul's health check
# removes dead replicas instead, and a refused or timed-out connect is
# retried on another replica (grpc_next_upstream).
upstream hello_server {
{{- range service "hello_server" }}
    server {{ .Address }}:{{ .Port }} max_fails=0;
{{- else }}
    # No passing replica. A server marked down keeps the config valid, and
    # every call gets gRPC status 14 UNAVAILABLE from @no_replica.
    server 127.0.0.1:7777 down;
{{- end }}

    # Reuse upstream connections instead of opening one per call.
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
}

# The servers above, as one line that nginx's 8080 listener serves at
# /upstream: what nginx's running workers route to, not only what the file
# says (a request there is answered by the workers of the config in force).
map "" $hello_server_upstream {
    default "{{- range service "hello_server" }}{{ .Address }}:{{ .Port }} {{ end -}}";
}

# grpc-message of nginx.conf's @no_replica, the answer when no replica
# answered a call: with no passing replica, that there is none; otherwise how
# many are known and that every try timed out or failed, with nginx's status
# for each try (502: refused or reset, 504: timed out).
{{- $replicas := len (service "hello_server") }}
map $upstream_status $hello_server_unavailable {
{{- if eq $replicas 0 }}
    default "no healthy hello_server replica is available behind the load balancer";
{{- else }}
    "~^504(, 504)*$" "{{ $replicas }} hello_server replica(s) known; every try timed out (upstream status $upstream_status)";
    default "{{ $replicas }} hello_server replica(s) known; every try failed (upstream status $upstream_status)";
{{- end }}
}
