# Agent token of the Consul client agent in every hello_server replica
# (node name hello-server-<container hostname>), set as acl.tokens.agent.
#
# node:write on its own node: the agent registers the node in the catalog,
# keeps it in sync (anti-entropy, coordinates) and, with auto_encrypt, has
# the servers sign its certificate, which all need node:write. The prefix
# covers every replica and nothing else: a replica's token cannot write the
# load balancer's or a server's node.
node_prefix "hello-server-" {
  policy = "write"
}

# service:read on every service: anti-entropy reads the catalog's view of
# the services on this node to compare it with the agent's own.
service_prefix "" {
  policy = "read"
}
