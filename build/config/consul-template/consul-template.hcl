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

# Each blocking query lasts at most 5 s (consul-template's default is 60 s).
# The local agent sends it to one server as an RPC (not from a streaming
# subscription: agent.hcl, use_streaming_backend) and waits for that long
# plus Consul's rpc_hold_timeout (7 s) before it tries another. A server whose
# host vanished from the network (a cut cable, not a stopped container)
# never answers or closes, so with 60 s the load balancer went on routing to
# the lost host's replicas for as long as yamux's 30 s keepalive: measured on
# the three-node swarm (make swarm-e2e). With 5 s the query moves to a live
# server within about 12 s.
block_query_wait = "5s"

log_level   = "info"
kill_signal = "SIGINT"

# Quiescence: render once the set of replicas has been still for 500 ms, and
# at most 1 s after the first change. Each nginx reload fails some calls of
# clients that do not retry a GOAWAY'd stream (README, Zero downtime), so one
# scale event should be one reload: the replicas of `--scale` pass their
# checks up to about half a second apart under load, which split them over
# two or three reloads with 250 ms (make bench, ghz-scale: 3 to 6 reloads
# for 3 scale events with 250 ms, 3 to 4 with 500 ms). max keeps a new
# replica routed within about a second of passing its check, however busy
# Consul's catalog is.
wait {
  min = "500ms"
  max = "1s"
}

# The template and its reload command are the engine's: its folder's
# consul-template.hcl (build/config/lb/<engine>/), which the image holds as
# /etc/lb/<engine>/consul-template.hcl and loads after this file by
# LB_ENGINE (consul-template.conf). This file is the image's
# /etc/consul-template/consul-template.hcl.
