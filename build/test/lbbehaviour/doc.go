// Package lbbehaviour holds the load-balancer behaviour tests: each engine
// (nginx, HAProxy) started on the host by testenv with its production
// config and template, against a real Consul and consul-template and
// in-process gRPC replicas. They check what the engines render and route,
// how they reload, that gRPC passes through unchanged (transparency's
// checks), and that the project's client loses no call under load and
// reloads. The package has no code of its own: its helpers are in testenv,
// its checks in transparency, the load generator in grpc_client/loadclient.
package lbbehaviour
