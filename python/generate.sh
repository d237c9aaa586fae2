#!/bin/sh
# Regenerates the Python stubs in python/replex/v1 from proto/ with Debian's
# protoc and grpc_python_plugin (protobuf-compiler, protobuf-compiler-grpc),
# the versions the python3-protobuf and python3-grpcio runtimes expect: the
# messages a client needs and JobService's stub (the workers' protocol is
# not a client's). tests/python_client_test checks that the committed stubs
# are current.
# Usage: python/generate.sh [OUT_DIR]   (default: python/)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/python}
cd "$root/proto"
protoc --python_out="$out" replex/v1/analysis.proto replex/v1/job.proto
protoc --python_out="$out" --grpc_out="$out" \
  --plugin=protoc-gen-grpc="$(command -v grpc_python_plugin)" \
  replex/v1/job_service.proto
