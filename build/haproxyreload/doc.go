// Command haproxy-reload is consul-template's command after each render of
// HAProxy's routes and servers (LB_ENGINE=haproxy,
// build/config/lb/haproxy/consul-template.hcl): one backend per declared
// Consul service, the frontend that routes gRPC services to them, and the
// lists /upstream serves. It moves the running HAProxy to the render
// through its Runtime API, without a reload, when only servers changed:
//
//   - `haproxy -c` checks the render; a rejected one is logged and replaced
//     with the last good copy, so HAProxy keeps its servers and a restart
//     would still load.
//   - A render whose layout (all but its servers and upstream lists)
//     differs from the last good copy's, a new declaration of routes,
//     reloads HAProxy: the Runtime API cannot add a backend or a route.
//   - Each backend has server slots (64, HAProxy's load-balancer.tpl). The
//     slots of replicas that left are disabled (calls in flight finish), free
//     slots are pointed at new replicas and enabled, and the list that
//     haproxy.cfg's /upstream/<backend> serves is set.
//
// A reload would replace the worker, whose old copy ends each client
// connection with a GOAWAY, losing calls a client sent meanwhile unless the
// client retries them. Only for a new layout, or when the Runtime API fails
// or the slots run out, does it reload HAProxy (seamless: USR2 to the
// master) and wait for the new worker.
//
// It exits 0 whatever the render or HAProxy do, since a failing command
// makes consul-template exit (code 14); only bad flags exit 2. Every line it
// logs starts with "reload-haproxy: "; build/test/testenv and the end-to-end
// suite read them.
package main
