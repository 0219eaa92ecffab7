#!/usr/bin/env bash
# Waits until every container of the compose project is running and healthy,
# for at most $1 seconds (default 180). Prints the state while waiting and
# the unhealthy containers' logs on timeout.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/../.."
deadline=$((SECONDS + ${1:-180}))
compose="$(build/scripts/compose.sh)"

# consul-acl-bootstrap is a one-shot job: done once it has exited 0.
oneshot=consul-acl-bootstrap

while :; do
  # -a: Compose v2 lists only running containers without it (v1 lists all),
  # and the one-shot job has exited.
  ids="$($compose ps -a -q)"
  if [[ -z "$ids" ]]; then
    echo "wait-healthy: no containers in the project"
    exit 1
  fi
  # name service state exit-code health, one line per container
  states="$(docker inspect --format '{{.Name}} {{index .Config.Labels "com.docker.compose.service"}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}' $ids)"
  failed="$(awk -v o="$oneshot" '$2 == o && $3 == "exited" && $4 != 0' <<<"$states")"
  if [[ -n "$failed" ]]; then
    echo "wait-healthy: $oneshot failed: $failed"
    docker logs --tail 50 "$(awk '{print substr($1,2); exit}' <<<"$failed")" 2>&1 || true
    exit 1
  fi
  waiting="$(awk -v o="$oneshot" '$2 == o { if ($3 != "exited") print; next } $3 != "running" || ($5 != "healthy" && $5 != "none")' <<<"$states")"
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
