# Rendered by acl-bootstrap.sh from this template once per Consul service
# that /etc/grpc-lb/services.conf declares, with the service's name and its
# replicas' node prefix (the name with "-" for "_", then "-") for the two
# at-sign placeholders; the renders, joined by an empty line, are the one
# policy consul-template, so its token reads exactly the declared services,
# on the declared services' replicas' nodes.
#
# Token of consul-template in the load-balancer container, which renders the
# engine's routes from /v1/health/service/<Consul service>?passing for each
# declared service. Read only: it writes nothing to Consul.

# service:read on @SERVICE@, a service the load balancer routes to.
service "@SERVICE@" {
  policy = "read"
}

# node:read on @SERVICE@'s replicas' nodes. Without it Consul filters every
# instance out of the health endpoint without an error (an empty upstream,
# not a 403), because each entry carries its node. The prefix is the point:
# a @SERVICE@ registered on a node of no declared service (a Consul
# server's, the load balancer's) is filtered out too and never reaches the
# load balancer. Consul grants read per rule, not per pair of rules, so a
# @SERVICE@ on another declared service's replica's node is readable (only
# @SERVICE@'s own registrar token can put it there): keeping each service
# to its own node prefix is the templates' part (build/config/consul/
# README.md, "Who may serve what").
node_prefix "@NODE_PREFIX@" {
  policy = "read"
}
