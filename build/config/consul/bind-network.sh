#!/bin/sh
# Sourced by run-server.sh and run-agent.sh. Under Docker Swarm a task has
# an address on the stack's overlay network and another on docker_gwbridge,
# in no fixed order, and Consul refuses to guess between two private
# addresses. CONSUL_BIND_NETWORK (set by build/swarm/stack.yaml to the
# overlay's subnet) names the network whose address Consul binds to and
# advertises; the registrar registers the agent's address, so the load
# balancer reaches replicas on the overlay too. Unset (compose, one network):
# Consul's own choice, the container's only private address.

# Prints the -bind flag for CONSUL_BIND_NETWORK, nothing when it is unset;
# exits 2 with the setting, the value and what is accepted otherwise.
consul_bind_flag() {
    net=${CONSUL_BIND_NETWORK:-}
    [ -n "$net" ] || return 0
    if ! echo "$net" | awk -F'[./]' '
        NF != 5 { exit 1 }
        { for (i = 1; i <= 4; i++) if ($i !~ /^[0-9]+$/ || $i > 255) exit 1 }
        $5 !~ /^[0-9]+$/ || $5 > 32 { exit 1 }'; then
        echo "CONSUL_BIND_NETWORK=\"$net\" is invalid: accepted is an IPv4 network in CIDR form, such as 10.231.0.0/20 (the overlay's subnet), or unset" >&2
        return 2
    fi
    echo "-bind={{ GetAllInterfaces | include \"network\" \"$net\" | attr \"address\" }}"
}
