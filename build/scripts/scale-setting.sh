#!/usr/bin/env bash
# Checks the settings of a scaling command before it changes anything:
#   scale-setting.sh WHO SERVICE N MIN
# SERVICE must be a Consul service that the declaration of routes
# (build/config/services.conf) declares: the first word of a line that is
# not a comment; N a whole number from MIN (0 or 1) up. A bad one exits 2
# with one line, "WHO: SETTING="value" is invalid: accepted is ...". make
# scale (MIN 0) and swarm.sh scale (MIN 1: a Swarm service keeps one task)
# run it; their values arrive as arguments, never pasted into a command.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/../.."
who=$1 service=$2 n=$3 min=$4

declared=$(sed -e 's/#.*//' build/config/services.conf | awk 'NF { printf "%s%s", sep, $1; sep = ", " }')
if [[ ! "$service" =~ ^[a-z][a-z0-9_]{0,62}$ || ", $declared, " != *", $service, "* ]]; then
  echo "$who: SERVICE=\"$service\" is invalid: accepted is a Consul service that build/config/services.conf declares: $declared"
  exit 2
fi
case "$min" in
  0) whole='^(0|[1-9][0-9]*)$' ;;
  1) whole='^[1-9][0-9]*$' ;;
  *) echo "scale-setting: MIN=\"$min\" is invalid: accepted is 0 or 1"; exit 2 ;;
esac
if [[ ! "$n" =~ $whole ]]; then
  echo "$who: N=\"$n\" is invalid: accepted is a whole number from $min up (N=5: five replicas)"
  exit 2
fi
