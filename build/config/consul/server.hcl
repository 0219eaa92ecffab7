# One of the three Consul servers. They find each other by their service
# names (run-server.sh joins the other two) and elect a leader once all
# three are there.
#
# Secure by default (README, Security): ACLs deny what no token allows,
# gossip is encrypted, and RPC between agents is TLS that both sides verify.
# The secret values are not here: run-server.sh adds the files compose
# mounts under /run/secrets (the gossip key, and this server's management
# and agent tokens), made by build/scripts/secrets.sh.
server           = true
bootstrap_expect = 3
retry_interval   = "1s"
data_dir         = "/var/lib/consul"
datacenter       = "dc1"
# The UI and HTTP API answer on 8500 for the published port (the host's
# 127.0.0.1 unless CONSUL_UI_HOST says otherwise); every request needs a
# token. HTTPS on 8501 is for the ACL bootstrap job, whose management token
# must not cross the network in clear. DNS is not used by the deployment.
client_addr = "0.0.0.0"
ports {
  http  = 8500
  https = 8501
  dns   = -1
}
ui_config {
  enabled = true
}

acl {
  enabled        = true
  default_policy = "deny"
  # While no server answers, tokens already resolved keep their rights: the
  # registrars and consul-template carry on through a server outage.
  down_policy = "extend-cache"
  # Tokens come only from the files; a token set through the API and
  # persisted would silently override them on the next start.
  enable_token_persistence = false
}

tls {
  defaults {
    ca_file         = "/run/secrets/consul-agent-ca.pem"
    cert_file       = "/run/secrets/consul-server.pem"
    key_file        = "/run/secrets/consul-server-key.pem"
    verify_incoming = true
    verify_outgoing = true
  }
  internal_rpc {
    # An agent talks only to a server whose certificate says server.dc1.consul.
    verify_server_hostname = true
  }
  https {
    # The bootstrap job checks the server's certificate; it has none of its
    # own, and its management token is what authorises it.
    verify_incoming = false
  }
}
# Client agents get their RPC certificates from the servers, signed only for
# a token with write on the agent's node.
auto_encrypt {
  allow_tls = true
}

# Production timing (the default multiplier of 5 is for small cloud VMs):
# a lost leader is replaced in about a second instead of several.
performance {
  raft_multiplier = 1
}
log_level            = "INFO"
disable_update_check = true
