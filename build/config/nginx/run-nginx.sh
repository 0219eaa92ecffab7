#!/bin/sh
# supervisord starts nginx through this script. If the nginx master dies
# (kill -9, a crash), its workers would live on as orphans: they keep the
# listening socket and supervisord's log pipes, so supervisord never sees the
# exit and never starts a new master, and the orphans keep serving a config
# that can no longer be reloaded. This script ends them instead, and exits,
# so supervisord restarts nginx within a second.
#
# supervisord starts every program in its own process group; the nginx
# master and its workers are in this script's group.
set -u
nginx -c /etc/nginx/nginx.conf -e stderr &
master=$!

# supervisord's stop signal (QUIT) is passed on: the master stops gracefully,
# its workers finish the calls in flight.
trap 'kill -QUIT "$master" 2>/dev/null' QUIT TERM INT

status=0
while :; do
    wait "$master"
    status=$?
    # wait also returns when a trapped signal arrives; loop until the master is gone.
    kill -0 "$master" 2>/dev/null || break
done

# The master is gone. Cut any orphaned worker: a fast stop, so the port is
# free for the next master at once.
trap '' TERM
kill -TERM 0 2>/dev/null
echo "run-nginx: nginx master exited with status $status" >&2
exit "$status"
