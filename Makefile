# gRPC load balancing with nginx, Consul and consul-template.
# `make up` brings the deployment up; `make test` runs every test.

SHELL := bash
.SHELLFLAGS := -o errexit -o pipefail -o nounset -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

BIN      := $(CURDIR)/bin
TOOLS    := $(CURDIR)/build/tools
TEST_TOOLS := $(CURDIR)/build/test/tools
TAG      ?= latest
N        ?= 3
export TAG

# Compose is chosen in one place, build/scripts/compose.sh: COMPOSE from the
# environment when set (COMPOSE="docker-compose" make up), else `docker compose`
# (v2) where it runs, else docker-compose. It shows the command, then runs it.
compose := build/scripts/compose.sh

# Pinned generator versions; `make proto` refuses any other protoc.
PROTOC_VERSION := 3.21.12

# Infrastructure binaries, each from its pinned wrapper module: in build/tools/
# what the images, make compose-plugin and make proto build; in
# build/test/tools/ what only the tests and the benchmark run (ghz, grpcurl).
TOOL_BINS := consul consul-template supervisord grpcurl grpc-health-probe ghz protoc-gen-go-grpc docker-compose
pkg_consul             := github.com/hashicorp/consul
pkg_consul-template    := github.com/hashicorp/consul-template
pkg_supervisord        := github.com/ochinchina/supervisord
pkg_grpcurl            := github.com/fullstorydev/grpcurl/cmd/grpcurl
pkg_grpc-health-probe  := github.com/grpc-ecosystem/grpc-health-probe
pkg_ghz                := github.com/bojand/ghz/cmd/ghz
pkg_protoc-gen-go-grpc := google.golang.org/grpc/cmd/protoc-gen-go-grpc
pkg_docker-compose     := github.com/docker/compose/v2/cmd
# Extra -ldflags per tool. Compose and ghz report the version stamped here
# ("dev" without it); it is read from the wrapper's go.mod when the binary is
# built.
ldflags_docker-compose  = -X github.com/docker/compose/v2/internal.Version=$(shell cd $(TOOLS)/docker-compose && go list -m -f '{{.Version}}' github.com/docker/compose/v2)
ldflags_ghz             = -X main.version=$(shell cd $(TEST_TOOLS)/ghz && go list -m -f '{{.Version}}' github.com/bojand/ghz)

.PHONY: help
help: # @HELP lists the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*# @HELP' $(MAKEFILE_LIST) | sed -E 's/^([^:]+):.*# @HELP (.*)/  make \1\t\2/' | expand -t 22

##@ Deployment
.PHONY: images
images: # @HELP builds the images (makes local base images when no registry answers)
	build/scripts/build-images.sh

.PHONY: up
up: lb-engine-setting images secrets # @HELP builds the images, makes the secrets (first run), starts the deployment and waits until it is healthy (LB_ENGINE=haproxy make up: HAProxy instead of nginx)
	@$(compose) up -d --remove-orphans
	build/scripts/wait-healthy.sh 180

# The load balancer's engine, LB_ENGINE: one of the engines, the folders of
# build/config/lb/ that hold a supervisord.conf; unset or empty is nginx
# (compose's default, supervisorconf.DefaultEngine). Compose reads it from
# the environment, else from .env; make does not set it, so a value in .env
# is not overridden. A value in the
# environment is checked before anything is built (the load-balancer
# container refuses a wrong one too, but only after the build). The message
# names the default first: "accepted is nginx (the default), a or b".
lb_default_engine := nginx
lb_engines := $(patsubst build/config/lb/%/supervisord.conf,%,$(wildcard build/config/lb/*/supervisord.conf))
lb_other_engines := $(sort $(filter-out $(lb_default_engine),$(lb_engines)))
.PHONY: lb-engine-setting
lb-engine-setting:
	@engine="$${LB_ENGINE:-}"; [[ -z "$$engine" ]] && exit 0; \
	for e in $(lb_engines); do [[ "$$engine" == "$$e" ]] && exit 0; done; \
	accepted="$(lb_default_engine) (the default)"; others=($(lb_other_engines)); \
	for i in "$${!others[@]}"; do \
	  if (( i == $${#others[@]} - 1 )); then accepted+=" or $${others[i]}"; else accepted+=", $${others[i]}"; fi; \
	done; \
	echo "make: LB_ENGINE=\"$$engine\" is invalid: accepted is $$accepted"; exit 2

# The gossip key, the CA and certificates and the ACL tokens, in .secrets/:
# made once, reused by every later make up (made with grpc-lb/base).
.PHONY: secrets
secrets: images # @HELP makes the secrets in .secrets/ unless they exist (make up runs it; plain compose needs them)
	build/scripts/secrets.sh

.PHONY: down
down: # @HELP stops the deployment and removes its containers, networks and volumes; keeps the secrets
	@$(compose) down --remove-orphans --volumes

.PHONY: purge
purge: # @HELP make down, and deletes the secrets (.secrets/): the next make up starts a new cluster with new secrets
	@$(compose) down --remove-orphans --volumes
	rm -rf .secrets .secrets.tmp.*
	@echo "purge: the deployment and its secrets are gone"

.PHONY: ui-token
ui-token: # @HELP prints the read-only token to paste into the Consul UI's login
	@[[ -s .secrets/tokens/ui.secret ]] || { echo "ui-token: .secrets/tokens/ui.secret is missing: make up makes the secrets"; exit 1; }
	@cat .secrets/tokens/ui.secret

.PHONY: scale
scale: scale-setting # @HELP scales a service to N replicas (make scale N=5; SERVICE=hello_server, or another of build/config/services.conf)
	@$(compose) up -d --no-recreate --scale $(SERVICE)=$(N)
	build/scripts/wait-healthy.sh 120

# SERVICE and N are checked before compose runs, so a wrong one changes
# nothing (build/scripts/scale-setting.sh says what is accepted). The shell
# reads them from the environment: make pastes a value into a recipe as
# text, where quotes or $(...) in it would run.
SERVICE ?= hello_server
.PHONY: scale-setting
scale-setting: export SCALE_N = $(value N)
scale-setting: export SCALE_SERVICE = $(value SERVICE)
scale-setting:
	@build/scripts/scale-setting.sh "make scale" "$$SCALE_SERVICE" "$$SCALE_N" 0

.PHONY: logs
logs: # @HELP follows the logs of every service
	@$(compose) logs -f --tail=100

.PHONY: ps
ps: # @HELP lists the deployment's containers and their health
	@$(compose) ps

##@ Docker Swarm (README, More than one host)
# build/swarm/swarm.sh does the work; its header lists the settings
# (SWARM_DOCKER_HOSTS: the other nodes, where the images are loaded).
.PHONY: swarm-up
swarm-up: images secrets # @HELP deploys the stack on this swarm (makes a single-node swarm if there is none); REPLICAS=2 hello_server replicas
	build/swarm/swarm.sh up

.PHONY: swarm-scale
swarm-scale: export SCALE_N = $(value N)
swarm-scale: export SCALE_SERVICE = $(value SERVICE)
swarm-scale: # @HELP scales a service of the stack to N replicas (make swarm-scale N=5; SERVICE=hello_server, or another of build/config/services.conf)
	@build/swarm/swarm.sh scale "$$SCALE_N" "$$SCALE_SERVICE"

.PHONY: swarm-down
swarm-down: # @HELP removes the stack and its volumes, and leaves a swarm that swarm-up made; keeps the secrets
	build/swarm/swarm.sh down

.PHONY: swarm-ui
swarm-ui: # @HELP forwards the stack's Consul UI to 127.0.0.1:8500 on this node (Swarm does not publish it)
	build/swarm/swarm.sh ui

##@ Development
.PHONY: tools
tools: $(addprefix $(BIN)/,$(TOOL_BINS)) # @HELP builds consul, consul-template, supervisord, grpcurl, grpc-health-probe, ghz, docker-compose into bin/

.PHONY: compose-plugin
compose-plugin: $(BIN)/docker-compose # @HELP installs the pinned Compose v2 as the Docker CLI plugin, so `docker compose` runs it
	@dir="$${DOCKER_CONFIG:-$$HOME/.docker}/cli-plugins"; \
	install -D -m 0755 $(BIN)/docker-compose "$$dir/docker-compose"; \
	want="$$($(BIN)/docker-compose version --short)"; got="$$(docker compose version --short 2>&1)" || true; \
	if [[ "$$got" != "$$want" ]]; then \
	  echo "compose-plugin: installed $$dir/docker-compose, but \`docker compose version --short\` answered \"$$got\", not $$want"; exit 1; fi; \
	echo "compose-plugin: installed $$dir/docker-compose; \`docker compose\` is Compose $$got"

# A binary is rebuilt only when its pinned module changes. Make takes the
# first rule whose wrapper module exists: build/tools/<tool>, else
# build/test/tools/<tool>; $(<D) is that folder.
define build-tool
	@mkdir -p $(BIN)
	@echo "tools: building $* from $(<D)"
	cd $(<D) && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $(ldflags_$*)" -o $@ $(pkg_$*)
endef
$(BIN)/%: $(TOOLS)/%/go.mod $(TOOLS)/%/go.sum
	$(build-tool)
$(BIN)/%: $(TEST_TOOLS)/%/go.mod $(TEST_TOOLS)/%/go.sum
	$(build-tool)

.PHONY: build
build: # @HELP builds grpc_server, grpc_client and registrar into bin/
	go build -o $(BIN)/ ./grpc_server ./grpc_client ./registrar

$(BIN)/protoc-gen-go: go.mod go.sum
	go build -o $@ google.golang.org/protobuf/cmd/protoc-gen-go

.PHONY: proto
proto: protoc-packages $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc # @HELP regenerates protos/*.pb.go with the pinned generators
	@protoc --version | grep -qx "libprotoc $(PROTOC_VERSION)" || { \
	  echo "proto: need protoc $(PROTOC_VERSION) (Debian: apt-get install protobuf-compiler), found: $$(protoc --version 2>&1)"; exit 1; }
	protoc --plugin=protoc-gen-go=$(BIN)/protoc-gen-go --plugin=protoc-gen-go-grpc=$(BIN)/protoc-gen-go-grpc \
	  --go_out=. --go_opt=paths=source_relative \
	  --go-grpc_out=. --go-grpc_opt=paths=source_relative \
	  protos/*.proto

.PHONY: check
check: protoc-packages # @HELP gofmt, go vet (also of the e2e suite), tidy go.mod files, and generated code matches the protos
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...
	go vet -tags e2e ./build/test/e2e/
	go vet -tags e2e,swarmnodes ./build/test/e2e/
	build/test/scripts/check-generated.sh

# Host packages the targets install themselves (as root with apt-get), or
# name with the command that installs them.
.PHONY: protoc-packages proxy-packages compose-v1-package
protoc-packages:
	@build/scripts/host-packages.sh "the generated-code check (protoc, and the well-known types echo.proto imports)" \
	  protoc=protobuf-compiler /usr/include/google/protobuf/duration.proto=libprotobuf-dev
# The integration tests run the images' engines (Debian's release in
# build/scripts/debian.env, the packages of build/config/lb/<engine>/) from a
# root engine-root.sh makes once in .cache/.
proxy-packages:
	@build/test/scripts/engine-root.sh

##@ Tests
# E2E=skip runs everything but the end-to-end suite, and says so last.
E2E ?= run
.PHONY: test
test: e2e-setting tools check proxy-packages # @HELP runs every test: unit, integration (real Consul, nginx, gRPC) and the end-to-end suite (E2E=skip leaves it out)
	go test -count=1 -timeout 10m ./...
	@if [[ "$(E2E)" == skip ]]; then \
	  echo "make test: unit and integration tests passed; the end-to-end suite did NOT run (E2E=skip)"; \
	else $(MAKE) e2e; fi

# Checked before anything runs: a wrong E2E, or a Docker engine the
# end-to-end suite cannot reach, stops make test at once.
.PHONY: e2e-setting
e2e-setting:
	@[[ "$(E2E)" == run || "$(E2E)" == skip ]] || { echo "make test: E2E=\"$(E2E)\" is invalid: accepted is run (the default) or skip"; exit 2; }
	@[[ "$(E2E)" == skip ]] || $(MAKE) swarm-nodes-needs
	@[[ "$(E2E)" == skip ]] || docker info >/dev/null 2>&1 || { \
	  echo "make test: the Docker engine is not reachable (docker info failed), so the end-to-end suite cannot run: start Docker, or run E2E=skip make test to leave it out"; exit 1; }

# The README steps run under Compose v1 and v2 (E2E_COMPOSE, see build/test/e2e):
# v2 is the pinned build in bin/, v1 is Debian's docker-compose.
compose-v1-package:
	@[[ " $${E2E_COMPOSE:-v1 v2} " != *" v1 "* ]] || build/scripts/host-packages.sh \
	  "the end-to-end suite's README steps under Compose v1 (E2E_COMPOSE=v2 leaves them out)" docker-compose=docker-compose

# The three-node swarm scenarios (TestSwarmThreeNodes, build tag swarmnodes)
# are part of make e2e unless E2E_SWARM_NODES=skip: they start Docker daemons
# in network namespaces (build/test/scripts/nodes.sh), which needs root, ip and
# nsenter.
E2E_SWARM_NODES ?= run
comma := ,
e2e_tags := e2e$(if $(filter run,$(E2E_SWARM_NODES)),$(comma)swarmnodes)

.PHONY: e2e
e2e: swarm-nodes-needs tools compose-v1-package # @HELP runs the end-to-end suite against the real compose deployment (follows the README), then on Swarm
	go test -count=1 -tags $(e2e_tags) -timeout 85m -v ./build/test/e2e/
	@[[ "$(E2E_SWARM_NODES)" == run ]] || echo "make e2e: passed; the three-node swarm scenarios did NOT run (E2E_SWARM_NODES=skip)"

.PHONY: swarm-nodes-needs
swarm-nodes-needs:
	@[[ "$(E2E_SWARM_NODES)" == run || "$(E2E_SWARM_NODES)" == skip ]] || { echo "make e2e: E2E_SWARM_NODES=\"$(E2E_SWARM_NODES)\" is invalid: accepted is run (the default) or skip"; exit 2; }
	@[[ "$(E2E_SWARM_NODES)" == skip ]] || (( $$(id -u) == 0 )) || { echo "make e2e: the three-node swarm scenarios start Docker daemons in network namespaces and need root: run as root, or E2E_SWARM_NODES=skip to leave them out"; exit 1; }
	@[[ "$(E2E_SWARM_NODES)" == skip ]] || build/scripts/host-packages.sh "the three-node swarm scenarios (network namespaces and veths: ip; entering them: nsenter)" ip=iproute2 nsenter=util-linux

# The stack on a swarm of three Docker daemons on this machine, each in its
# own network namespace (build/test/scripts/nodes.sh; needs root, iproute2 and
# nsenter): TestSwarmThreeNodes, README "More than one host".
.PHONY: swarm-e2e
swarm-e2e: tools # @HELP runs the three-node swarm scenarios on this machine (three dockerds in network namespaces; as root)
	go test -count=1 -tags e2e,swarmnodes -timeout 60m -run 'TestSwarmThreeNodes$$' -v ./build/test/e2e/

# BENCH_FLAGS go to build/test/bench, e.g. BENCH_FLAGS="-steps=ghz-scale" for one
# step (go run ./build/test/bench -h lists the flags).
BENCH_FLAGS ?=
.PHONY: bench
bench: tools # @HELP benchmarks the deployment and writes build/test/bench/results.md and a PNG plot
	go run ./build/test/bench -out build/test/bench $(BENCH_FLAGS)
