package stopbudget

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/grpc-lb/nginx-consul/build/supervisorconf"
)

// Tree is every setting of the repository that decides how long a container
// takes to stop.
type Tree struct {
	// Services are docker-compose.yaml's services, by name.
	Services map[string]Service
	// Programs are build/config/supervisord/programs/*.conf and each
	// engine's build/config/lb/*/supervisord.conf, by program name.
	Programs map[string]Program
	// GuardSlack is supervisorconf.GuardSlack: how long past a program's
	// stopwaitsecs the entrypoint kills the program itself.
	GuardSlack time.Duration
	// NginxDrain and NginxFast are run-nginx.sh's stop_drain_secs (QUIT,
	// calls in flight finish) and stop_fast_secs (TERM, then KILL).
	NginxDrain, NginxFast time.Duration
	// ConsulServerStop is run-server.sh's stop_secs: how long a Consul
	// server may take after SIGTERM before the script SIGKILLs it.
	ConsulServerStop time.Duration
}

// Service is one compose service's stop settings.
type Service struct {
	Name string
	// Grace is stop_grace_period: docker stop's SIGKILL comes after it.
	Grace time.Duration
	// Entrypoint is compose's entrypoint override; nil means the image's.
	Entrypoint []string
	// Dockerfile is build.dockerfile, relative to the repository; empty for
	// a service that only names an image.
	Dockerfile string
	// Programs are the supervisord programs its image holds (the COPY lines
	// of its Dockerfiles into /etc/supervisord/), by name, each one of
	// Tree.Programs.
	Programs []string
	// Init is compose's init: Docker's init runs as PID 1 and passes
	// signals on.
	Init bool
}

// Program is one supervisord program's stop settings, as supervisord reads
// them; File is relative to the repository.
type Program = supervisorconf.Program

// Paths of the files Load reads, relative to the repository root.
const (
	ComposeFile = "docker-compose.yaml"
	// ComposeOverride is what only Compose reads (build:, depends_on);
	// Compose merges it into ComposeFile, service by service.
	ComposeOverride = "docker-compose.override.yaml"
	ProgramsDir     = supervisorconf.RepoProgramsDir
	// EnginesDir holds one folder per load-balancer engine; its program is
	// the folder's EngineProgram (the image's
	// /etc/lb/<engine>/supervisord.conf).
	EnginesDir      = supervisorconf.RepoEnginesDir
	EngineProgram   = supervisorconf.RepoEngineFiles
	RunNginxScript  = "build/config/lb/nginx/run-nginx.sh"
	RunServerScript = "build/config/consul/run-server.sh"
)

// Load reads the stop settings of the repository at root.
func Load(root string) (*Tree, error) {
	tree := &Tree{GuardSlack: supervisorconf.GuardSlack}
	var err error
	if tree.Services, err = loadCompose(root); err != nil {
		return nil, err
	}
	if tree.Programs, err = loadPrograms(root); err != nil {
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(tree.Services)) {
		s := tree.Services[name]
		if s.Dockerfile == "" {
			continue
		}
		if s.Programs, err = imagePrograms(root, s.Dockerfile, tree.Programs); err != nil {
			return nil, fmt.Errorf("service %s: %w", name, err)
		}
		tree.Services[name] = s
	}
	for _, v := range []struct {
		file, name string
		into       *time.Duration
	}{
		{RunNginxScript, "stop_drain_secs", &tree.NginxDrain},
		{RunNginxScript, "stop_fast_secs", &tree.NginxFast},
		{RunServerScript, "stop_secs", &tree.ConsulServerStop},
	} {
		if *v.into, err = shellSeconds(filepath.Join(root, v.file), v.name); err != nil {
			return nil, err
		}
	}
	return tree, nil
}

type composeService struct {
	StopGracePeriod string   `yaml:"stop_grace_period"`
	Entrypoint      []string `yaml:"entrypoint"`
	Init            bool     `yaml:"init"`
	Build           struct {
		Dockerfile string `yaml:"dockerfile"`
	} `yaml:"build"`
}

func readComposeServices(path string) (map[string]composeService, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var compose struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &compose); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(compose.Services) == 0 {
		return nil, fmt.Errorf("%s: no services", path)
	}
	return compose.Services, nil
}

// loadCompose reads ComposeFile merged with ComposeOverride the way Compose
// merges them: a setting in the override replaces the base's.
func loadCompose(root string) (map[string]Service, error) {
	path := filepath.Join(root, ComposeFile)
	base, err := readComposeServices(path)
	if err != nil {
		return nil, err
	}
	overridePath := filepath.Join(root, ComposeOverride)
	override, err := readComposeServices(overridePath)
	if err != nil {
		return nil, err
	}
	for name, o := range override {
		cs, ok := base[name]
		if !ok {
			return nil, fmt.Errorf("%s: services.%s is not a service of %s: the override only adds Compose's settings to them", overridePath, name, ComposeFile)
		}
		if o.StopGracePeriod != "" {
			cs.StopGracePeriod = o.StopGracePeriod
		}
		if o.Entrypoint != nil {
			cs.Entrypoint = o.Entrypoint
		}
		if o.Init {
			cs.Init = true
		}
		if o.Build.Dockerfile != "" {
			cs.Build = o.Build
		}
		base[name] = cs
	}
	compose := struct{ Services map[string]composeService }{base}
	services := map[string]Service{}
	names := make([]string, 0, len(compose.Services))
	for name := range compose.Services {
		names = append(names, name)
	}
	sort.Strings(names) // the first problem in name order, every run
	for _, name := range names {
		cs := compose.Services[name]
		s := Service{Name: name, Entrypoint: cs.Entrypoint, Dockerfile: cs.Build.Dockerfile, Init: cs.Init}
		if cs.StopGracePeriod == "" {
			return nil, fmt.Errorf("%s: services.%s.stop_grace_period is not set: accepted is an explicit duration such as \"30s\" (docker's default of 10s would be a budget nobody wrote down)", path, name)
		}
		if s.Grace, err = time.ParseDuration(cs.StopGracePeriod); err != nil || s.Grace <= 0 {
			return nil, fmt.Errorf("%s: services.%s.stop_grace_period=%q is invalid: accepted is a positive duration such as \"30s\"", path, name, cs.StopGracePeriod)
		}
		services[name] = s
	}
	return services, nil
}

// imagePrograms are the names of the programs the image dockerfile builds
// holds. Each must be one of programs, read from the same file for the same
// engine: Check budgets the repository's programs.
func imagePrograms(root, dockerfile string, programs map[string]Program) ([]string, error) {
	dockerfiles, err := ImageDockerfiles(root, dockerfile)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "stopbudget-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	layout, sources, err := WriteImageSupervisord(root, dir, dockerfiles...)
	if err != nil {
		return nil, err
	}
	held, err := layout.Load()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, p := range held {
		if repo, ok := programs[p.Name]; !ok || repo.File != sources[p.File] || repo.Engine != p.Engine {
			return nil, fmt.Errorf("%s: the image's program %s is %s (engine %q), the repository's %q (engine %q): accepted is a copy of the repository's (%s/*.conf, %s/<engine>/%s)",
				strings.Join(dockerfiles, " and "), p.Name, sources[p.File], p.Engine, repo.File, repo.Engine, ProgramsDir, EnginesDir, EngineProgram)
		}
		names = append(names, p.Name)
	}
	return names, nil
}

// loadPrograms reads the repository's program files (supervisorconf's
// Repository layout), by name.
func loadPrograms(root string) (map[string]Program, error) {
	read, err := supervisorconf.Repository(root).Load()
	if err != nil {
		return nil, err
	}
	programs := map[string]Program{}
	for _, p := range read {
		if p.File, err = filepath.Rel(root, p.File); err != nil {
			return nil, err
		}
		programs[p.Name] = p
	}
	return programs, nil
}

// shellSeconds reads a `name=N` assignment of whole seconds from a script.
func shellSeconds(path, name string) (time.Duration, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `=(\S*)\s*$`)
	m := re.FindAllStringSubmatch(string(raw), -1)
	if len(m) != 1 {
		return 0, fmt.Errorf("%s: expected one line %s=SECONDS, found %d", path, name, len(m))
	}
	secs, err := strconv.Atoi(m[0][1])
	if err != nil || secs < 0 {
		return 0, fmt.Errorf("%s: %s=%q is invalid: accepted is a whole number of seconds", path, name, m[0][1])
	}
	return time.Duration(secs) * time.Second, nil
}
