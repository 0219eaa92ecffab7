# consul-template's template for HAProxy (LB_ENGINE=haproxy), loaded after
# the shared build/config/consul-template/consul-template.hcl; the image holds
# this folder as /etc/lb/haproxy/. Which instances are routed is decided
# exactly as for nginx (see load-balancer.tpl in this folder). The render
# goes to HAProxy's writable folder, /tmp/haproxy/, where the image puts this
# folder's load-balancer.cfg until the first render.
template {
  source          = "/etc/lb/haproxy/load-balancer.tpl"
  destination     = "/tmp/haproxy/load-balancer.cfg"
  perms           = 0644
  # haproxy-reload (build/haproxyreload): validates the render (haproxy -c),
  # then moves HAProxy's server slots to it through the Runtime API, or
  # reloads HAProxy if that fails. It always exits 0 because a failing
  # command would make consul-template exit, and its steps' time limits add
  # up to less than command_timeout (its TestStepsFitCommandTimeout).
  command         = "/usr/local/bin/haproxy-reload"
  command_timeout = "30s"
}
