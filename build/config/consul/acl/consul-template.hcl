# Token of consul-template in the load-balancer container, which renders
# nginx's upstream from /v1/health/service/hello_server?passing. Read only:
# it writes nothing to Consul.

# service:read on hello_server: the one service load-balancer.tpl asks for.
service "hello_server" {
  policy = "read"
}

# node:read on the replicas' nodes. Without it Consul filters every instance
# out of the health endpoint without an error (an empty upstream, not a 403),
# because each entry carries its node. The prefix is the point: a
# hello_server registered on any other node (a Consul server's or the load
# balancer's agent) is filtered out too and never reaches nginx.
node_prefix "hello-server-" {
  policy = "read"
}
