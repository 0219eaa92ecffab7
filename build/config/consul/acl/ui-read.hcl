# Read-only token for people looking at the Consul UI, and for the e2e suite,
# which reads the raft peers and autopilot's server health through it. It
# can see everything and change nothing.

# The UI's Services view and every service's instances.
service_prefix "" {
  policy = "read"
}

# The UI's Nodes view; also needed to see any instance (entries carry their node).
node_prefix "" {
  policy = "read"
}

# The agents' own endpoints (members, /v1/agent/self) the UI shows.
agent_prefix "" {
  policy = "read"
}

# GET /v1/operator/raft/configuration and /v1/operator/autopilot/health.
operator = "read"
