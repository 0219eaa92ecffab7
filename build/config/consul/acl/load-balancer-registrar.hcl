# Token of the registrar in the load-balancer container (CONSUL_HTTP_TOKEN_FILE).
# Created with this policy AND `-service-identity load-balancer`; the service
# identity grants service:write on "load-balancer" plus service_prefix "" and
# node_prefix "" read. It cannot register a declared service (hello_server,
# any of build/config/services.conf), so a compromised load balancer cannot
# add itself (or anything) to the upstreams it routes to.
#
# agent:read on the load balancer's own agent: the registrar asks GET
# /v1/agent/self for the address the agent advertises; that endpoint needs
# agent:read on the agent's node name.
agent_prefix "load-balancer-" {
  policy = "read"
}
