// Command supervisord-entrypoint is the entrypoint of the hello_server and
// load-balancer images, under Docker's init: it runs supervisord, and on
// SIGTERM or SIGINT stops supervisord's programs one at a time, in the order
// of SUPERVISORD_STOP_ORDER (set in each image).
//
// supervisord v0.7.3 stops every program at once on SIGTERM. A replica must
// drain in order instead: the registrar deregisters it from Consul and
// exits, only then does grpc_server report NOT_SERVING, keep serving while
// the load balancer drops it, and finish the calls in flight; the Consul
// agent leaves last. Each program is stopped with `supervisord ctl stop`
// (its stopsignal and stopwaitsecs apply as usual) and the next is stopped
// only once it is gone.
//
// Before supervisord starts it checks the settings, and exits 2 with a line
// naming the setting, its value and what is accepted, starting nothing:
//
//   - LB_ENGINE, in an image with engines (the load balancer's: the folders
//     of /etc/lb/ that hold a supervisord.conf): one of those folders;
//     supervisord.conf includes the engine's program from it.
//   - SUPERVISORD_STOP_ORDER: each program the container runs exactly once;
//     the programs of the engines not picked may be named too, and are left
//     out of the stop.
//
// It exits with supervisord's exit status. Every line it logs starts with
// "entrypoint: "; the end-to-end suite reads them.
package main
