#!/bin/sh
# The Consul servers' healthcheck (docker-compose.yaml). What "healthy"
# means is CONSUL_SERVER_HEALTHY_WHEN, checked by run-server.sh at start:
#   leader     (compose, the default) once the cluster has elected a
#              leader: compose starts the ACL job and the replicas only then.
#   answering  (Swarm, build/swarm/stack.yaml) once this agent's HTTP API
#              answers, leader or not. Swarm's DNS names only healthy tasks,
#              and the servers find each other by those names: waiting for
#              a leader would keep all three out of DNS, leaderless for good.
# /v1/status/leader is the one question that needs no ACL token; it answers
# "" until there is a leader.
case "${CONSUL_SERVER_HEALTHY_WHEN:-leader}" in
    leader) wget -q -T 2 -O - http://127.0.0.1:8500/v1/status/leader | grep -q ':8300"' ;;
    answering) wget -q -T 2 -O /dev/null http://127.0.0.1:8500/v1/status/leader ;;
    *)
        echo "CONSUL_SERVER_HEALTHY_WHEN=\"$CONSUL_SERVER_HEALTHY_WHEN\" is invalid: accepted is leader or answering" >&2
        exit 1
        ;;
esac
