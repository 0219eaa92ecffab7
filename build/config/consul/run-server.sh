#!/bin/sh
# Entry point of the Consul server containers (consul-server-1..3): runs
# `consul agent` with server.hcl and passes docker stop's SIGTERM on.
#
# A server stops without leaving the cluster: it stays one of the three raft
# peers, so stopping one keeps the quorum at two of three and it rejoins as
# the same peer when it starts again. (leave_on_terminate would take it out
# of the raft configuration on every stop, and two stops in a row would leave
# a one-server "cluster" that elects itself.) Consul v1.13.9 reports a stop
# without leave as exit status 1 ("Graceful shutdown disabled. Exiting",
# command/agent/agent.go), the same status as a failure. This script knows
# when docker asked for the stop, and only then turns that 1 into 0; every
# other status (a crash, a failed start or join) is passed through.
#
# The stop is bounded: a server still running stop_secs after the signal is
# SIGKILLed and the script exits 1. build/test/stopbudget checks stop_secs against
# the service's stop_grace_period in docker-compose.yaml.
set -u
stop_secs=5

now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

# Whether pid $1 is running: kill -0 also succeeds for an exited child that
# has not been waited for (a zombie).
running() {
    { read -r line < "/proc/$1/stat"; } 2>/dev/null || return 1
    # Fields after "(comm) ": state ...
    # shellcheck disable=SC2086
    set -- ${line##*) }
    [ "$1" != Z ]
}

# The secrets: the gossip key, and this server's management and agent
# tokens (server.hcl names the TLS files), mounted by compose.
. "$(dirname "$0")/bind-network.sh"
bind=$(consul_bind_flag) || exit 2
# The healthcheck's setting (server-healthy.sh), refused here at start
# rather than as a healthcheck that fails for good.
case "${CONSUL_SERVER_HEALTHY_WHEN:-leader}" in
    leader | answering) ;;
    *)
        echo "run-consul-server: CONSUL_SERVER_HEALTHY_WHEN=\"$CONSUL_SERVER_HEALTHY_WHEN\" is invalid: accepted is leader (the default) or answering" >&2
        exit 2
        ;;
esac
# The other two servers, by service name. Not this one: a join that reaches
# only itself counts as done, and Consul stops retrying. Under Swarm the
# others are in DNS only once their tasks are healthy, seconds after this
# one may have started, so a list with itself in it could leave each server
# alone for good.
set --
for server in consul-server-1 consul-server-2 consul-server-3; do
    [ "$server" = "$(hostname)" ] || set -- "$@" "-retry-join=$server"
done
if [ $# != 2 ]; then
    echo "run-consul-server: the hostname \"$(hostname)\" is invalid: accepted is consul-server-1, consul-server-2 or consul-server-3 (docker-compose.yaml sets it)" >&2
    exit 2
fi
/usr/local/bin/consul agent ${bind:+"$bind"} "$@" -config-file=/etc/consul/server.hcl \
    -config-file=/run/secrets/consul-gossip.hcl -config-file=/run/secrets/consul-acl.hcl &
consul=$!
stopping=0
trap 'stopping=1; kill -TERM "$consul" 2>/dev/null' TERM INT

while :; do
    wait "$consul"
    status=$?
    # wait also returns when a trapped signal arrives.
    kill -0 "$consul" 2>/dev/null || break
    [ "$stopping" = 1 ] || continue
    deadline=$(($(now_ms) + stop_secs * 1000))
    while running "$consul" && [ "$(now_ms)" -lt "$deadline" ]; do
        sleep 0.05
    done
    if running "$consul"; then
        echo "run-consul-server: consul still running ${stop_secs} s after SIGTERM; killing it" >&2
        kill -KILL "$consul" 2>/dev/null
        wait "$consul"
        exit 1
    fi
done

if [ "$stopping" = 1 ] && [ "$status" = 1 ]; then
    echo "run-consul-server: consul stopped on request without leaving the cluster (Consul's exit status 1 for that); exiting 0"
    exit 0
fi
echo "run-consul-server: consul exited with status $status" >&2
exit "$status"
