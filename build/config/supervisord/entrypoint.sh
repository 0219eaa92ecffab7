#!/bin/sh
# Entry point of the hello_server and load-balancer containers: runs
# supervisord, and on SIGTERM or SIGINT stops its programs one at a time, in
# the order of SUPERVISORD_STOP_ORDER (set in each image).
#
# supervisord v0.7.3 stops every program at once on SIGTERM. A replica must
# drain in order instead: the registrar deregisters it from Consul and exits,
# only then does grpc_server report NOT_SERVING, keep serving while nginx
# reloads without it, and finish the calls in flight; the Consul agent leaves
# last. Each program is stopped with `supervisord ctl stop` (its stopsignal
# and stopwaitsecs apply as usual) and the next starts only once it is gone.
set -u

conf=/etc/supervisord/supervisord.conf
# supervisord's own RPC socket ([unix_http_server] in supervisord.conf).
ctl() { /usr/local/bin/supervisord ctl -s unix:///tmp/supervisord.sock "$@"; }
log() { echo "entrypoint: $*"; }

# The load balancer's image holds more than one engine, each with its
# program in engines/<engine>/ (the supervisord.conf of the repository's
# build/config/lb/<engine>/); LB_ENGINE picks the one that runs (the image
# sets nginx) and supervisord.conf includes it. Nothing starts when it names
# no engine of the image.
engines_dir=/etc/supervisord/engines
program_files=$(echo /etc/supervisord/programs/*.conf)
other_engine_programs=
if [ -d "$engines_dir" ]; then
    engines=$(ls "$engines_dir" | tr '\n' ' ' | sed 's/ $//')
    engine=${LB_ENGINE:-}
    case "$engine" in
        "" | *[!a-z0-9_-]*) valid=no ;;
        *) case " $engines " in *" $engine "*) valid=yes ;; *) valid=no ;; esac ;;
    esac
    if [ "$valid" != yes ]; then
        echo "entrypoint: LB_ENGINE=\"$engine\" is invalid: accepted is one of this image's load-balancer engines: $engines" >&2
        exit 2
    fi
    program_files="$program_files $(echo "$engines_dir/$engine"/*.conf)"
    for other in $engines; do
        [ "$other" = "$engine" ] && continue
        other_engine_programs="$other_engine_programs $(sed -n 's/^\[program:\([^]]*\)\].*/\1/p' "$engines_dir/$other"/*.conf | tr '\n' ' ')"
    done
    log "LB_ENGINE=$engine"
fi

# SUPERVISORD_STOP_ORDER must name every configured program exactly once: a
# program left out would be stopped at the same time as the others, a typo
# would never be stopped in order. It may also name the programs of the
# engines LB_ENGINE did not pick (one order serves every engine); those are
# left out of the stop. Nothing starts when it is wrong.
# shellcheck disable=SC2086
programs=$(sed -n 's/^\[program:\([^]]*\)\].*/\1/p' $program_files | sort | tr '\n' ' ' | sed 's/ $//')
stop_order=
for program in ${SUPERVISORD_STOP_ORDER:-}; do
    case " $other_engine_programs " in
        *" $program "*) ;;
        *) stop_order="$stop_order $program" ;;
    esac
done
stop_order=${stop_order# }
listed=$(printf '%s\n' $stop_order | sort | tr '\n' ' ' | sed 's/ $//')
if [ "$listed" != "$programs" ]; then
    echo "entrypoint: SUPERVISORD_STOP_ORDER=\"${SUPERVISORD_STOP_ORDER:-}\" is invalid: accepted is each of this image's supervisord programs ($programs) exactly once, in the order they must stop" >&2
    exit 2
fi

# Seconds past a program's stopwaitsecs after which the entrypoint kills the
# program's process group itself and goes on. supervisord SIGKILLs the
# program at stopwaitsecs, so this acts only when supervisord does not; it
# keeps every program's stop within stopwaitsecs + guard_slack_secs, which is
# what build/stopbudget adds up against the grace period.
guard_slack_secs=1

# A program's stopwaitsecs from its programs/*.conf (supervisord's default,
# 10, when it sets none).
stopwaitsecs_of() {
    # shellcheck disable=SC2086
    secs=$(sed -n "/^\[program:$1\]/,/^\[/ s/^stopwaitsecs=\([0-9][0-9]*\).*/\1/p" $program_files | head -n 1)
    echo "${secs:-10}"
}

# A program's pid, or 0 once supervisord no longer runs it.
program_pid() { ctl pid "$1" 2>/dev/null | tr -dc '0-9'; }

# Milliseconds since boot, for deadlines and the log.
now_ms() { awk '{ printf "%d", $1 * 1000 }' /proc/uptime; }

# Stops one program and returns once it has exited. `ctl stop` itself waits
# for the exit but checks only once a second, so it runs in the background
# and the pid is watched instead: the next program is signalled within tens
# of milliseconds (a replica must report NOT_SERVING well before nginx, 250 ms
# after the deregistration at the earliest, reloads without it).
stop_program() {
    program=$1
    pid=$(program_pid "$program")
    if [ -z "$pid" ] || [ "$pid" = 0 ]; then
        log "$program is not running"
        return
    fi
    started=$(now_ms)
    log "stopping $program (pid $pid)"
    ctl stop "$program" >/dev/null 2>&1 &
    # supervisord sends SIGKILL after the program's stopwaitsecs; this
    # deadline only guards against supervisord itself not doing so.
    guard_secs=$(($(stopwaitsecs_of "$program") + guard_slack_secs))
    deadline=$((started + guard_secs * 1000))
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$(now_ms)" -gt "$deadline" ]; then
            # supervisord starts each program in its own process group.
            log "$program still running after $guard_secs s; killing its process group and going on"
            kill -s KILL -- "-$pid" 2>/dev/null || kill -s KILL "$pid" 2>/dev/null
            return
        fi
        sleep 0.02
    done
    log "$program stopped after $(($(now_ms) - started)) ms"
}

stop_in_order() {
    trap '' TERM INT
    log "received a stop signal; stopping in order: $stop_order"
    for program in $stop_order; do
        stop_program "$program"
    done
    # Nothing is left running. shutdown exits 0 (a SIGTERM would make
    # supervisord exit 255).
    ctl shutdown >/dev/null 2>&1 || kill -TERM "$supervisord_pid" 2>/dev/null
}

/usr/local/bin/supervisord -c "$conf" &
supervisord_pid=$!
trap stop_in_order TERM INT

# wait returns early when a trapped signal arrives; keep waiting until
# supervisord itself has exited, and exit with its status.
while :; do
    wait "$supervisord_pid"
    status=$?
    kill -0 "$supervisord_pid" 2>/dev/null || break
done
exit "$status"
