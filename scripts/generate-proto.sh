#!/usr/bin/env bash
# Regenerate the Open Inference Protocol's gRPC messages (and their type stubs) from
# src/shipline/server/proto/open_inference.proto. Needs grpcio-tools, which the runtime does
# not: it is installed into a throwaway environment here.
set -euo pipefail
cd "$(dirname "$0")/.."
tools="$(mktemp -d)"
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools"
"$tools/bin/pip" install -q -c constraints.txt "grpcio-tools==1.78.0"
"$tools/bin/python" -m grpc_tools.protoc \
  --proto_path=src/shipline/server/proto \
  --python_out=src/shipline/server/proto \
  --pyi_out=src/shipline/server/proto \
  src/shipline/server/proto/open_inference.proto
