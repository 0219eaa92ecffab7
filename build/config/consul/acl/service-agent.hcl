# Rendered by acl-bootstrap.sh from this template once per Consul service
# that /etc/grpc-lb/services.conf declares, as the policy <node prefix>agent
# (hello-server-agent for hello_server), with the service's name and its
# replicas' node prefix (the name with "-" for "_", then "-") for the two
# at-sign placeholders.
#
# Agent token of the Consul client agent in every @SERVICE@ replica
# (node name @NODE_PREFIX@<container hostname>), set as acl.tokens.agent.
#
# node:write on its own node: the agent registers the node in the catalog,
# keeps it in sync (anti-entropy, coordinates) and, with auto_encrypt, has
# the servers sign its certificate, which all need node:write. The prefix
# covers every replica and nothing else: a replica's token cannot write the
# load balancer's, a server's or another service's replicas' nodes (no
# declared node prefix starts another, declared-services.sh).
node_prefix "@NODE_PREFIX@" {
  policy = "write"
}

# service:read on every service: anti-entropy reads the catalog's view of
# the services on this node to compare it with the agent's own.
service_prefix "" {
  policy = "read"
}
