package registration

import (
	"fmt"
	"os"

	"github.com/hashicorp/consul/api"
)

// envOverridesToken reports when consul/api would send a token other than
// the one cfg names. api.NewClient reads CONSUL_HTTP_TOKEN_FILE and
// CONSUL_HTTP_TOKEN from the process environment itself and lets them win
// over a Config that sets no token file, or whose token equals the
// environment's. Main passes os.LookupEnv, so cfg and the environment
// agree there and this never fires; it keeps a caller with another
// LookupEnv from running with a token nobody validated.
func envOverridesToken(cfg Config) error {
	if cfg.TokenFile != "" {
		return nil // a configured token file always wins in api.NewClient
	}
	if f := os.Getenv(api.HTTPTokenFileEnvName); f != "" {
		return fmt.Errorf("%s=%q is set in the process environment, not in the registrar's settings, and consul/api may send its token instead: accepted is the registrar's own CONSUL_HTTP_TOKEN_FILE or CONSUL_HTTP_TOKEN", api.HTTPTokenFileEnvName, f)
	}
	if cfg.Token == "" && os.Getenv(api.HTTPTokenEnvName) != "" {
		return fmt.Errorf("%s (value not shown) is set in the process environment, not in the registrar's settings, and consul/api would send it: accepted is the registrar's own CONSUL_HTTP_TOKEN_FILE or CONSUL_HTTP_TOKEN", api.HTTPTokenEnvName)
	}
	return nil
}
