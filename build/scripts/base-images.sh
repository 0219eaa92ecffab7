#!/usr/bin/env bash
# Chooses the two base images every Dockerfile builds FROM and prints them as
# GO_IMAGE=... and RUNTIME_IMAGE=... lines.
#
#  1. GO_IMAGE / RUNTIME_IMAGE set by the caller: used as given (they must
#     exist locally or be pullable).
#  2. Otherwise the defaults (official golang and alpine images), when they are
#     present or can be pulled.
#  3. Otherwise (no registry answers) local bases are made once and reused:
#     a Debian root file system from the host's own apt sources (mmdebstrap)
#     imported with `docker import`, plus the host's Go toolchain for the
#     builder. Both trust the host's CA bundle, so module downloads work where
#     the network inspects TLS.
set -o errexit -o nounset -o pipefail

DEFAULT_GO_IMAGE="golang:1.26-alpine"
DEFAULT_RUNTIME_IMAGE="alpine:3.22"
# shellcheck source=debian.env
source "$(dirname "$0")/debian.env"
SUITE="$DEBIAN_SUITE"
LOCAL_DEBIAN="grpc-lb/debian:$SUITE-local"
LOCAL_RUNTIME="grpc-lb/runtime:$SUITE-local"
CACHE_DIR="${CACHE_DIR:-$(pwd)/.cache}"

log() { echo "base-images: $*" >&2; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

have_or_pull() {
  have_image "$1" && return 0
  log "pulling $1"
  docker pull --quiet "$1" >/dev/null 2>&1
}

if [[ -n "${GO_IMAGE:-}" || -n "${RUNTIME_IMAGE:-}" ]]; then
  : "${GO_IMAGE:?GO_IMAGE is empty but RUNTIME_IMAGE is set: set both, or neither}"
  : "${RUNTIME_IMAGE:?RUNTIME_IMAGE is empty but GO_IMAGE is set: set both, or neither}"
  for image in "$GO_IMAGE" "$RUNTIME_IMAGE"; do
    have_or_pull "$image" || { log "image $image is neither local nor pullable"; exit 1; }
  done
  echo "GO_IMAGE=$GO_IMAGE"
  echo "RUNTIME_IMAGE=$RUNTIME_IMAGE"
  exit 0
fi

if have_or_pull "$DEFAULT_GO_IMAGE" && have_or_pull "$DEFAULT_RUNTIME_IMAGE"; then
  echo "GO_IMAGE=$DEFAULT_GO_IMAGE"
  echo "RUNTIME_IMAGE=$DEFAULT_RUNTIME_IMAGE"
  exit 0
fi

log "no registry answered for $DEFAULT_GO_IMAGE / $DEFAULT_RUNTIME_IMAGE: using local Debian $SUITE bases"

# The builder carries the host's Go, so its tag names that version.
GO_VERSION="$(go env GOVERSION)"
LOCAL_BUILDER="grpc-lb/go-builder:${GO_VERSION#go}-$SUITE-local"
HOST_CA_BUNDLE="/etc/ssl/certs/ca-certificates.crt"

context_with_ca() {
  local dir="$1"
  mkdir -p "$dir"
  if [[ -r "$HOST_CA_BUNDLE" ]]; then
    cp "$HOST_CA_BUNDLE" "$dir/host-ca-certificates.crt"
  else
    : >"$dir/host-ca-certificates.crt"
  fi
}

if ! have_image "$LOCAL_DEBIAN"; then
  "$(dirname "$0")/host-packages.sh" "a local Debian base image (no container registry answered)" mmdebstrap=mmdebstrap
  mkdir -p "$CACHE_DIR"
  start=$SECONDS
  log "mmdebstrap $SUITE from the host's apt sources (about a minute)"
  # No mirror argument: mmdebstrap uses the host's own apt sources.
  mmdebstrap --quiet --variant=apt --include=ca-certificates "$SUITE" "$CACHE_DIR/rootfs.tar" >&2
  docker import "$CACHE_DIR/rootfs.tar" "$LOCAL_DEBIAN" >/dev/null
  rm -f "$CACHE_DIR/rootfs.tar"
  log "made $LOCAL_DEBIAN in $((SECONDS - start)) s"
fi

if ! have_image "$LOCAL_RUNTIME"; then
  ctx="$CACHE_DIR/runtime-context"
  rm -rf "$ctx"
  context_with_ca "$ctx"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $LOCAL_DEBIAN
COPY host-ca-certificates.crt /usr/local/share/ca-certificates/host-ca-certificates.crt
RUN update-ca-certificates >/dev/null && rm -rf /var/lib/apt/lists/*
DOCKERFILE
  docker build --quiet -t "$LOCAL_RUNTIME" "$ctx" >/dev/null
  rm -rf "$ctx"
  log "made $LOCAL_RUNTIME"
fi

if ! have_image "$LOCAL_BUILDER"; then
  ctx="$CACHE_DIR/builder-context"
  rm -rf "$ctx"
  context_with_ca "$ctx"
  goroot="$(go env GOROOT)"
  log "copying the host's Go toolchain ($GO_VERSION, $goroot) into $LOCAL_BUILDER"
  cp -a "$goroot" "$ctx/go"
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $LOCAL_RUNTIME
COPY go /usr/local/go
ENV PATH=/usr/local/go/bin:/root/go/bin:\$PATH GOTOOLCHAIN=local CGO_ENABLED=0
RUN go version
DOCKERFILE
  docker build --quiet -t "$LOCAL_BUILDER" "$ctx" >/dev/null
  rm -rf "$ctx"
  log "made $LOCAL_BUILDER"
fi

echo "GO_IMAGE=$LOCAL_BUILDER"
echo "RUNTIME_IMAGE=$LOCAL_RUNTIME"
