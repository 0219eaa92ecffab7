#!/bin/sh
# consul-template runs this after every render of load-balancer.conf.
# It must exit 0 even when the render is bad: a failing command makes
# consul-template exit (code 14). A render that `nginx -t` rejects is logged
# and replaced with the last config nginx accepted, so nginx keeps serving the
# old replicas and a restart of nginx would still load.
set -u
live=/tmp/nginx/load-balancer.conf
good=/tmp/nginx/load-balancer.conf.last-good
pidfile=/tmp/nginx/nginx.pid

if ! out=$(nginx -e stderr -t -q -c /etc/lb/nginx/nginx.conf 2>&1); then
    echo "reload-nginx: nginx -t rejected the rendered $live; keeping the last good config: $out" >&2
    cp "$good" "$live"
    exit 0
fi
cp "$live" "$good"
# Instances load-balancer.tpl left out (no IPv4 address with a port from 1 to
# 65535), already sanitised by the template; one log line each.
sed -n 's/^# skipped hello_server instance /reload-nginx: skipped hello_server instance /p' "$live" >&2
# Only routed servers carry max_fails=; the skipped ones are comments.
replicas=$(grep -c '^ *server .* max_fails=' "$live")
# The addresses too, so the log shows which replicas a reload routes to.
addresses=$(sed -n 's/^ *server \([^ ]*\) max_fails=.*/\1/p' "$live" | tr '\n' ' ' | sed 's/ $//')

if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    # A reload starts new workers with the new upstreams; old workers finish
    # the calls in flight. A restart would cut them.
    if nginx -e stderr -s reload -c /etc/lb/nginx/nginx.conf; then
        echo "reload-nginx: reloaded nginx with $replicas hello_server replica(s): $addresses"
    else
        echo "reload-nginx: nginx -s reload failed; nginx keeps its current config" >&2
    fi
else
    echo "reload-nginx: nginx is not running yet; it will start with $replicas hello_server replica(s): $addresses"
fi
exit 0
