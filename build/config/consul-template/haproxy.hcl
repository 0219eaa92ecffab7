# consul-template's template for HAProxy (LB_ENGINE=haproxy), loaded after
# consul-template.hcl. Which instances are routed is decided exactly as for
# nginx (see load-balancer-haproxy.tpl).
template {
  source          = "/etc/consul-template/load-balancer-haproxy.tpl"
  destination     = "/etc/haproxy/conf.d/load-balancer.cfg"
  perms           = 0644
  # Validates the render (haproxy -c), then reloads HAProxy seamlessly and
  # returns once the new worker runs; it always exits 0 because a failing
  # command would make consul-template exit.
  command         = "/etc/consul-template/reload-haproxy.sh"
  command_timeout = "30s"
}
