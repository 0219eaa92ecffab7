package registration

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/hashicorp/consul/api"
)

// AgentTimeout bounds every call the registrar makes to the local Consul
// agent. The agent listens on loopback and answers in milliseconds; a call
// still unanswered after this is a hung agent, and must not keep the
// registrar from stopping. The registrar's stop budget is derived from it
// (StopBudget).
const AgentTimeout = 2 * time.Second

// StopBudget is the longest the registrar takes from SIGTERM to its exit:
// the call in flight when the signal arrives is abandoned at once, then the
// deregistration takes at most AgentTimeout, and 500 ms covers the rest
// (logging, exiting). stopwaitsecs in
// build/config/supervisord/programs/registrar.conf must be at least this;
// build/test/stopbudget checks it.
const StopBudget = AgentTimeout + 500*time.Millisecond

// Agent is the part of the local Consul agent the registrar uses. Every call
// ends when its context does or after Timeout, whichever comes first.
type Agent struct {
	client  *api.Client
	Timeout time.Duration
}

// NewAgent builds a client for the agent at cfg.ConsulAddr with cfg.Token or
// the token in cfg.TokenFile, whose calls time out after AgentTimeout.
func NewAgent(cfg Config) (*Agent, error) {
	if err := envOverridesToken(cfg); err != nil {
		return nil, err
	}
	c := api.DefaultNonPooledConfig()
	c.Address = cfg.ConsulAddr
	// DefaultNonPooledConfig filled both from the process environment; the
	// registrar's validated settings replace them.
	c.Token, c.TokenFile = cfg.Token, cfg.TokenFile
	client, err := api.NewClient(c)
	if err != nil {
		return nil, err
	}
	return &Agent{client: client, Timeout: AgentTimeout}, nil
}

// call runs one request to the agent with the timeout applied.
func (a *Agent) call(parent context.Context, what string, do func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(parent, a.Timeout)
	defer cancel()
	err := do(ctx)
	if err != nil && parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s: the agent did not answer within %s: %w", what, a.Timeout, err)
	}
	return err
}

// LANAddress is the address the agent advertises to its cluster.
func (a *Agent) LANAddress(ctx context.Context) (string, error) {
	var self map[string]map[string]any
	err := a.call(ctx, "GET /v1/agent/self", func(ctx context.Context) error {
		// Agent().Self takes no context; Raw().Query is the same request.
		_, err := a.client.Raw().Query("/v1/agent/self", &self, (&api.QueryOptions{}).WithContext(ctx))
		return err
	})
	if err != nil {
		return "", err
	}
	addr, _ := self["Member"]["Addr"].(string)
	if addr == "" {
		return "", errors.New("agent did not report Member.Addr in /v1/agent/self")
	}
	return addr, nil
}

// Register registers (or replaces) the service and its check.
func (a *Agent) Register(ctx context.Context, reg *api.AgentServiceRegistration) error {
	return a.call(ctx, "PUT /v1/agent/service/register", func(ctx context.Context) error {
		return a.client.Agent().ServiceRegisterOpts(reg, api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx))
	})
}

// Deregister removes the service and its check.
func (a *Agent) Deregister(ctx context.Context, id string) error {
	return a.call(ctx, "PUT /v1/agent/service/deregister/"+id, func(ctx context.Context) error {
		return a.client.Agent().ServiceDeregisterOpts(id, (&api.QueryOptions{}).WithContext(ctx))
	})
}

// errNotRegistered means the agent answered and does not know the service.
var errNotRegistered = errors.New("service is not registered with the agent")

// Registered returns nil when the agent has the service, errNotRegistered
// when it answered without it, and the transport error otherwise.
func (a *Agent) Registered(ctx context.Context, id string) error {
	err := a.call(ctx, "GET /v1/agent/service/"+id, func(ctx context.Context) error {
		_, _, err := a.client.Agent().Service(id, (&api.QueryOptions{}).WithContext(ctx))
		return err
	})
	var statusErr api.StatusError
	if errors.As(err, &statusErr) && statusErr.Code == http.StatusNotFound {
		return errNotRegistered
	}
	if err != nil {
		return fmt.Errorf("asking the agent: %w", err)
	}
	return nil
}
