# Agent token of the Consul client agent in the load-balancer container
# (node name load-balancer-<container hostname>), set as acl.tokens.agent.
#
# node:write on its own node: the agent registers the node in the catalog,
# keeps it in sync (anti-entropy, coordinates) and, with auto_encrypt, has
# the servers sign its certificate, which all need node:write. The prefix
# covers the load balancer's node only, never a replica's of a declared
# service (no declared node prefix overlaps it, declared-services.sh).
node_prefix "load-balancer-" {
  policy = "write"
}

# service:read on every service: anti-entropy reads the catalog's view of
# the services on this node to compare it with the agent's own.
service_prefix "" {
  policy = "read"
}
