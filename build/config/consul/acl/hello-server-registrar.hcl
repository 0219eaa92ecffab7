# Token of the registrar in every hello_server replica (CONSUL_HTTP_TOKEN_FILE).
# Created with this policy AND `-service-identity hello_server`; the service
# identity grants service:write on "hello_server" (register, keep registered,
# deregister, and its health check) plus service_prefix "" and node_prefix ""
# read. It grants nothing else: this token cannot register any other service.
#
# agent:read on the replica's own agent: the registrar asks GET
# /v1/agent/self for the address the agent advertises and registers the
# service at it; that endpoint needs agent:read on the agent's node name.
agent_prefix "hello-server-" {
  policy = "read"
}
