# consul-template's template for nginx (LB_ENGINE=nginx, the default),
# loaded after the shared build/config/consul-template/consul-template.hcl;
# the image holds it as /etc/consul-template/nginx.hcl, next to this folder's
# load-balancer.tpl and reload-nginx.sh.
template {
  source          = "/etc/consul-template/load-balancer.tpl"
  destination     = "/etc/nginx/conf.d/load-balancer.conf"
  perms           = 0644
  # Validates the render, then reloads nginx gracefully; it always exits 0
  # because a failing command would make consul-template exit.
  command         = "/etc/consul-template/reload-nginx.sh"
  command_timeout = "30s"
}
