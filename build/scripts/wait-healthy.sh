#!/usr/bin/env bash
# Waits until every container of the compose project is running and healthy,
# for at most $1 seconds (default 180). Prints the state while waiting and
# the unhealthy containers' logs on timeout.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/../.."
deadline=$((SECONDS + ${1:-180}))
compose="$(build/scripts/compose.sh)"

while :; do
  ids="$($compose ps -q)"
  if [[ -z "$ids" ]]; then
    echo "wait-healthy: no containers in the project"
    exit 1
  fi
  # name state health, one line per container
  states="$(docker inspect --format '{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' $ids)"
  waiting="$(awk '$2 != "running" || ($3 != "healthy" && $3 != "none")' <<<"$states")"
  if [[ -z "$waiting" ]]; then
    echo "wait-healthy: all $(wc -l <<<"$states") containers are healthy"
    exit 0
  fi
  if ((SECONDS >= deadline)); then
    echo "wait-healthy: timed out; not healthy:"
    echo "$waiting"
    for name in $(awk '{print substr($1,2)}' <<<"$waiting"); do
      echo "--- logs of $name"
      docker logs --tail 50 "$name" 2>&1 || true
    done
    exit 1
  fi
  sleep 2
done
