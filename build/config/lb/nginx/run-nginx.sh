#!/bin/sh
# supervisord starts nginx through this script, which also takes over when
# nginx's master dies (kill -9, a crash) while its workers live on.
#
# The orphaned workers keep the listening sockets, the client connections and
# the calls in flight. Cutting them (what supervisord's restart would need)
# fails every call on those connections, and then every call a client makes
# while it reconnects: about a second of calls, measured. Instead this script
# starts a new master at once (port 5000 and 8080 are `reuseport`, so it can
# listen next to the old workers) and, once it listens, asks the old workers
# to finish gracefully (QUIT): they stop accepting, send GOAWAY and finish
# their calls, and clients move to the new master without failing calls.
#
# A master that dies within a second of starting (a config it cannot load,
# a port it cannot bind) is left to supervisord: this script then ends the
# old workers and exits, so supervisord sees the exit and restarts it with its
# own backoff.
#
# supervisord starts every program in its own process group; the nginx
# master, its workers and any orphaned workers are in this script's group.
#
# Stopping (supervisord's QUIT) ends the whole group within
# stop_drain_secs + stop_fast_secs, whatever is in flight: QUIT lets calls in
# flight finish, but nginx would wait up to worker_shutdown_timeout (5m) for a
# long stream. After stop_drain_secs the script sends TERM (nginx's fast
# shutdown cuts the calls left), after stop_fast_secs more it SIGKILLs what
# is left of the group. supervisord's stopwaitsecs for nginx is longer than
# both together and its killasgroup ends the group too, should this script
# hang; build/test/stopbudget checks the numbers.
set -u
conf=/etc/lb/nginx/nginx.conf
pidfile=/tmp/nginx/nginx.pid
stop_drain_secs=8
stop_fast_secs=2

now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

start_master() {
    nginx -c "$conf" -e stderr &
    master=$!
    master_started=$(now_ms)
}

# The nginx processes of this script's group, zombies left out. With
# "orphans", only those whose parent is not this script: a dead master's
# workers, reparented to init. With "all", the master and workers too.
group_nginx() {
    which=$1
    for stat in /proc/[0-9]*/stat; do
        { read -r line < "$stat"; } 2>/dev/null || continue
        pid=${stat#/proc/}
        pid=${pid%/stat}
        case "$line" in *"(nginx)"*) ;; *) continue ;; esac
        # Fields after "(comm) ": state ppid pgrp ...
        # shellcheck disable=SC2086
        set -- ${line##*) }
        [ "${3:-}" = "$$" ] && [ "${1:-}" != Z ] || continue
        if [ "$which" = all ] || [ "${2:-}" != "$$" ]; then
            echo "$pid"
        fi
    done
}

# Waits until no nginx process of the group is left; returns 1 if some are
# still there after $1 seconds.
group_gone_within() {
    deadline=$(($(now_ms) + $1 * 1000))
    while [ -n "$(group_nginx all)" ]; do
        [ "$(now_ms)" -ge "$deadline" ] && return 1
        sleep 0.1
    done
}

# Ends every nginx process of the group: QUIT (calls in flight finish), TERM
# after stop_drain_secs (they are cut), KILL after stop_fast_secs more.
stop_group() {
    started=$(now_ms)
    # shellcheck disable=SC2046
    kill -QUIT $(group_nginx all) 2>/dev/null
    if ! group_gone_within "$stop_drain_secs"; then
        echo "run-nginx: calls still in flight after ${stop_drain_secs} s; stopping nginx fast (TERM)" >&2
        # shellcheck disable=SC2046
        kill -TERM $(group_nginx all) 2>/dev/null
        if ! group_gone_within "$stop_fast_secs"; then
            echo "run-nginx: nginx still running ${stop_fast_secs} s after TERM; killing it (KILL)" >&2
            # shellcheck disable=SC2046
            kill -KILL $(group_nginx all) 2>/dev/null
        fi
    fi
    echo "run-nginx: nginx stopped after $(($(now_ms) - started)) ms" >&2
}

# supervisord's stop signal (QUIT) is passed on at once: the master stops
# gracefully, its workers finish the calls in flight; stop_group bounds it.
stopping=0
trap 'stopping=1; kill -QUIT "$master" 2>/dev/null' QUIT TERM INT

start_master
status=0
while :; do
    # A stop signal that came while a new master was starting has not
    # reached that master: do not wait for it.
    [ "$stopping" = 1 ] || wait "$master"
    status=$?
    if [ "$stopping" = 1 ]; then
        stop_group
        # Reap the master, unless the wait above already did.
        wait "$master" 2>/dev/null
        reaped=$?
        [ "$reaped" = 127 ] || status=$reaped
        break
    fi
    # wait also returns when a trapped signal arrives; go on waiting while
    # the master lives.
    kill -0 "$master" 2>/dev/null && continue

    orphans=$(group_nginx orphans | tr '\n' ' ')
    ran=$(($(now_ms) - master_started))
    if [ "$ran" -lt 1000 ]; then
        echo "run-nginx: nginx master exited with status $status after $ran ms; leaving the restart to supervisord" >&2
        break
    fi
    echo "run-nginx: nginx master exited with status $status; starting a new master, then the old workers ($orphans) finish their calls" >&2
    start_master
    # nginx writes its pid file once it listens. 5 s bounds the wait.
    deadline=$((master_started + 5000))
    while [ "$(cat "$pidfile" 2>/dev/null)" != "$master" ] && kill -0 "$master" 2>/dev/null \
        && [ "$(now_ms)" -lt "$deadline" ]; do
        sleep 0.05
    done
    if [ -n "$orphans" ]; then
        # shellcheck disable=SC2086
        kill -QUIT $orphans 2>/dev/null
        echo "run-nginx: new master $master listening after $(($(now_ms) - master_started)) ms; old workers told to finish (QUIT)" >&2
    fi
done

# Stopping, or leaving the restart to supervisord: end whatever is left of the
# group, so no orphan holds the port or supervisord's log pipes.
trap '' TERM
kill -TERM 0 2>/dev/null
echo "run-nginx: exiting with status $status" >&2
exit "$status"
