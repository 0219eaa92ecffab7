#!/usr/bin/env bash
# Makes sure the host has what a make target needs beyond the README's
# Requirements (Docker with Compose, GNU make, Go), installing it from Debian's
# packages when it can.
#
#   build/scripts/host-packages.sh WHY CHECK=PACKAGE [CHECK=PACKAGE ...]
#
# CHECK is a command name (found on PATH or in /usr/sbin) or an absolute file
# path; PACKAGE is the Debian package that provides it. WHY says what needs
# them, for the one line printed. Everything present: prints nothing. Missing,
# as root where apt-get exists: installs the packages and says so in one line.
# Otherwise: one line naming what is missing, why, and the command that
# installs it, then exit 1.
set -o errexit -o nounset -o pipefail

if (($# < 2)); then
  echo "host-packages: usage: host-packages.sh WHY CHECK=PACKAGE [CHECK=PACKAGE ...]" >&2
  exit 2
fi
why=$1
shift

present() {
  local check=$1
  if [[ $check == /* ]]; then
    [[ -e $check ]]
  else
    command -v "$check" >/dev/null 2>&1 || [[ -x /usr/sbin/$check ]]
  fi
}

missing=()
for pair in "$@"; do
  check=${pair%%=*}
  package=${pair#*=}
  if [[ -z $check || -z $package || $pair != *=* ]]; then
    echo "host-packages: argument \"$pair\" is invalid: accepted is CHECK=PACKAGE" >&2
    exit 2
  fi
  present "$check" || [[ " ${missing[*]} " == *" $package "* ]] || missing+=("$package")
done
((${#missing[@]})) || exit 0

install="apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
  echo "host-packages: ${missing[*]} missing, needed for $why: install with: sudo $install" >&2
  exit 1
fi

echo "host-packages: installing ${missing[*]} with apt-get (needed for $why)" >&2
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  echo "host-packages: apt-get could not install ${missing[*]}; its last lines:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi
