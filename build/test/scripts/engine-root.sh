#!/usr/bin/env bash
# Gives the integration tests the nginx and HAProxy that the local images
# ship, whatever Debian release the host runs: a Debian root of the images'
# release (debian.env) with both engines, made once with mmdebstrap in
# .cache/engines-<release>/, and two wrappers, bin/nginx and bin/haproxy,
# that run them on the host's own files.
#
# A wrapper enters a mount namespace of its own, where the root's /usr is
# mounted over the host's, then runs the engine: its libraries, its loader
# and, on a HAProxy reload, the binary the master re-executes all come from
# the root, while paths, sockets and ports are the host's. This needs root
# (a mount namespace); make test checks that first.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/../../.."

# shellcheck source=../../scripts/debian.env
source build/scripts/debian.env
root=".cache/engines-$DEBIAN_SUITE"
packages="nginx,haproxy"
stamp="$root/.made-with-$packages"

if [[ $(id -u) != 0 ]]; then
  echo "engine-root: the integration tests run nginx and HAProxy of Debian $DEBIAN_SUITE in a mount namespace, which needs root: run make test as root" >&2
  exit 1
fi

if [[ ! -e $stamp ]]; then
  build/scripts/host-packages.sh "the Debian $DEBIAN_SUITE root the integration tests run nginx and HAProxy from" mmdebstrap=mmdebstrap
  rm -rf "$root" "$root.tmp"
  mkdir -p "$(dirname "$root")"
  start=$SECONDS
  echo "engine-root: mmdebstrap $DEBIAN_SUITE with $packages from the host's apt sources (about two minutes, once)" >&2
  # No mirror argument: mmdebstrap uses the host's own apt sources.
  mmdebstrap --quiet --variant=apt --include="$packages" "$DEBIAN_SUITE" "$root.tmp" >&2
  mv "$root.tmp" "$root"
  touch "$stamp"
  echo "engine-root: made $root in $((SECONDS - start)) s" >&2
fi

mkdir -p bin
abs="$(pwd)/$root"
for engine in nginx haproxy; do
  wrapper="bin/$engine"
  cat >"$wrapper.tmp" <<WRAPPER
#!/bin/sh
# Made by build/test/scripts/engine-root.sh: $engine of Debian $DEBIAN_SUITE (the
# images' release) on this host's files, in a mount namespace of its own.
exec unshare --mount --propagation private /bin/sh -c '
  mount --bind "\$0/etc/ld.so.cache" /etc/ld.so.cache &&
  mount --bind "\$0/usr" /usr &&
  exec /usr/sbin/$engine "\$@"' "$abs" "\$@"
WRAPPER
  chmod 0755 "$wrapper.tmp"
  mv "$wrapper.tmp" "$wrapper"
done
