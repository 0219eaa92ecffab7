// Command lb-reflection answers gRPC server reflection at the load
// balancer's front door for every routed service, so that
// `grpcurl -plaintext 127.0.0.1:5000 list` lists them all and `describe`
// works for each, although each service's descriptors live on its own
// replicas. Both engines route grpc.reflection.v1.ServerReflection and
// grpc.reflection.v1alpha.ServerReflection to it on loopback (the engines'
// load-balancer.tpl), whatever the declaration says: the load balancer
// answers reflection, no declared service does.
//
//   - ListServices is answered from the declaration of routes
//     (/etc/grpc-lb/services.conf): every gRPC service it routes, and the
//     two reflection services. A service is listed while it is declared,
//     with or without a passing replica, as the engines route it. The file
//     is read again for every request, as the engines' templates read it
//     on every render; one that no longer parses is logged and the last
//     good one kept.
//   - Every other request (a file by name, the file of a symbol, an
//     extension) goes to one replica of a routed Consul service, on a
//     stream of its own, and the first answer that is not an error is
//     passed on. For a symbol within a declared gRPC service
//     (protos.Echo, protos.Echo.Unary) the Consul service that serves it
//     is asked first, so its own replicas describe it; then the others, in
//     the declaration's order, since a message type names no service.
//   - The replicas are those the engine routes to: its /upstream/<Consul
//     service> list on 127.0.0.1:8080, which the template filled only with
//     addresses that passed its checks. Nothing else is dialled.
//   - A replica that serves only the older v1alpha reflection is asked in
//     v1alpha; both versions share one wire format.
//
// It listens on loopback only; every line it logs starts with
// "lb-reflection: ".
package main
