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
# Declaration lines and instances load-balancer.tpl left out, already
# sanitised by the template; one log line each.
sed -n 's/^# skipped /reload-nginx: skipped /p' "$live" >&2
# Each upstream's "# upstream <service>: N replica(s): A B" comment, as
# "N <service> replica(s): A B", joined by "; ", so the log shows which
# replicas a reload routes to.
replicas=$(sed -n 's/^# upstream \([^:]*\): \([0-9]*\) replica(s): \(.*\)$/\2 \1 replica(s): \3/p' "$live" | awk 'NR > 1 { printf "; " } { printf "%s", $0 }')

if [ -s "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
    # A reload starts new workers with the new upstreams; old workers finish
    # the calls in flight. A restart would cut them.
    if nginx -e stderr -s reload -c /etc/lb/nginx/nginx.conf; then
        echo "reload-nginx: reloaded nginx with $replicas"
    else
        echo "reload-nginx: nginx -s reload failed; nginx keeps its current config" >&2
    fi
else
    echo "reload-nginx: nginx is not running yet; it will start with $replicas"
fi
exit 0
