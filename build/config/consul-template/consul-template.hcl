# consul-template in the load-balancer container.
consul {
  address = "127.0.0.1:8500"
  # Reads the passing hello_server instances and their nodes, nothing else
  # (build/config/consul/acl/consul-template.hcl); mounted by compose.
  token_file = "/run/secrets/consul-template-token"
  retry {
    enabled = true
    # Retry forever: while Consul is unreachable nginx keeps serving the last
    # rendered replicas, and consul-template must still be there when it returns.
    attempts    = 0
    backoff     = "250ms"
    max_backoff = "5s"
  }
}

log_level   = "info"
kill_signal = "SIGINT"

# Quiescence: render once the set of replicas has been still for 250 ms, and
# at most 1 s after the first change, so scaling 1 -> 5 costs a few reloads
# and a new replica is routed within about a second of passing its check.
wait {
  min = "250ms"
  max = "1s"
}

# The template and its reload command are the engine's: nginx.hcl or
# haproxy.hcl, loaded after this file by LB_ENGINE (consul-template.conf).
