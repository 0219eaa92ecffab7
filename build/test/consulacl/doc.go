// Package consulacl tests the ACL policies in build/config/consul/acl/
// against a real Consul with default policy deny: it creates the tokens the
// way the bootstrap script does and checks that each program can do what it
// must and nothing more. It lives apart from the registrar because the
// policies serve every program (the agents, the registrars, consul-template,
// the UI), not the registrar alone.
package consulacl
