# The client agent in every hello_server and load-balancer container.
# run-agent.sh adds the files compose mounts under /run/secrets: the gossip
# key and this role's agent token (build/scripts/secrets.sh).
server         = false
retry_join     = ["consul-server-1", "consul-server-2", "consul-server-3"]
retry_interval = "1s"
data_dir       = "/var/lib/consul"
datacenter     = "dc1"
# consul-template's health queries go to a server as blocking RPCs, each
# with a deadline (its 5 s wait plus rpc_hold_timeout, 7 s), after which the
# agent tries another server. The streaming backend (Consul's default)
# instead holds one subscription on one server and keeps it until the
# connection dies: when that server's host vanished from the network (a cut
# cable), the subscription stayed until yamux's 30 s keepalive failed, and
# the load balancer routed to the lost host's replicas 37 s after the cut
# (make swarm-e2e, node 3 cut while node 1's load balancer agent was
# subscribed to node 3's server).
use_streaming_backend = false

# Only the container's own programs (registrar, consul-template) use the API.
client_addr = "127.0.0.1"
ports {
  dns = -1
}

# The agent enforces ACLs on its own API too: without this block anyone in
# the container could use it with no token.
acl {
  enabled                  = true
  default_policy           = "deny"
  down_policy              = "extend-cache"
  enable_token_persistence = false
}

# RPC to the servers is TLS: the agent checks the server's certificate
# against the project's CA and gets its own certificate from the servers
# (auto_encrypt, signed for its agent token).
tls {
  defaults {
    ca_file         = "/run/secrets/consul-agent-ca.pem"
    verify_outgoing = true
  }
  internal_rpc {
    verify_server_hostname = true
  }
}
auto_encrypt {
  tls = true
}

# On stop the agent leaves the cluster, which deregisters this container's
# services at once instead of after the failure detector's 5-25 s.
leave_on_terminate      = true
skip_leave_on_interrupt = false
log_level               = "INFO"
disable_update_check    = true
