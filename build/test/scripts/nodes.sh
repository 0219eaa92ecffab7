#!/usr/bin/env bash
# A swarm of NODES Docker daemons on this one machine, each in a network
# namespace of its own, for the end-to-end test of the stack across nodes:
#   nodes.sh create          make the nodes and a swarm of them, load IMAGES into each
#   nodes.sh destroy         stop the nodes, remove all that create made (also
#                            after a partial create; again, it does nothing)
#   nodes.sh cut I           take node I off the network (a pulled cable) ...
#   nodes.sh reconnect I     ... and put it back
#   nodes.sh stop-daemon I   stop node I's dockerd with SIGTERM, as systemctl stop docker
#   nodes.sh start-daemon I  start it again, with the same settings
# create prints, and writes to $STATE_DIR/nodes, a line a node:
#   node<I> unix://$STATE_DIR/node<I>/docker.sock <its IP>
# Settings (environment):
#   NODES      how many nodes create makes (3; 1 to 5)
#   IMAGES     images of this machine's engine to load into every node (space-
#              separated): docker save here, docker load there, as no registry is
#   STATE_DIR  the nodes' sockets, exec roots, logs, the file nodes (/run/grpclb-nodes)
#   DATA_DIR   the nodes' data roots, on disk (/var/lib/grpclb-nodes)
#
# The network: a bridge in a namespace of its own (grpclb-switch), node I's
# eth0 on it at <subnet>.(10+I), this machine at <subnet>.1 (grpclb-host),
# every node's default route. Not a bridge in this machine's namespace: there
# bridge-nf-call-iptables is 1 and the FORWARD policy DROP (Docker's), so
# frames between two nodes would be dropped unless we changed the firewall
# that this machine's engine manages; the switch's namespace has none.
set -o errexit -o nounset -o pipefail

NODES=${NODES:-3}
IMAGES=${IMAGES:-}
STATE_DIR=${STATE_DIR:-/run/grpclb-nodes}
DATA_DIR=${DATA_DIR:-/var/lib/grpclb-nodes}
MAX_NODES=5 # destroy looks for this many, whatever NODES create had
SWITCH=grpclb-switch
HOST_IF=grpclb-host
STOP_DEADLINE=60 # s: dockerd first stops its containers (10 s each, in parallel)

say() { echo "nodes: $*" >&2; } # progress on stderr; stdout has the node lines only
fail() { echo "nodes: $1" >&2; exit "${2:-1}"; }

# Both end up in unix socket paths (108 bytes at most), the longest being
# containerd's $STATE_DIR/nodeI/containerd/containerd.sock.ttrpc and
# libnetwork's $STATE_DIR/nodeI/libnetwork/<12 hex>.sock: short plain paths.
for var in STATE_DIR DATA_DIR; do
  value=${!var}
  [[ "$value" =~ ^(/[A-Za-z0-9._-]+)+$ && ${#value} -le 48 ]] ||
    fail "$var=\"$value\" is invalid: accepted is an absolute path of letters, digits and . _ - / (not /), up to 48 characters" 2
done
[[ "$STATE_DIR" != "$DATA_DIR" ]] || fail "STATE_DIR and DATA_DIR are both \"$STATE_DIR\": accepted are two different directories" 2
((EUID == 0)) || fail "nodes.sh makes network namespaces and daemons: run it as root"

netns() { echo "grpclb-node$1"; }
host() { echo "unix://$STATE_DIR/node$1/docker.sock"; }
dk() { local i=$1; shift; docker -H "$(host "$i")" "$@"; }
# Polls "$@" every half second; fails naming $1 after $2 seconds.
wait_for() {
  local what=$1 limit=$2 deadline=$((SECONDS + $2))
  shift 2
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "timed out after $limit s waiting for $what"
    sleep 0.5
  done
}

# None of the pids "$@" is a live process (a zombie counts as gone).
all_gone() {
  local pid stat
  for pid; do
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
    [[ "${stat##*) }" == Z* ]] || return 1
  done
}

# Node I's dockerd, if it runs: the pidfile's process, if that is still the
# dockerd of node I's config (a pid can be reused).
daemon_pid() {
  local pid
  pid=$(cat "$STATE_DIR/node$1/docker.pid" 2>/dev/null) && [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "--config-file $STATE_DIR/node$1/daemon.json" || return 1
  echo "$pid"
}

node_mounts() { # below the nodes' directories
  local root
  for root in "$STATE_DIR" "$DATA_DIR"; do
    awk -v r="$root/node" 'index($5, r) == 1 && substr($5, length(r) + 1) ~ /^[1-9](\/|$)/ { print $5 }' /proc/self/mountinfo
  done
}
node_cgroups() { compgen -G "/sys/fs/cgroup/grpclb-node${1:-[1-9]}" || true; compgen -G "/sys/fs/cgroup/*/grpclb-node${1:-[1-9]}" || true; }

# The first 10.251.N.0/24 that overlaps no IPv4 route of this machine, in
# any table (two prefixes overlap when they agree on the shorter one's bits).
free_subnet() {
  ip -4 -o route show table all | awk '
    function int32(a, p) { split(a, p, "."); return ((p[1] * 256 + p[2]) * 256 + p[3]) * 256 + p[4] }
    { d = ($1 ~ /^(local|broadcast|unicast|multicast|unreachable|blackhole|prohibit|throw|nat|anycast)$/) ? $2 : $1
      if (d != "default") { n++; split(d, q, "/"); net[n] = int32(q[1]); len[n] = (q[2] == "") ? 32 : q[2] } }
    END { for (c = 0; c < 256; c++) {
        for (i = 1; i <= n; i++) { m = 2 ^ (32 - (len[i] < 24 ? len[i] : 24)); if (int(net[i] / m) == int(int32("10.251." c ".0") / m)) break }
        if (i > n) { print "10.251." c; exit 0 } }
      exit 1 }'
}

# Node I's daemon.json: this machine's storage, MTU and log settings (so
# images and logs behave as on its engine); a root, sockets and cgroup parent
# of its own (destroy finds the node's containers by that cgroup).
# --iptables=false: host-mode and -p ports need only docker-proxy, so they
# answer at the node's IP. The default bridge stays (docker0 in the node's
# namespace, no clash): with --bridge none a task or container without a
# network of its own has only lo, and its published ports are dropped silently.
write_config() {
  local dir=$STATE_DIR/node$1
  { cat /etc/docker/daemon.json 2>/dev/null || echo '{}'; } | jq --arg root "$DATA_DIR/node$1" --arg exec "$dir" --arg cg "/grpclb-node$1" \
    'with_entries(select(.key | IN("storage-driver", "storage-opts", "mtu", "log-driver", "log-opts")))
     + {"data-root": $root, "exec-root": $exec, pidfile: ($exec + "/docker.pid"), hosts: ["unix://" + $exec + "/docker.sock"],
        iptables: false, ip6tables: false, "cgroup-parent": $cg}' >"$dir/daemon.json"
}

# dockerd in node I's network namespace (nsenter: ip netns exec would
# remount /sys) and in a UTS namespace of its own, so that docker node ls
# names it node<I>. With an exec root of its own, dockerd starts its own
# containerd. setsid and the redirections detach it from the caller.
# DOCKER_SERVICE_PREFER_OFFLINE_IMAGE: a task starts from the loaded image
# without trying a pull first (no registry here: that try took 20 s a task).
start_daemon() {
  local i=$1 dir=$STATE_DIR/node$1 pid deadline=$((SECONDS + 120))
  if daemon_pid "$i" >/dev/null; then say "node$i's dockerd runs already"; return 0; fi
  [[ ! -S /run/containerd/containerd.sock ]] || fail "a system containerd runs (/run/containerd/containerd.sock): every node's dockerd would use it instead of its own; stop it first"
  # shellcheck disable=SC2016 # $0 and $1 are the inner sh's
  DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1 setsid nsenter --net="/run/netns/$(netns "$i")" unshare --uts sh -c 'hostname "$0" && exec dockerd --config-file "$1"' \
    "node$i" "$dir/daemon.json" >>"$dir/dockerd.log" 2>&1 </dev/null &
  pid=$!
  until dk "$i" version >/dev/null 2>&1; do
    ! all_gone "$pid" || fail "node$i's dockerd exited; its log $dir/dockerd.log ends: $(tail -n 1 "$dir/dockerd.log")"
    ((SECONDS < deadline)) || fail "node$i's dockerd does not answer on $(host "$i") after 120 s (log: $dir/dockerd.log)"
    sleep 0.5
  done
}

stop_daemon() {
  local pid
  pid=$(daemon_pid "$1") || { say "node$1's dockerd is not running"; return 0; }
  kill -TERM "$pid"
  wait_for "node$1's dockerd (pid $pid) to exit after SIGTERM" "$STOP_DEADLINE" all_gone "$pid"
}
all_ready() { [[ "$(dk 1 node ls --format '{{.Status}}' | grep -cx Ready)" == "$NODES" ]]; }

create() {
  [[ "$NODES" =~ ^[1-5]$ ]] || fail "NODES=\"$NODES\" is invalid: accepted is a whole number from 1 to $MAX_NODES" 2
  local refs=() ref i ns net token started=$SECONDS
  read -ra refs <<<"$IMAGES"
  for ref in "${refs[@]}"; do
    docker image inspect "$ref" >/dev/null 2>&1 || fail "IMAGES: \"$ref\" is not an image of this machine's engine (docker images lists them); nothing is pulled" 2
  done
  if [[ -e "$STATE_DIR/nodes" ]] || ip netns list | grep -q '^grpclb-'; then
    fail "nodes exist already ($STATE_DIR/nodes, ip netns list): nodes.sh destroy first"
  fi
  net=$(free_subnet) || fail "every 10.251.N.0/24 overlaps a route of this machine (ip route show table all)"
  # From here on, a failure leaves a partial create: say how to undo it, and
  # exit 1, not ip's 2 (which would read as bad input).
  trap '(($? == 0)) || { say "create failed: nodes.sh destroy removes what it made"; exit 1; }' EXIT
  say "network $net.0/24: this machine $net.1 ($HOST_IF), node I at $net.(10+I)"
  ip netns add "$SWITCH"
  ip -n "$SWITCH" link add br0 type bridge
  ip -n "$SWITCH" link set br0 up
  ip link add "$HOST_IF" type veth peer name host netns "$SWITCH"
  ip -n "$SWITCH" link set host master br0 up
  ip addr add "$net.1/24" dev "$HOST_IF"
  ip link set "$HOST_IF" up
  for ((i = 1; i <= NODES; i++)); do
    ns=$(netns "$i")
    ip netns add "$ns"
    # The node's cable: node<I> on the switch (cut takes it down), eth0 in the node.
    ip -n "$SWITCH" link add "node$i" type veth peer name eth0 netns "$ns"
    ip -n "$SWITCH" link set "node$i" master br0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" addr add "$net.$((10 + i))/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" route add default via "$net.1"
    mkdir -p "$STATE_DIR/node$i" "$DATA_DIR/node$i"
    write_config "$i"
    start_daemon "$i"
  done
  say "$NODES dockerds answer after $((SECONDS - started)) s"

  # node1 is the only manager, the others are workers: the test stops and
  # cuts nodes 2 and 3, also both at once, and node1 must go on managing.
  # Three managers would keep quorum (2 of 3) with one of them gone, not two.
  dk 1 swarm init --advertise-addr "$net.11" --listen-addr "$net.11:2377" >/dev/null
  token=$(dk 1 swarm join-token -q worker)
  for ((i = 2; i <= NODES; i++)); do
    dk "$i" swarm join --advertise-addr "$net.$((10 + i))" --listen-addr "$net.$((10 + i)):2377" --token "$token" "$net.11:2377" >/dev/null
  done
  wait_for "all $NODES nodes to be Ready in node1's docker node ls" 120 all_ready
  say "swarm of $NODES nodes Ready after $((SECONDS - started)) s"

  if ((${#refs[@]})); then
    # Saved once, loaded into all nodes at once (12 s for 3 nodes, not 18).
    local t=$SECONDS tar=$DATA_DIR/images.tar pids=()
    docker save -o "$tar" "${refs[@]}"
    say "docker save ${refs[*]}: $(($(stat -c %s "$tar") >> 20)) MiB in $((SECONDS - t)) s"
    for ((i = 1; i <= NODES; i++)); do
      dk "$i" load -q -i "$tar" >"$STATE_DIR/node$i/load.log" 2>&1 &
      pids+=($!)
    done
    for ((i = 1; i <= NODES; i++)); do
      wait "${pids[i - 1]}" || fail "docker load into node$i failed: $(tail -n 1 "$STATE_DIR/node$i/load.log")"
    done
    rm -f "$tar"
    say "images loaded into the $NODES nodes in $((SECONDS - t)) s"
  fi
  trap - EXIT
  for ((i = 1; i <= NODES; i++)); do echo "node$i $(host "$i") $net.$((10 + i))"; done >"$STATE_DIR/nodes"
  cat "$STATE_DIR/nodes"
  say "created in $((SECONDS - started)) s"
}

destroy() {
  local i pid pids=() left cg m ns task deadline=$((SECONDS + STOP_DEADLINE))
  # SIGTERM to every dockerd at once (each stops its containers and its
  # containerd), SIGKILL to those still there at the deadline.
  for ((i = 1; i <= MAX_NODES; i++)); do
    if pid=$(daemon_pid "$i"); then kill -TERM "$pid" && pids+=("$pid"); fi
  done
  for pid in "${pids[@]}"; do
    until all_gone "$pid" || ((SECONDS >= deadline)); do sleep 0.5; done
    all_gone "$pid" || { say "dockerd $pid still runs after $STOP_DEADLINE s: SIGKILL" && kill -KILL "$pid"; }
  done
  # What a killed dockerd leaves: its shims, docker-proxy and fuse-overlayfs
  # (all in the node's namespace) and its containers (in the node's cgroups:
  # they have namespaces of their own).
  for ((i = 1; i <= MAX_NODES; i++)); do
    mapfile -t pids < <({ [[ ! -e "/run/netns/$(netns "$i")" ]] || ip netns pids "$(netns "$i")"
      for cg in $(node_cgroups "$i"); do find "$cg" -name cgroup.procs -exec cat {} +; done; } | sort -un)
    if ((${#pids[@]})); then
      say "node$i: SIGKILL to what is left of it: ${pids[*]}"
      kill -KILL "${pids[@]}" 2>/dev/null || true
      wait_for "node$i's processes to exit after SIGKILL" 30 all_gone "${pids[@]}"
    fi
  done
  # Deepest first: fuse-overlayfs layers, namespaces, the data roots' binds.
  node_mounts | sort -r | while read -r m; do umount "$m" 2>/dev/null || umount -l "$m"; done
  for cg in $(node_cgroups); do find "$cg" -depth -type d -exec rmdir {} + || true; done
  # A killed shim leaves its socket in /run/containerd/s (shared with this
  # machine's containerd), named by the hash of its address, namespace and id.
  for task in "$STATE_DIR"/node*/containerd/daemon/io.containerd.runtime.v2.task/*/*; do
    [[ -d "$task" ]] || continue
    m=${task%%/containerd/daemon/*}/containerd/containerd.sock/${task#*/io.containerd.runtime.v2.task/}
    rm -f "/run/containerd/s/$(printf %s "$m" | sha256sum | cut -d' ' -f1)"
  done
  # The switch's namespace takes this machine's end of the veth with it, but
  # only once the kernel reaps it: delete that end now.
  ip link del "$HOST_IF" 2>/dev/null || true
  for ns in $(ip netns list | awk '$1 ~ /^grpclb-(node[1-9]|switch)$/ { print $1 }'); do ip netns del "$ns"; done
  for ((i = 1; i <= MAX_NODES; i++)); do rm -rf --one-file-system "${STATE_DIR:?}/node$i" "${DATA_DIR:?}/node$i"; done
  rm -f "$STATE_DIR/nodes" "$DATA_DIR/images.tar"
  rmdir "$STATE_DIR" "$DATA_DIR" 2>/dev/null || true
  left=$(node_mounts; node_cgroups; ip -o link show "$HOST_IF" 2>/dev/null; ip netns list | grep '^grpclb-') || true
  [[ -z "$left" ]] || fail "destroy left: ${left//$'\n'/ }"
  say "destroyed: no node daemons, namespaces, links, mounts, cgroups or directories left"
}

# $1 is an existing node's number.
node_arg() {
  local n
  n=$(wc -l 2>/dev/null <"$STATE_DIR/nodes") || fail "no nodes ($STATE_DIR/nodes is missing): nodes.sh create makes them"
  [[ "$1" =~ ^[1-9]$ ]] && (($1 <= n)) && return 0
  fail "node \"$1\" is invalid: accepted is a node's number, 1 to $n" 2
}

case "${1:-}" in
  create) create ;;
  destroy) destroy ;;
  cut) node_arg "${2:-}" && ip -n "$SWITCH" link set "node$2" down ;;
  reconnect) node_arg "${2:-}" && ip -n "$SWITCH" link set "node$2" up ;;
  stop-daemon) node_arg "${2:-}" && stop_daemon "$2" ;;
  start-daemon) node_arg "${2:-}" && start_daemon "$2" ;;
  *) fail "usage: nodes.sh create | destroy | cut I | reconnect I | stop-daemon I | start-daemon I (got \"${1:-}\")" 2 ;;
esac
