#!/usr/bin/env bash
# Builds the deployment's images in order: the project's programs (compiled
# once, for the images to copy), the shared base (which the Consul servers
# also run), then hello_server, echo_server and load-balancer on top of it.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/../.."

TAG="${TAG:-latest}"
CACHE_DIR="$(pwd)/.cache"
mkdir -p "$CACHE_DIR"
start=$SECONDS

# GO_IMAGE and RUNTIME_IMAGE: the defaults, or local bases when no registry
# answers. Captured first, so a failure there (it has said why) stops here.
bases="$(build/scripts/base-images.sh)" || exit 1
GO_IMAGE="" RUNTIME_IMAGE=""
while IFS='=' read -r key value; do
  case "$key" in
    GO_IMAGE) GO_IMAGE="$value" ;;
    RUNTIME_IMAGE) RUNTIME_IMAGE="$value" ;;
  esac
done <<<"$bases"
[[ -n $GO_IMAGE && -n $RUNTIME_IMAGE ]] || { echo "build-images: base-images.sh named no GO_IMAGE/RUNTIME_IMAGE: $bases"; exit 1; }
echo "build-images: builder $GO_IMAGE, runtime $RUNTIME_IMAGE"

# Module downloads inside the builder use the host's Go settings, so a proxy
# or mirror configured on the host is used in the build as well.
go_env() { command -v go >/dev/null && go env "$1" || true; }
args=(
  --build-arg "GO_IMAGE=$GO_IMAGE"
  --build-arg "RUNTIME_IMAGE=$RUNTIME_IMAGE"
  --build-arg "BASE_IMAGE=grpc-lb/base:$TAG"
  --build-arg "PROGRAMS_IMAGE=grpc-lb/programs:$TAG"
  --build-arg "GOPROXY=$(go_env GOPROXY)"
  --build-arg "GOSUMDB=$(go_env GOSUMDB)"
  --build-arg "GONOSUMDB=$(go_env GONOSUMDB)"
  --build-arg "GOPRIVATE=$(go_env GOPRIVATE)"
)

build() {
  local dockerfile="$1" image="$2" t=$SECONDS
  echo "build-images: $image from build/dockerfiles/$dockerfile"
  local log="$CACHE_DIR/build-${image//[\/:]/_}.log"
  if ! docker build "${args[@]}" -f "build/dockerfiles/$dockerfile" -t "$image" . >"$log" 2>&1; then
    echo "build-images: building $image failed; the last lines of $log:"
    tail -n 40 "$log"
    exit 1
  fi
  echo "build-images: $image built in $((SECONDS - t)) s"
}

build Dockerfile.programs "grpc-lb/programs:$TAG"
build Dockerfile "grpc-lb/base:$TAG"
build Dockerfile.grpc "grpc-lb/hello-server:$TAG"
build Dockerfile.echo "grpc-lb/echo-server:$TAG"
build Dockerfile.lb "grpc-lb/load-balancer:$TAG"
echo "build-images: all images built in $((SECONDS - start)) s"
