# Rendered by acl-bootstrap.sh from this template once per Consul service
# that /etc/grpc-lb/services.conf declares, as the policy
# <node prefix>registrar (hello-server-registrar for hello_server), with the
# service's name and its replicas' node prefix (the name with "-" for "_",
# then "-") for the two at-sign placeholders.
#
# Token of the registrar in every @SERVICE@ replica (CONSUL_HTTP_TOKEN_FILE).
# Created with this policy AND `-service-identity @SERVICE@`; the service
# identity grants service:write on "@SERVICE@" (register, keep registered,
# deregister, and its health check) plus service_prefix "" and node_prefix ""
# read. It grants nothing else: this token cannot register any other service.
#
# agent:read on the replica's own agent: the registrar asks GET
# /v1/agent/self for the address the agent advertises and registers the
# service at it; that endpoint needs agent:read on the agent's node name.
agent_prefix "@NODE_PREFIX@" {
  policy = "read"
}
