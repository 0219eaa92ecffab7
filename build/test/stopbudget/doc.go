// Package stopbudget is the one place where the deployment's stop budgets
// add up: every container must stop by itself, within the stop_grace_period
// docker-compose.yaml gives it, before docker's SIGKILL.
//
// The hello_server and load-balancer containers stop their supervisord
// programs one at a time (supervisord-entrypoint, build/entrypoint), from
// the highest priority to the lowest. Each program takes at most its
// stopwaitsecs (supervisord SIGKILLs it then; the nginx and haproxy
// programs' whole process group, with killasgroup) plus
// supervisorconf.GuardSlack (after which the entrypoint kills it itself,
// should supervisord not). So the program files are the one table of the
// stop, each program's row its priority and its stopwaitsecs; Load reads
// them with build/supervisorconf, as supervisord and the entrypoint read
// them, and takes which programs each image runs from the COPY lines of
// its Dockerfiles. Check orders them with supervisorconf.StopOrder, as the
// entrypoint does, so a priority missing or shared fails it too. The
// Consul servers run `consul agent` under build/config/consul/run-server.sh,
// which SIGKILLs it stop_secs after the signal. Where a program's
// stopwaitsecs is derived from something else, Check checks the derivation:
//
//   - registrar: registration.StopBudget (AgentTimeout for the
//     deregistration, which every call to the agent is bounded by, + 500 ms).
//   - grpc-server: its command's -drain + -shutdown-timeout + 1 s.
//   - nginx: run-nginx.sh's stop_drain_secs (QUIT: calls in flight finish)
//     plus stop_fast_secs (TERM, then KILL) plus 1 s. nginx's own
//     worker_shutdown_timeout (5m) bounds only old workers after a reload.
//   - haproxy: USR1 (the soft stop: calls in flight finish) and killasgroup;
//     its stopwaitsecs is the bound, as HAProxy's hard-stop-after (5m) is
//     far longer.
//   - consul-agent: twice its measured leave (ConsulAgentLeave).
//
// The load balancer runs one engine of its image's, nginx or haproxy
// (build/config/lb/<engine>/supervisord.conf, picked by LB_ENGINE), so it has
// one plan per engine.
//
// Load reads all of it from the repository; Check adds it up with Margin
// and fails when a total exceeds its grace period or a derivation does not
// hold. The budgets today (TestDocMatchesRepository keeps this table equal
// to Report's):
//
//	consul-acl-bootstrap: stop_grace_period 5s
//	  acl-bootstrap.sh         1s  a shell under Docker's init: TERM ends it
//	  margin                   2s  signal delivery, ctl calls, exits
//	  total                    3s  of 5s
//	consul-server-1: stop_grace_period 10s
//	  consul agent (server)    5s  run-server.sh stop_secs: SIGKILL after it
//	  margin                   2s  signal delivery, ctl calls, exits
//	  total                    7s  of 10s
//	consul-server-2: stop_grace_period 10s
//	  consul agent (server)    5s  run-server.sh stop_secs: SIGKILL after it
//	  margin                   2s  signal delivery, ctl calls, exits
//	  total                    7s  of 10s
//	consul-server-3: stop_grace_period 10s
//	  consul agent (server)    5s  run-server.sh stop_secs: SIGKILL after it
//	  margin                   2s  signal delivery, ctl calls, exits
//	  total                    7s  of 10s
//	echo_server: stop_grace_period 30s
//	  registrar                4s  stopwaitsecs 3s + entrypoint guard 1s
//	  echo-server             16s  stopwaitsecs 15s + entrypoint guard 1s
//	  consul-agent             7s  stopwaitsecs 6s + entrypoint guard 1s
//	  margin                   2s  signal delivery, ctl calls, exits
//	  total                   29s  of 30s
//	hello_server: stop_grace_period 30s
//	  registrar                4s  stopwaitsecs 3s + entrypoint guard 1s
//	  grpc-server             16s  stopwaitsecs 15s + entrypoint guard 1s
//	  consul-agent             7s  stopwaitsecs 6s + entrypoint guard 1s
//	  margin                   2s  signal delivery, ctl calls, exits
//	  total                   29s  of 30s
//	load-balancer (LB_ENGINE=haproxy): stop_grace_period 35s
//	  registrar                4s  stopwaitsecs 3s + entrypoint guard 1s
//	  consul-template          4s  stopwaitsecs 3s + entrypoint guard 1s
//	  haproxy                 12s  stopwaitsecs 11s + entrypoint guard 1s
//	  lb-reflection            2s  stopwaitsecs 1s + entrypoint guard 1s
//	  consul-agent             7s  stopwaitsecs 6s + entrypoint guard 1s
//	  margin                   2s  signal delivery, ctl calls, exits
//	  total                   31s  of 35s
//	load-balancer (LB_ENGINE=nginx): stop_grace_period 35s
//	  registrar                4s  stopwaitsecs 3s + entrypoint guard 1s
//	  consul-template          4s  stopwaitsecs 3s + entrypoint guard 1s
//	  nginx                   12s  stopwaitsecs 11s + entrypoint guard 1s
//	  lb-reflection            2s  stopwaitsecs 1s + entrypoint guard 1s
//	  consul-agent             7s  stopwaitsecs 6s + entrypoint guard 1s
//	  margin                   2s  signal delivery, ctl calls, exits
//	  total                   31s  of 35s
package stopbudget
