#!/usr/bin/env bash
# The one place that decides which Docker Compose the project runs:
#   1. COMPOSE, when set: the user's choice, e.g. COMPOSE="docker-compose" make up
#      or COMPOSE="docker compose" make up (split on spaces, so a binary's path
#      works too: COMPOSE=bin/docker-compose);
#   2. else `docker compose` (v2, the Docker CLI plugin) where it runs;
#   3. else `docker-compose` (v1, or v2 installed standalone) where it runs.
# With no arguments it prints that command (the Go code and the other scripts
# read it); with arguments it shows and runs the command with them (make's
# targets: build/scripts/compose.sh up -d).
# Exit 2: COMPOSE names no working Compose; exit 1: no Compose found.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/../.."

# is_compose CMD...: true when `CMD... version` runs and says it is Compose, so
# that COMPOSE=docker (whose `docker version` succeeds) is not taken for one.
is_compose() {
  local out
  out="$("$@" version 2>&1)" || return 1
  [[ "$out" == *[Cc]ompose\ version* ]]
}

if [[ -n "${COMPOSE:-}" ]]; then
  read -r -a cmd <<<"$COMPOSE"
  if ! is_compose "${cmd[@]}"; then
    echo "compose: COMPOSE=\"$COMPOSE\" is not a Compose that runs here (\`$COMPOSE version\` did not report a Compose version); accepted: a Compose command that runs, e.g. COMPOSE=\"docker compose\" (v2; \`make compose-plugin\` installs the pinned one), COMPOSE=\"docker-compose\" (v1) or COMPOSE=bin/docker-compose (the pinned v2 that \`make tools\` builds)" >&2
    exit 2
  fi
elif is_compose docker compose; then
  cmd=(docker compose)
elif is_compose docker-compose; then
  cmd=(docker-compose)
else
  echo "compose: no Docker Compose runs here (neither \`docker compose\` nor \`docker-compose\`); install one: \`make compose-plugin\` (builds the pinned Compose v2 and installs it as \`docker compose\`) or \`apt-get install docker-compose\` (v1)" >&2
  exit 1
fi

if (($# == 0)); then
  echo "${cmd[*]}"
  exit 0
fi
echo "${cmd[*]} $*" >&2
exec "${cmd[@]}" "$@"
