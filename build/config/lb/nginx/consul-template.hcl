# consul-template's template for nginx (LB_ENGINE=nginx, the default),
# loaded after the shared build/config/consul-template/consul-template.hcl;
# the image holds this folder as /etc/lb/nginx/. The render goes to nginx's
# writable folder, /tmp/nginx/, where the image puts this folder's
# load-balancer.conf until the first render.
template {
  source          = "/etc/lb/nginx/load-balancer.tpl"
  destination     = "/tmp/nginx/load-balancer.conf"
  perms           = 0644
  # Validates the render, then reloads nginx gracefully; it always exits 0
  # because a failing command would make consul-template exit.
  command         = "/etc/lb/nginx/reload-nginx.sh"
  command_timeout = "30s"
}
