#!/usr/bin/env bash
# Makes the deployment's secrets in .secrets/ on the first `make up` and
# reuses them after that: the gossip key, a CA with one certificate per Consul
# server, the ACL tokens, and the small Consul config fragments that carry
# them (Consul 1.13 reads neither `encrypt` nor ACL tokens from a file of
# their own). Nothing here goes into git (.gitignore), a build context
# (.dockerignore), an image, a build arg or an environment variable: compose
# hands each container only its own files, as read-only mounts under
# /run/secrets (docker-compose.yaml, `secrets:`).
#
# The replicas' tokens follow the declaration of routes,
# build/config/services.conf: for each Consul service S it declares, with D
# its name with "-" for "_" (hello_server: hello-server), the tokens D-agent
# (its replicas' Consul agents, also in consul/D-agent.hcl) and D-registrar
# (its replicas' registrars), which the ACL bootstrap job creates in Consul.
# A declaration that build/config/consul/declared-services.sh refuses stops
# this script, with its one line, before it writes anything.
#
# The key and the certificates are made by the project's own Consul build
# (the grpc-lb/base image), with no network; token IDs come from the kernel's
# random UUIDs. A half-made set is never left behind: everything is written to
# a temporary folder that is renamed at the end. When .secrets/ exists, a
# service declared since gets its files added there (each file renamed into
# place, made the same way; nothing else changes and no image is needed); a
# service no longer declared keeps its files. `make purge` deletes the folder
# together with the cluster's data.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/../.."

declaration=build/config/services.conf
dir=.secrets
TAG="${TAG:-latest}"
servers=(consul-server-1 consul-server-2 consul-server-3)
# The declared Consul services' names with "-" for "_": their replicas'
# tokens and agent config fragments.
services="$(build/config/consul/declared-services.sh "$declaration")" || {
  echo "secrets: $services; nothing was written"
  exit 1
}
declared=() replicas=()
for s in $services; do declared+=("$s") replicas+=("${s//_/-}"); done
# names A B C: "A, B, C".
names() { local IFS=, all; all="$*"; echo "${all//,/, }"; }
# Every token the deployment uses but the replicas', by the name of its file
# in tokens/.
tokens=(
  management
  consul-server-1-agent consul-server-2-agent consul-server-3-agent
  load-balancer-agent load-balancer-registrar
  consul-template ui
)

expected_files() {
  echo consul/gossip.hcl consul/load-balancer-agent.hcl
  echo tls/consul-agent-ca.pem tls/consul-agent-ca-key.pem
  for s in "${servers[@]}"; do echo "consul/$s.hcl tls/$s.pem tls/$s-key.pem"; done
  for t in "${tokens[@]}"; do
    echo "tokens/$t.secret"
    [[ $t == management ]] || echo "tokens/$t.accessor"
  done
}

# The files of one declared service's replicas (D, its name with "-" for
# "_"), the agent's fragment last.
replica_files() {
  echo "tokens/$1-agent.secret tokens/$1-agent.accessor tokens/$1-registrar.secret tokens/$1-registrar.accessor consul/$1-agent.hcl"
}

uuid() { cat /proc/sys/kernel/random/uuid; }
# A token's two files in folder $1: its secret and its accessor.
make_token() {
  uuid >"$1/tokens/$2.secret"
  # The management token's accessor is Consul's choice; every other token
  # is created by the bootstrap job with this accessor.
  [[ $2 == management ]] || uuid >"$1/tokens/$2.accessor"
}
# The config fragment that sets an agent's token (-config-file).
agent_fragment() {
  printf 'acl {\n  tokens {\n    agent = "%s"\n  }\n}\n' "$(cat "$1/tokens/$2-agent.secret")" >"$1/consul/$2-agent.hcl"
}
# Everything of one declared service's replicas (D) in folder $1.
make_replica() {
  make_token "$1" "$2-agent"
  make_token "$1" "$2-registrar"
  agent_fragment "$1" "$2"
}

if [[ -d $dir ]]; then
  incomplete() { echo "secrets: $dir/$1 is missing or empty; the set in $dir is incomplete: make purge deletes it with the cluster's data, and the next make up makes a new one"; exit 1; }
  for f in $(expected_files); do
    [[ -s $dir/$f ]] || incomplete "$f"
  done
  # A declared service has all of its files, or none: it was declared since
  # the set was made, and gets them now.
  added=() files=()
  for d in "${replicas[@]}"; do
    have=() lack=()
    for f in $(replica_files "$d"); do
      if [[ -s $dir/$f ]]; then have+=("$f"); else lack+=("$f"); fi
    done
    if ((${#lack[@]} == 0)); then continue; fi
    if ((${#have[@]} > 0)); then incomplete "${lack[0]}"; fi
    added+=("$d")
    files+=("${lack[@]}")
  done
  if ((${#added[@]} == 0)); then
    echo "secrets: reusing $dir/"
    exit 0
  fi
  umask 077
  tmp="$(mktemp -d "$PWD/.secrets.tmp.XXXXXX")"
  trap 'rm -rf "$tmp"' EXIT
  mkdir -p "$tmp/consul" "$tmp/tokens"
  for d in "${added[@]}"; do make_replica "$tmp" "$d"; done
  # Modes as in a new set (below); each rename is atomic, the fragment of
  # each service's agent comes last.
  find "$tmp" -type f -exec chmod 0444 {} +
  for d in "${added[@]}"; do
    for f in $(replica_files "$d"); do mv "$tmp/$f" "$dir/$f"; done
  done
  echo "secrets: reusing $dir/; added the files of the services declared since: $(names "${files[@]}")"
  exit 0
fi

docker image inspect "grpc-lb/base:$TAG" >/dev/null 2>&1 || { echo "secrets: image grpc-lb/base:$TAG is missing; make images builds it"; exit 1; }

umask 077
tmp="$(mktemp -d "$PWD/.secrets.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/consul" "$tmp/tls" "$tmp/tokens"

# The project's Consul, as the user running make, with no network.
consul() {
  docker run --rm --network none --user "$(id -u):$(id -g)" -v "$tmp/tls:/s" -w /s \
    --entrypoint /usr/local/bin/consul "grpc-lb/base:$TAG" "$@"
}

# Gossip: 32 random bytes, base64 (AES-256 for serf's messages).
printf 'encrypt = "%s"\n' "$(consul keygen)" >"$tmp/consul/gossip.hcl"

# A CA for the servers' RPC, and one certificate per server. Besides the
# names Consul checks (server.dc1.consul, verify_server_hostname), each
# carries its compose name, which the ACL bootstrap job uses over HTTPS.
consul tls ca create -days 3650 >/dev/null
for s in "${servers[@]}"; do
  consul tls cert create -server -dc dc1 -days 1825 -node "$s" -additional-dnsname "$s" >/dev/null
  mv "$tmp/tls/dc1-server-consul-0.pem" "$tmp/tls/$s.pem"
  mv "$tmp/tls/dc1-server-consul-0-key.pem" "$tmp/tls/$s-key.pem"
done

for t in "${tokens[@]}"; do make_token "$tmp" "$t"; done
for d in "${replicas[@]}"; do make_replica "$tmp" "$d"; done
secret() { cat "$tmp/tokens/$1.secret"; }

# Config fragments each agent loads with an extra -config-file.
for s in "${servers[@]}"; do
  printf 'acl {\n  tokens {\n    initial_management = "%s"\n    agent              = "%s"\n  }\n}\n' \
    "$(secret management)" "$(secret "$s-agent")" >"$tmp/consul/$s.hcl"
done
agent_fragment "$tmp" load-balancer

# Containers read the files as their own user ("app", whose uid depends on
# the image), through read-only mounts owned by the host user: the 0700 top
# folder keeps every other host user out, and inside it the files are 0444
# and the folders 0755 (the bootstrap job mounts tokens/ whole). The CA key
# is never mounted anywhere.
find "$tmp" -type f -exec chmod 0444 {} +
chmod 0400 "$tmp/tls/consul-agent-ca-key.pem"
chmod 0755 "$tmp/consul" "$tmp/tls" "$tmp/tokens"
chmod 0700 "$tmp"
mv "$tmp" "$dir"
trap - EXIT
echo "secrets: made a new set in $dir/ (gossip key, CA and server certificates, $((${#tokens[@]} + 2 * ${#replicas[@]})) tokens; declared services: $(names "${declared[@]}"))"
