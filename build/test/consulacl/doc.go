// Package consulacl tests the ACL set-up against a real Consul with default
// policy deny, through the deployment's own scripts: build/scripts/secrets.sh
// makes the tokens for a declaration of routes (with a fake docker that runs
// bin/consul), build/config/consul/acl-bootstrap.sh installs the policies
// (build/config/consul/acl/, the per-service templates rendered for each
// declared Consul service) and creates the tokens, and the tests check that
// each program can do what it must and nothing more. They also hold the
// scripts to Go: declared-services.sh to build/routes' grammar, the
// bootstrap's rendering to the tests' own. It lives apart from the
// registrar because the policies serve every program (the agents, the
// registrars, consul-template, the UI), not the registrar alone.
package consulacl
