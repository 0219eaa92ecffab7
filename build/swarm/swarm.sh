#!/usr/bin/env bash
# The deployment on Docker Swarm (README, More than one host):
#   swarm.sh up        deploy the stack (docker-compose.yaml + build/swarm/stack.yaml)
#   swarm.sh scale N [SERVICE]  run N replicas of SERVICE (hello_server), a
#                      Consul service of build/config/services.conf
#   swarm.sh down      remove the stack, its volumes, and a swarm that `up` made
#   swarm.sh ui        forward the Consul UI to this node's 127.0.0.1:8500
# make swarm-up / swarm-scale / swarm-down / swarm-ui run it.
#
# Settings (environment):
#   SWARM_STACK         the stack's name (grpclb-swarm)
#   SWARM_SUBNET        the overlay's IPv4 subnet, Consul binds there (10.231.0.0/20)
#   SWARM_DOCKER_HOSTS  the other nodes' Docker hosts (docker -H values, such as
#                       ssh://node2), where `up` loads the images: no registry needed
#   SWARM_ADVERTISE_ADDR  the address `up` gives `docker swarm init` when this
#                       engine is in no swarm (127.0.0.1: a swarm of this node alone)
#   REPLICAS            hello_server replicas at `up` (2; echo_server: 1)
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/../.."

stack=${SWARM_STACK:-grpclb-swarm}
# The swarm this script made, by node ID: `down` leaves only that one.
made_marker=.swarm-made-by-grpclb
images=(grpc-lb/base grpc-lb/hello-server grpc-lb/echo-server grpc-lb/load-balancer)
tag=${TAG:-latest}
say() { echo "swarm: $*"; }
fail() { echo "swarm: $*" >&2; exit "${2:-1}"; }

positive_int() { [[ "$2" =~ ^[1-9][0-9]{0,3}$ ]] || fail "$1=\"$2\" is invalid: accepted is a whole number from 1 to 9999" 2; }

[[ "$stack" =~ ^[a-z0-9][a-z0-9_-]{0,40}$ ]] || fail "SWARM_STACK=\"$stack\" is invalid: accepted is lower-case letters, digits, - and _ (up to 41), starting with a letter or digit" 2

swarm_state() { docker info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}'; }

# A manager of an active swarm, initialising a single-node one if this
# engine is in none.
ensure_manager() {
  read -r state manager < <(swarm_state)
  case "$state" in
    inactive)
      local addr=${SWARM_ADVERTISE_ADDR:-127.0.0.1}
      say "this engine is in no swarm: docker swarm init --advertise-addr $addr (a swarm of this node alone; make swarm-down leaves it)"
      docker swarm init --advertise-addr "$addr" >/dev/null
      docker info --format '{{.Swarm.NodeID}}' >"$made_marker"
      ;;
    active)
      [[ "$manager" == true ]] || fail "this engine is a swarm worker: run make swarm-up on a manager (docker node ls there lists them)"
      ;;
    *) fail "this engine's swarm state is \"$state\": make swarm-up needs an active swarm, or none (docker swarm leave --force, then try again)" ;;
  esac
}

# The compose deployment holds port 5000 and the Consul UI's port.
refuse_compose_running() {
  local running
  running="$(docker ps -q --filter label=com.docker.compose.project=grpclb)"
  [[ -z "$running" ]] || fail "the compose deployment is running on this engine (it holds port 5000): make down first"
}

# Server i runs on the node labelled grpclb.consul-server-i=true. Labels a
# user set are kept; missing ones go to the ready nodes in turn, managers
# first, so three nodes get one server each and one node gets all three.
label_consul_nodes() {
  mapfile -t nodes < <(docker node ls --format '{{.ID}} {{.Status}} {{if .ManagerStatus}}0{{else}}1{{end}} {{.Hostname}}' |
    awk '$2 == "Ready" { print $3, $4, $1 }' | sort | awk '{ print $3 }')
  ((${#nodes[@]})) || fail "no node of this swarm is Ready (docker node ls)"
  for i in 1 2 3; do
    local label=grpclb.consul-server-$i
    if [[ -n "$(docker node ls -q --filter "node.label=$label=true")" ]]; then continue; fi
    local node=${nodes[$(((i - 1) % ${#nodes[@]}))]}
    docker node update --label-add "$label=true" "$node" >/dev/null
    say "consul-server-$i goes to node $(docker node inspect --format '{{.Description.Hostname}}' "$node") (label $label=true)"
  done
}

# The images exist here (make images) and are loaded onto every other node.
load_images() {
  local refs=() ref
  for ref in "${images[@]}"; do
    docker image inspect "$ref:$tag" >/dev/null 2>&1 || fail "image $ref:$tag is missing: make images builds it"
    refs+=("$ref:$tag")
  done
  local host
  for host in ${SWARM_DOCKER_HOSTS:-}; do
    say "loading ${refs[*]} into $host"
    docker save "${refs[@]}" | docker -H "$host" load -q >/dev/null
  done
}

# Every service's tasks are running (Swarm counts a task with a
# healthcheck only once healthy) and the ACL job has completed.
wait_converged() {
  local deadline=$((SECONDS + $1)) pending
  while :; do
    pending="$(docker service ls --filter "label=com.docker.stack.namespace=$stack" --format '{{.Name}} {{.Replicas}}' |
      while read -r name count; do
        if [[ "$name" == "${stack}_consul-acl-bootstrap" ]]; then
          # A one-shot job: done once a task of it has completed (exit 0).
          docker service ps --format '{{.CurrentState}}' "$name" | grep -q '^Complete' || echo "$name: not completed"
        elif [[ "${count%%/*}" != "${count#*/}" ]]; then
          echo "$name: $count running"
        fi
      done)"
    if [[ -n "$(docker service ls -q --filter "label=com.docker.stack.namespace=$stack")" && -z "$pending" ]]; then
      return 0
    fi
    if ((SECONDS >= deadline)); then
      echo "swarm: not converged after $1 s:" >&2
      echo "$pending" >&2
      docker stack ps --no-trunc "$stack" >&2 || true
      return 1
    fi
    sleep 1
  done
}

# This node's load balancer (a global service: one per node) routes to
# exactly $1 replicas: its /upstream lists the servers its running config has.
# wait_routed SERVICE N SECONDS: until this node's load balancer routes to
# N replicas of Consul service SERVICE (its /upstream/SERVICE lists them).
wait_routed() {
  local service=$1 want=$2 deadline=$((SECONDS + $3)) lb upstream=""
  while :; do
    lb="$(docker ps -q --filter "label=com.docker.swarm.service.name=${stack}_load-balancer" | head -n 1)"
    if [[ -n "$lb" ]]; then
      upstream="$(docker exec "$lb" wget -q -T 2 -O - "http://127.0.0.1:8080/upstream/$service" 2>/dev/null || true)"
      if (($(wc -w <<<"$upstream") == want)); then
        say "this node's load balancer routes to $want $service replicas: $upstream"
        return 0
      fi
    fi
    if ((SECONDS >= deadline)); then
      fail "this node's load balancer does not route to $want $service replicas after $3 s (it routes: ${upstream:-nothing})"
    fi
    sleep 1
  done
}

replicas() { docker service inspect --format '{{.Spec.Mode.Replicated.Replicas}}' "${stack}_$1"; }

up() {
  positive_int REPLICAS "${REPLICAS:=2}"
  export REPLICAS
  refuse_compose_running
  ensure_manager
  label_consul_nodes
  load_images
  say "docker stack deploy $stack"
  docker stack deploy --resolve-image never --prune \
    -c docker-compose.yaml -c build/swarm/stack.yaml "$stack"
  wait_converged 240
  local service
  for service in $(build/config/consul/declared-services.sh build/config/services.conf); do
    wait_routed "$service" "$(replicas "$service")" 60
  done
  say "up: go run ./grpc_client -port=5000 calls through this node's load balancer"
}

scale() {
  local n=$1 service=${2:-hello_server}
  build/scripts/scale-setting.sh swarm "$service" "$n" 1
  docker service scale --detach "${stack}_$service=$n" >/dev/null
  wait_converged 180
  wait_routed "$service" "$n" 60
}

down() {
  local label="label=com.docker.stack.namespace=$stack"
  # make swarm-ui's forward is attached to the stack's network.
  docker rm -f "${stack}-ui" >/dev/null 2>&1 || true
  if docker stack ls --format '{{.Name}}' 2>/dev/null | grep -qx "$stack"; then
    say "docker stack rm $stack"
    # It removes the services at once, but not a network that tasks still
    # draining (up to their 30 s grace period) are attached to; those are
    # removed below once the tasks have stopped.
    docker stack rm "$stack" >/dev/null 2>&1 || say "docker stack rm left what tasks still stopping use; removing it once they stop"
  fi
  local deadline=$((SECONDS + 120))
  while [[ -n "$(docker ps -aq --filter "$label")" ]]; do
    ((SECONDS < deadline)) || fail "the stack's containers are still there after 120 s: docker ps -a --filter $label"
    sleep 1
  done
  if [[ "$(docker info --format '{{.Swarm.LocalNodeState}}')" == active ]]; then
    local left
    left="$(docker secret ls -q --filter "$label")"
    [[ -z "$left" ]] || docker secret rm $left >/dev/null
    left="$(docker network ls -q --filter "$label")"
    [[ -z "$left" ]] || docker network rm $left >/dev/null
  fi
  while [[ -n "$(docker network ls -q --filter "$label")" ]]; do
    ((SECONDS < deadline)) || fail "the stack's network is still there after 120 s: docker network ls --filter $label"
    sleep 1
  done
  local host volumes
  for host in "" ${SWARM_DOCKER_HOSTS:-}; do
    volumes="$(docker ${host:+-H "$host"} volume ls -q --filter "label=com.docker.stack.namespace=$stack")"
    [[ -z "$volumes" ]] || docker ${host:+-H "$host"} volume rm $volumes >/dev/null
  done
  if [[ -s "$made_marker" && "$(cat "$made_marker")" == "$(docker info --format '{{.Swarm.NodeID}}')" ]]; then
    say "leaving the single-node swarm that make swarm-up made"
    docker swarm leave --force >/dev/null
  fi
  rm -f "$made_marker"
  say "down: the stack $stack and its volumes are gone"
}

ui() {
  local port=${CONSUL_UI_PORT:-8500}
  docker rm -f "${stack}-ui" >/dev/null 2>&1 || true
  docker run -d --name "${stack}-ui" --network "${stack}_default" -p "127.0.0.1:$port:8500" \
    --entrypoint socat "grpc-lb/load-balancer:$tag" TCP-LISTEN:8500,fork,reuseaddr TCP:consul-server-1:8500 >/dev/null
  say "the Consul UI is on http://127.0.0.1:$port on this node (make ui-token prints a token); make swarm-down stops the forward"
}

case "${1:-}" in
  up) up ;;
  scale) scale "${2:-}" "${3:-}" ;;
  down) down ;;
  ui) ui ;;
  *) fail "usage: swarm.sh up | scale N [SERVICE] | down | ui" 2 ;;
esac
