#!/bin/sh
# consul-template runs this after every render of HAProxy's load-balancer.cfg
# (LB_ENGINE=haproxy; reload-nginx.sh is nginx's). It must exit 0 even when
# the render is bad: a failing command makes consul-template exit (code 14).
# A render that `haproxy -c` rejects is logged and replaced with the last
# config HAProxy accepted, so HAProxy keeps serving the old replicas and a
# restart of HAProxy would still load.
set -u
conf=/etc/haproxy/haproxy.cfg
live=/etc/haproxy/load-balancer.cfg
good=/tmp/haproxy/load-balancer.cfg.last-good
pidfile=/tmp/haproxy/haproxy.pid

if ! out=$(haproxy -c -q -f "$conf" -f "$live" 2>&1); then
    echo "reload-haproxy: haproxy -c rejected the rendered $live; keeping the last good config: $(echo "$out" | tr '\n' ' ')" >&2
    cp "$good" "$live"
    exit 0
fi
cp "$live" "$good"
# Instances load-balancer-haproxy.tpl left out (no IPv4 address with a port
# from 1 to 65535), already sanitised by the template; one log line each.
sed -n 's/^# skipped hello_server instance /reload-haproxy: skipped hello_server instance /p' "$live" >&2
# Only routed servers are "server replica-N"; the skipped ones are comments.
replicas=$(grep -c '^ *server replica-[0-9]* ' "$live")
# The addresses too, so the log shows which replicas a reload routes to.
addresses=$(sed -n 's/^ *server replica-[0-9]* \([^ ]*\)$/\1/p' "$live" | tr '\n' ' ' | sed 's/ $//')

# The pids of the master's children (its workers), one per line.
workers() {
    for stat in /proc/[0-9]*/stat; do
        { read -r line < "$stat"; } 2>/dev/null || continue
        # Fields after "(comm) ": state ppid ...
        # shellcheck disable=SC2086
        set -- ${line##*) }
        [ "$2" = "$master" ] && echo "${line%% *}"
    done
}

# How long a reload may take to start its new worker.
reload_secs=10
now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

# In master-worker mode the pid file holds the master's pid.
if [ -s "$pidfile" ] && master=$(cat "$pidfile") && kill -0 "$master" 2>/dev/null; then
    # SIGUSR2: the master re-reads both files and starts a new worker on the
    # same listening sockets; the old worker soft-stops: it finishes the
    # calls in flight, sends GOAWAY to its clients and exits (at the latest
    # after hard-stop-after). A restart would cut the calls.
    # The master re-executes itself on USR2, and a second USR2 that arrives
    # before it is back is lost (seen when two renders came a second apart).
    # So the script returns only once the new worker exists: consul-template
    # runs it for each render, one at a time.
    before=" $(workers | tr '\n' ' ')"
    if ! kill -USR2 "$master"; then
        echo "reload-haproxy: signalling the haproxy master failed; haproxy keeps its current config" >&2
        exit 0
    fi
    deadline=$(($(now_ms) + reload_secs * 1000))
    while :; do
        for pid in $(workers); do
            case "$before " in
                *" $pid "*) ;;
                *)
                    echo "reload-haproxy: reloaded haproxy with $replicas hello_server replica(s): $addresses"
                    exit 0
                    ;;
            esac
        done
        if [ "$(now_ms)" -ge "$deadline" ]; then
            echo "reload-haproxy: haproxy's master started no new worker within $reload_secs s of the reload signal; the next render reloads again" >&2
            exit 0
        fi
        sleep 0.05
    done
else
    echo "reload-haproxy: haproxy is not running yet; it will start with $replicas hello_server replica(s): $addresses"
fi
exit 0
