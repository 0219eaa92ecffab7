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
//
// A grpc HEALTH_CHECK_ENDPOINT that lists several gRPC services gets one
// check per service in Checks, so the instance passes only while every one
// of them answers SERVING; otherwise the one check is in Check, as it always
// was (same ID and name), so existing registrations are unchanged.
func Registration(cfg Config, hostname, address string) *api.AgentServiceRegistration {
	id := ServiceID(cfg, hostname)
	newCheck := func(checkID string) *api.AgentServiceCheck {
		return &api.AgentServiceCheck{
			CheckID:                        checkID,
			Interval:                       cfg.CheckInterval.String(),
			Timeout:                        cfg.CheckTimeout.String(),
			DeregisterCriticalServiceAfter: cfg.DeregisterCriticalAfter.String(),
		}
	}
	reg := &api.AgentServiceRegistration{
		ID:      id,
		Name:    cfg.AppName,
		Address: address,
		Port:    cfg.AppPort,
		Tags:    cfg.Tags,
		Meta:    map[string]string{"hostname": hostname},
	}
	hostPort := net.JoinHostPort(address, strconv.Itoa(cfg.CheckPort))
	checkID := id + "-" + cfg.CheckType
	switch cfg.CheckType {
	case "grpc":
		services := cfg.GRPCHealthServices()
		if len(services) == 1 {
			check := newCheck(checkID)
			check.Name = "gRPC health " + hostPort
			check.GRPC = hostPort
			if services[0] != "" {
				check.GRPC += "/" + services[0]
			}
			reg.Check = check
			break
		}
		for _, service := range services {
			check := newCheck(checkID + "-" + service)
			check.Name = "gRPC health " + hostPort + " " + service
			check.GRPC = hostPort + "/" + service
			reg.Checks = append(reg.Checks, check)
		}
	case "http":
		check := newCheck(checkID)
		check.Name = "HTTP " + hostPort + cfg.CheckEndpoint
		check.HTTP = "http://" + hostPort + cfg.CheckEndpoint
		reg.Check = check
	}
	return reg
}

// Checks is the registration's checks: its Check, or each of its Checks.
func Checks(reg *api.AgentServiceRegistration) []*api.AgentServiceCheck {
	if reg.Check != nil {
		return append([]*api.AgentServiceCheck{reg.Check}, reg.Checks...)
	}
	return reg.Checks
}
