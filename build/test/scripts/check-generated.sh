#!/usr/bin/env bash
# Fails when the committed protos/*.pb.go differ from a fresh generation, or
# when a go.mod/go.sum is not tidy.
set -o errexit -o nounset -o pipefail
cd "$(dirname "$0")/../../.."

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
make --no-print-directory "$PWD/bin/protoc-gen-go" "$PWD/bin/protoc-gen-go-grpc" >/dev/null
protoc --version | grep -qx "libprotoc 3.21.12" || {
  echo "check-generated: need protoc 3.21.12 (Debian: apt-get install protobuf-compiler), found: $(protoc --version 2>&1)"
  exit 1
}
# protoc looks for the well-known types (google/protobuf/duration.proto) in
# its own include directory; Debian ships them in libprotobuf-dev.
echo 'syntax = "proto3"; import "google/protobuf/duration.proto";' > "$tmp/wkt.proto"
protoc -I"$tmp" --descriptor_set_out=/dev/null "$tmp/wkt.proto" 2>/dev/null || {
  echo "check-generated: protoc cannot find google/protobuf/duration.proto, which protos/echo.proto imports (Debian: apt-get install libprotobuf-dev)"
  exit 1
}
protoc --plugin=protoc-gen-go=bin/protoc-gen-go --plugin=protoc-gen-go-grpc=bin/protoc-gen-go-grpc \
  --go_out="$tmp" --go_opt=paths=source_relative \
  --go-grpc_out="$tmp" --go-grpc_opt=paths=source_relative \
  protos/*.proto
status=0
for generated in "$tmp"/protos/*.go; do
  committed="protos/$(basename "$generated")"
  if ! diff -u "$committed" "$generated"; then
    echo "check-generated: $committed differs from a fresh generation: run make proto and commit"
    status=1
  fi
done

for mod in go.mod build/tools/*/go.mod build/test/tools/*/go.mod; do
  dir="$(dirname "$mod")"
  if ! (cd "$dir" && go mod tidy -diff >/dev/null); then
    echo "check-generated: $mod is not tidy: run (cd $dir && go mod tidy)"
    status=1
  fi
done
[[ $status == 0 ]] && echo "check-generated: protos and go.mod files are up to date"
exit $status
