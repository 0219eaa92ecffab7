#!/bin/sh
# The one-shot consul-acl-bootstrap service: creates, or brings back in line,
# the deployment's ACL policies and its tokens, whose IDs
# build/scripts/secrets.sh chose (/run/secrets/tokens). Compose runs it after
# the servers have a leader and before any replica or load balancer starts,
# and again on every `up`, so it is idempotent: it reads, then creates or
# updates. It exits 0 only when every token answers with its own secret.
#
# What a replica may do follows the declaration of routes,
# /etc/grpc-lb/services.conf (build/config/services.conf): for each Consul
# service S it declares, with D its name with "-" for "_" (hello_server:
# hello-server), the policies D-agent and D-registrar, rendered from
# acl/service-agent.hcl and acl/service-registrar.hcl, and the tokens
# D-agent (the replicas' Consul agents) and D-registrar (the replicas'
# registrars: S's service identity, so S and nothing else); and one policy
# consul-template, rendered from acl/service-consul-template.hcl once per
# declared service, so the load balancer reads exactly the declared
# services, on declared services' replicas' nodes (D-*). The load
# balancer's, the servers' and the UI's policies are the other files of
# acl/, as they are.
# A declaration that declared-services.sh refuses stops the job, with its
# one line, before it changes anything.
#
# A service taken out of the declaration keeps its policies and tokens
# (this job never deletes): its replicas could still register it, but
# consul-template may no longer read it, so nothing routes to it. Delete
# them by hand if wanted (consul acl token delete, consul acl policy delete).
#
# It talks HTTPS to port 8501 and checks the server's certificate against the
# project's CA, so the management token never crosses the network in clear.
#
# The paths are the container's. The tests (build/test/consulacl) run this
# script on the host against a Consul of their own: ACL_BOOTSTRAP_ROOT is
# then a folder laid out as the container (etc/, run/secrets/,
# usr/local/bin/consul) and ACL_BOOTSTRAP_SERVERS their Consul's address.
set -eu
root=${ACL_BOOTSTRAP_ROOT:-}
servers=${ACL_BOOTSTRAP_SERVERS:-https://consul-server-1:8501 https://consul-server-2:8501 https://consul-server-3:8501}
consul=$root/usr/local/bin/consul
export CONSUL_HTTP_TOKEN_FILE="$root/run/secrets/consul-management-token"
export CONSUL_CACERT="$root/run/secrets/consul-agent-ca.pem"
tokens=$root/run/secrets/tokens
policies=$root/etc/consul/acl
declaration=$root/etc/grpc-lb/services.conf
log() { echo "acl-bootstrap: $*"; }

# The declared Consul services, one a line; or the one line that says why
# the declaration is refused.
if ! services=$("$root/etc/consul/declared-services.sh" "$declaration"); then
    log "$services (the image's build/config/services.conf); nothing was changed"
    exit 1
fi

# dash S: S with "-" for "_", the name of its replicas' policies, tokens and
# (with a final "-") Consul node prefix.
dash() { echo "$1" | sed 's/_/-/g'; }

# Every token this job makes, by the name of its files in tokens/.
names="consul-server-1-agent consul-server-2-agent consul-server-3-agent"
list=
for s in $services; do
    names="$names $(dash "$s")-agent $(dash "$s")-registrar"
    list="$list${list:+, }$s"
done
names="$names load-balancer-agent load-balancer-registrar consul-template ui"
# A newly declared service's token files are made by `make secrets` (make
# up); check them all before anything changes.
for name in $names; do
    for f in "$tokens/$name.accessor" "$tokens/$name.secret"; do
        if [ ! -s "$f" ]; then
            log ".secrets/tokens/${f##*/} is missing or empty: make secrets (make up runs it) makes the tokens of every declared service; nothing was changed"
            exit 1
        fi
    done
done

# A server that accepts the management token: the leader installs it once
# elected (config acl.tokens.initial_management), a moment after the
# servers' healthchecks see that leader.
timeout_secs=90
deadline=$(($(date +%s) + timeout_secs))
while :; do
    for server in $servers; do
        if CONSUL_HTTP_ADDR="$server" "$consul" acl token read -self >/dev/null 2>&1; then
            export CONSUL_HTTP_ADDR="$server"
            break 2
        fi
    done
    if [ "$(date +%s)" -ge "$deadline" ]; then
        first=${servers%% *}
        log "no Consul server accepted the management token within $timeout_secs s; last answer from $first:"
        CONSUL_HTTP_ADDR="$first" "$consul" acl token read -self 2>&1 | sed 's/^/acl-bootstrap:   /'
        exit 1
    fi
    sleep 0.5
done
log "using $CONSUL_HTTP_ADDR; declared Consul services: $list"

ensure_policy() { # name; its rules on stdin
    if "$consul" acl policy read -name "$1" >/dev/null 2>&1; then
        "$consul" acl policy update -name "$1" -rules - >/dev/null
    else
        "$consul" acl policy create -name "$1" -description "grpc-lb: $1" -rules - >/dev/null
        log "created policy $1"
    fi
}

# render TEMPLATE S: acl/TEMPLATE for the declared service S, the
# placeholders @SERVICE@ and @NODE_PREFIX@ replaced by S and S's node prefix.
# (S is [a-z0-9_] only, declared-services.sh checked, so safe in sed.)
render() {
    sed -e "s/@SERVICE@/$2/g" -e "s/@NODE_PREFIX@/$(dash "$2")-/g" "$policies/$1"
}

ensure_token() { # name, then the token's -policy-name/-service-identity/-node-identity flags
    name=$1
    shift
    accessor=$(cat "$tokens/$name.accessor")
    secret_file="$tokens/$name.secret"
    if "$consul" acl token read -id "$accessor" >/dev/null 2>&1; then
        # update replaces the token's policies and identities with these
        # (no -merge-* flags), so a token always ends up with exactly them.
        "$consul" acl token update -id "$accessor" -description "grpc-lb: $name" "$@" >/dev/null
    else
        "$consul" acl token create -accessor "$accessor" -secret "$(cat "$secret_file")" \
            -description "grpc-lb: $name" "$@" >/dev/null
        log "created token $name (accessor $accessor)"
    fi
    # Every token may read itself: this proves Consul holds the secret the
    # containers were given.
    if ! "$consul" acl token read -self -token-file "$secret_file" >/dev/null 2>&1; then
        log "token $name (accessor $accessor) does not answer to .secrets/tokens/$name.secret: the cluster's data and the secrets do not belong together; make purge starts a new cluster with new secrets"
        exit 1
    fi
}

for s in $services; do
    render service-agent.hcl "$s" | ensure_policy "$(dash "$s")-agent"
    render service-registrar.hcl "$s" | ensure_policy "$(dash "$s")-registrar"
done
# One policy for consul-template: the renders joined by an empty line.
first=yes
for s in $services; do
    [ -n "$first" ] || echo
    first=
    render service-consul-template.hcl "$s"
done | ensure_policy consul-template
for policy in load-balancer-agent load-balancer-registrar ui-read; do
    ensure_policy "$policy" <"$policies/$policy.hcl"
done

for n in 1 2 3; do
    ensure_token "consul-server-$n-agent" -node-identity "consul-server-$n:dc1"
done
for s in $services; do
    ensure_token "$(dash "$s")-agent" -policy-name "$(dash "$s")-agent"
    ensure_token "$(dash "$s")-registrar" -service-identity "$s" -policy-name "$(dash "$s")-registrar"
done
ensure_token load-balancer-agent -policy-name load-balancer-agent
ensure_token load-balancer-registrar -service-identity load-balancer -policy-name load-balancer-registrar
ensure_token consul-template -policy-name consul-template
ensure_token ui -policy-name ui-read
log "policies and tokens are in place"
