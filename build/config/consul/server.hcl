# One of the three Consul servers. They find each other by their compose
# service names and elect a leader once all three are there.
server           = true
bootstrap_expect = 3
retry_join       = ["consul-server-1", "consul-server-2", "consul-server-3"]
retry_interval   = "1s"
data_dir         = "/var/lib/consul"
datacenter       = "dc1"
# The UI and HTTP API answer on 8500 for the published port.
client_addr = "0.0.0.0"
ui_config {
  enabled = true
}
# Production timing (the default multiplier of 5 is for small cloud VMs):
# a lost leader is replaced in about a second instead of several.
performance {
  raft_multiplier = 1
}
log_level            = "INFO"
disable_update_check = true
