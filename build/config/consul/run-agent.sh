#!/bin/sh
# The Consul client agent of a hello_server or load-balancer container (the
# supervisord program consul-agent). exec keeps the pid, so supervisord's
# TERM reaches Consul itself.
#
# The node is named <role>-<hostname> (CONSUL_NODE_PREFIX is set in each
# image or compose service): replicas are identical and scaled, so the ACL
# policies grant each role its nodes by name prefix (build/config/consul/
# acl/): load-balancer, or a Consul service that the declaration of routes
# (/etc/grpc-lb/services.conf) declares, its name with "-" for "_"
# (hello_server: hello-server), whose agent token acl-bootstrap.sh makes.
set -eu
declaration=/etc/grpc-lb/services.conf
prefix=${CONSUL_NODE_PREFIX:-}
if [ "$prefix" != load-balancer ]; then
    if ! declared=$("$(dirname "$0")/declared-services.sh" "$declaration"); then
        echo "run-agent: $declared" >&2
        exit 2
    fi
    accepted=load-balancer
    found=
    for s in $declared; do
        d=$(echo "$s" | sed 's/_/-/g')
        accepted="$accepted, $d"
        if [ "$prefix" = "$d" ]; then found=yes; fi
    done
    if [ -z "$found" ]; then
        echo "run-agent: CONSUL_NODE_PREFIX=\"$prefix\" is invalid: accepted is $accepted (the load balancer's, or a Consul service of $declaration with \"-\" for \"_\": the ACL policies grant nodes by these prefixes)" >&2
        exit 2
    fi
fi
. "$(dirname "$0")/bind-network.sh"
bind=$(consul_bind_flag) || exit 2
exec /usr/local/bin/consul agent ${bind:+"$bind"} \
    -config-file=/etc/consul/agent.hcl \
    -config-file=/run/secrets/consul-gossip.hcl \
    -config-file=/run/secrets/consul-agent-token.hcl \
    -node="$prefix-$(hostname)"
