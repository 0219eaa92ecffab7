package registration

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hashicorp/consul/api"
)

// Agent is the part of the local Consul agent the registrar uses.
type Agent struct {
	api *api.Agent
}

// NewAgent builds a client for the agent at cfg.ConsulAddr with cfg.Token.
func NewAgent(cfg Config) (*Agent, error) {
	c := api.DefaultNonPooledConfig()
	c.Address = cfg.ConsulAddr
	if cfg.Token != "" {
		c.Token = cfg.Token
	}
	client, err := api.NewClient(c)
	if err != nil {
		return nil, err
	}
	return &Agent{api: client.Agent()}, nil
}

// LANAddress is the address the agent advertises to its cluster.
func (a *Agent) LANAddress() (string, error) {
	self, err := a.api.Self()
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
func (a *Agent) Register(reg *api.AgentServiceRegistration) error {
	return a.api.ServiceRegisterOpts(reg, api.ServiceRegisterOpts{ReplaceExistingChecks: true})
}

// Deregister removes the service and its check.
func (a *Agent) Deregister(id string) error {
	return a.api.ServiceDeregister(id)
}

// errNotRegistered means the agent answered and does not know the service.
var errNotRegistered = errors.New("service is not registered with the agent")

// Registered returns nil when the agent has the service, errNotRegistered
// when it answered without it, and the transport error otherwise.
func (a *Agent) Registered(id string) error {
	_, _, err := a.api.Service(id, nil)
	var statusErr api.StatusError
	if errors.As(err, &statusErr) && statusErr.Code == http.StatusNotFound {
		return errNotRegistered
	}
	if err != nil {
		return fmt.Errorf("asking the agent: %w", err)
	}
	return nil
}
