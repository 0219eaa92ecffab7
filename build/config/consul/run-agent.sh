#!/bin/sh
# The Consul client agent of a hello_server or load-balancer container (the
# supervisord program consul-agent). exec keeps the pid, so supervisord's
# TERM reaches Consul itself.
#
# The node is named <role>-<hostname> (CONSUL_NODE_PREFIX is set in each
# image): replicas are identical and scaled, so the ACL policies grant each
# role its nodes by name prefix (build/config/consul/acl/).
set -eu
case "${CONSUL_NODE_PREFIX:-}" in
    hello-server | load-balancer) ;;
    *)
        echo "run-agent: CONSUL_NODE_PREFIX=\"${CONSUL_NODE_PREFIX:-}\" is invalid: accepted is hello-server or load-balancer (the ACL policies grant nodes by these prefixes)" >&2
        exit 2
        ;;
esac
. "$(dirname "$0")/bind-network.sh"
bind=$(consul_bind_flag) || exit 2
exec /usr/local/bin/consul agent ${bind:+"$bind"} \
    -config-file=/etc/consul/agent.hcl \
    -config-file=/run/secrets/consul-gossip.hcl \
    -config-file=/run/secrets/consul-agent-token.hcl \
    -node="$CONSUL_NODE_PREFIX-$(hostname)"
