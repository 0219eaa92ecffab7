# consul-template's template for HAProxy (LB_ENGINE=haproxy), loaded after
# the shared build/config/consul-template/consul-template.hcl; the image holds
# it as /etc/consul-template/haproxy.hcl. Which instances are routed is
# decided exactly as for nginx (see load-balancer.tpl in this folder, which
# the image holds as /etc/consul-template/load-balancer-haproxy.tpl).
template {
  source          = "/etc/consul-template/load-balancer-haproxy.tpl"
  destination     = "/etc/haproxy/conf.d/load-balancer.cfg"
  perms           = 0644
  # haproxy-reload (build/haproxyreload): validates the render (haproxy -c),
  # then moves HAProxy's server slots to it through the Runtime API, or
  # reloads HAProxy if that fails. It always exits 0 because a failing
  # command would make consul-template exit, and its steps' time limits add
  # up to less than command_timeout (its TestStepsFitCommandTimeout).
  command         = "/usr/local/bin/haproxy-reload"
  command_timeout = "30s"
}
