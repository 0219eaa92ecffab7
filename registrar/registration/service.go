package registration

import (
	"fmt"
	"net"
	"strconv"

	"github.com/hashicorp/consul/api"
)

// ServiceID is unique per instance: two replicas never share it (their
// hostnames differ), and a restarted registrar in the same container reuses
// it, so it replaces its old entry instead of leaving a duplicate behind.
func ServiceID(cfg Config, hostname string) string {
	return fmt.Sprintf("%s-%s-%d", cfg.AppName, hostname, cfg.AppPort)
}

// Registration is what the registrar sends to the agent. address is the
// agent's own LAN address, which is the container's IP on the network the
// agent joined, so other containers can reach it.
func Registration(cfg Config, hostname, address string) *api.AgentServiceRegistration {
	check := &api.AgentServiceCheck{
		CheckID:                        ServiceID(cfg, hostname) + "-" + cfg.CheckType,
		Interval:                       cfg.CheckInterval.String(),
		Timeout:                        cfg.CheckTimeout.String(),
		DeregisterCriticalServiceAfter: cfg.DeregisterCriticalAfter.String(),
	}
	hostPort := net.JoinHostPort(address, strconv.Itoa(cfg.CheckPort))
	switch cfg.CheckType {
	case "grpc":
		check.Name = "gRPC health " + hostPort
		check.GRPC = hostPort
		if cfg.CheckEndpoint != "" {
			check.GRPC += "/" + cfg.CheckEndpoint
		}
	case "http":
		check.Name = "HTTP " + hostPort + cfg.CheckEndpoint
		check.HTTP = "http://" + hostPort + cfg.CheckEndpoint
	}
	return &api.AgentServiceRegistration{
		ID:      ServiceID(cfg, hostname),
		Name:    cfg.AppName,
		Address: address,
		Port:    cfg.AppPort,
		Tags:    cfg.Tags,
		Meta:    map[string]string{"hostname": hostname},
		Check:   check,
	}
}
