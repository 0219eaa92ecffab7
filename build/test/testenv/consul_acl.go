package testenv

import (
	"errors"
	"testing"
	"time"

	"github.com/hashicorp/consul/sdk/testutil"
)

// EnableACLs is a StartConsul option that turns ACLs on with default policy
// deny, as the deployment runs them, with managementToken (a UUID) as the
// initial management token. StartConsul's Client then sends that token.
func EnableACLs(managementToken string) func(*testutil.TestServerConfig) {
	return func(c *testutil.TestServerConfig) {
		c.ACL.Enabled = true
		c.ACL.DefaultPolicy = "deny"
		c.ACL.Tokens.InitialManagement = managementToken
	}
}

// waitForACLs waits until the management token works. The leader creates it
// only after it was elected, so the first requests after WaitForLeader can
// still be denied ("ACL not found").
func waitForACLs(t testing.TB, c *Consul) {
	t.Helper()
	Eventually(t, 15*time.Second, "the initial management token works", func() error {
		token, _, err := c.Client.ACL().TokenReadSelf(nil)
		if err != nil {
			return err
		}
		if token == nil || len(token.Policies) == 0 {
			return errors.New("token has no policies yet")
		}
		return nil
	})
}
