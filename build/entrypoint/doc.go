// Command supervisord-entrypoint is the entrypoint of the hello_server and
// load-balancer images, under Docker's init: it runs supervisord, and on
// SIGTERM or SIGINT stops supervisord's programs one at a time, from the
// highest priority in their program files to the lowest (supervisor's
// meaning: lower starts first and stops last).
//
// supervisord v0.7.3 stops every program at once on SIGTERM. A replica must
// drain in order instead: the registrar deregisters it from Consul and
// exits, only then does grpc_server report NOT_SERVING, keep serving while
// the load balancer drops it, and finish the calls in flight; the Consul
// agent leaves last. Each program is stopped with `supervisord ctl stop`
// (its stopsignal and stopwaitsecs apply as usual) and the next is stopped
// only once it is gone.
//
// Before supervisord starts it checks its one setting and the program
// files, and exits 2 with a line naming the setting or file, the value and
// what is accepted, starting nothing:
//
//   - LB_ENGINE, in an image with engines (the load balancer's: the folders
//     of /etc/lb/ that hold a supervisord.conf): one of those folders;
//     supervisord.conf includes the engine's program from it.
//   - priority, stopwaitsecs, killasgroup and stopasgroup, in every program
//     file: no value supervisord would read as its default without a word.
//   - priority, in each program the container runs (the shared ones and the
//     picked engine's): set, and to a whole number no other of them has, so
//     the order is written down and has no ties.
//
// It exits with supervisord's exit status. Every line it logs starts with
// "entrypoint: "; the end-to-end suite reads them.
package main
