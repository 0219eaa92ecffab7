#!/usr/bin/env bash
# Gives the integration tests the engines that the local images ship,
# whatever Debian release the host runs: a Debian root of the images'
# release (debian.env) with every engine's Debian packages (the "debian:"
# lines of build/config/lb/<engine>/packages), made once with mmdebstrap in
# .cache/engines-<release>/, and a wrapper per engine, bin/<engine> (bin/nginx,
# bin/haproxy), that runs the root's /usr/sbin/<engine> on the host's own
# files.
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

# The engines: the folders of build/config/lb/ that hold a supervisord.conf.
engines=()
for program in build/config/lb/*/supervisord.conf; do
  folder=${program%/supervisord.conf}
  [[ -e $folder/packages ]] || { echo "engine-root: $folder/packages is missing: every engine names its packages there" >&2; exit 1; }
  engines+=("${folder##*/}")
done
# Their Debian packages, sorted, comma-separated (mmdebstrap's --include).
packages=$(for engine in "${engines[@]}"; do sed -n 's/^debian://p' "build/config/lb/$engine/packages"; done \
  | tr -s ' \t' '\n' | sed '/^$/d' | sort -u | paste -sd, -)
# The root records the packages it was made with in its stamp's name,
# .made-with-<package>,...; a root made with the same set, in any order, is
# reused.
made_with=$(for stamp in "$root"/.made-with-*; do
  if [[ -e $stamp ]]; then tr , '\n' <<<"${stamp##*/.made-with-}"; fi
done | sort -u | paste -sd, -)
stamp="$root/.made-with-$packages"

if [[ $(id -u) != 0 ]]; then
  echo "engine-root: the integration tests run the engines (${engines[*]}) of Debian $DEBIAN_SUITE in a mount namespace, which needs root: run make test as root" >&2
  exit 1
fi

if [[ $made_with != "$packages" ]]; then
  build/scripts/host-packages.sh "the Debian $DEBIAN_SUITE root the integration tests run the engines (${engines[*]}) from" mmdebstrap=mmdebstrap
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
for engine in "${engines[@]}"; do
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
