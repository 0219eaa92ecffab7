# The client agent in every hello_server and load-balancer container.
server         = false
retry_join     = ["consul-server-1", "consul-server-2", "consul-server-3"]
retry_interval = "1s"
data_dir       = "/var/lib/consul"
datacenter     = "dc1"
# Only the container's own programs (registrar, consul-template) use the API.
client_addr = "127.0.0.1"
# On stop the agent leaves the cluster, which deregisters this container's
# services at once instead of after the failure detector's 5-25 s.
leave_on_terminate      = true
skip_leave_on_interrupt = false
log_level               = "INFO"
disable_update_check    = true
