#!/bin/sh
# The one-shot consul-acl-bootstrap service: creates, or brings back in line,
# the deployment's ACL policies (/etc/consul/acl/<name>.hcl) and its tokens,
# whose IDs build/scripts/secrets.sh chose (/run/secrets/tokens). Compose runs
# it after the servers have a leader and before any replica or load balancer
# starts, and again on every `up`, so it is idempotent: it reads, then creates
# or updates. It exits 0 only when every token answers with its own secret.
#
# It talks HTTPS to port 8501 and checks the server's certificate against the
# project's CA, so the management token never crosses the network in clear.
set -eu
export CONSUL_HTTP_TOKEN_FILE=/run/secrets/consul-management-token
export CONSUL_CACERT=/run/secrets/consul-agent-ca.pem
tokens=/run/secrets/tokens
policies=/etc/consul/acl
log() { echo "acl-bootstrap: $*"; }

# A server that accepts the management token: the leader installs it once
# elected (config acl.tokens.initial_management), a moment after the
# servers' healthchecks see that leader.
timeout_secs=90
deadline=$(($(date +%s) + timeout_secs))
while :; do
    for server in consul-server-1 consul-server-2 consul-server-3; do
        if CONSUL_HTTP_ADDR="https://$server:8501" /usr/local/bin/consul acl token read -self >/dev/null 2>&1; then
            export CONSUL_HTTP_ADDR="https://$server:8501"
            break 2
        fi
    done
    if [ "$(date +%s)" -ge "$deadline" ]; then
        log "no Consul server accepted the management token within $timeout_secs s; last answer from consul-server-1:"
        CONSUL_HTTP_ADDR="https://consul-server-1:8501" /usr/local/bin/consul acl token read -self 2>&1 | sed 's/^/acl-bootstrap:   /'
        exit 1
    fi
    sleep 0.5
done
log "using $CONSUL_HTTP_ADDR"

ensure_policy() { # name; its rules are $policies/<name>.hcl
    if /usr/local/bin/consul acl policy read -name "$1" >/dev/null 2>&1; then
        /usr/local/bin/consul acl policy update -name "$1" -rules "@$policies/$1.hcl" >/dev/null
    else
        /usr/local/bin/consul acl policy create -name "$1" -description "grpc-lb: $1" -rules "@$policies/$1.hcl" >/dev/null
        log "created policy $1"
    fi
}

ensure_token() { # name, then the token's -policy-name/-service-identity/-node-identity flags
    name=$1
    shift
    accessor=$(cat "$tokens/$name.accessor")
    secret_file="$tokens/$name.secret"
    if /usr/local/bin/consul acl token read -id "$accessor" >/dev/null 2>&1; then
        # update replaces the token's policies and identities with these
        # (no -merge-* flags), so a token always ends up with exactly them.
        /usr/local/bin/consul acl token update -id "$accessor" -description "grpc-lb: $name" "$@" >/dev/null
    else
        /usr/local/bin/consul acl token create -accessor "$accessor" -secret "$(cat "$secret_file")" \
            -description "grpc-lb: $name" "$@" >/dev/null
        log "created token $name (accessor $accessor)"
    fi
    # Every token may read itself: this proves Consul holds the secret the
    # containers were given.
    if ! /usr/local/bin/consul acl token read -self -token-file "$secret_file" >/dev/null 2>&1; then
        log "token $name (accessor $accessor) does not answer to .secrets/tokens/$name.secret: the cluster's data and the secrets do not belong together; make purge starts a new cluster with new secrets"
        exit 1
    fi
}

for policy in hello-server-agent load-balancer-agent hello-server-registrar load-balancer-registrar consul-template ui-read; do
    ensure_policy "$policy"
done
for n in 1 2 3; do
    ensure_token "consul-server-$n-agent" -node-identity "consul-server-$n:dc1"
done
ensure_token hello-server-agent -policy-name hello-server-agent
ensure_token load-balancer-agent -policy-name load-balancer-agent
ensure_token hello-server-registrar -service-identity hello_server -policy-name hello-server-registrar
ensure_token load-balancer-registrar -service-identity load-balancer -policy-name load-balancer-registrar
ensure_token consul-template -policy-name consul-template
ensure_token ui -policy-name ui-read
log "policies and tokens are in place"
