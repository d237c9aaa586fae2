#!/usr/bin/env bash
# Configures and builds replex into build/ (or $REPLEX_BUILD_DIR) with every
# core; incremental on repeated runs.
#
#   tools/build.sh                 everything, tests and benchmarks included
#   tools/build.sh --only TARGET…  just those targets and what they need,
#                                  configured without the tests (no test
#                                  packages needed; tools/run-example.sh)
# REPLEX_BUILD_TOOL_ARGS goes to the build tool (e.g. -n: make's dry run).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${REPLEX_BUILD_DIR:-$root/build}
jobs=${REPLEX_JOBS:-$(nproc)}
testing=ON
targets=()
if [ "${1:-}" = "--only" ]; then
  shift
  [ $# -gt 0 ] || { echo "usage: tools/build.sh [--only TARGET...]" >&2; exit 2; }
  testing=OFF
  targets=("$@")
fi
launcher=()
# A compiler cache, when installed, makes rebuilds after a switch cheap.
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE="${CMAKE_BUILD_TYPE:-RelWithDebInfo}" \
  -DBUILD_TESTING="$testing" "${launcher[@]}" >/dev/null
target_args=()
[ ${#targets[@]} -eq 0 ] || target_args=(--target "${targets[@]}")
# shellcheck disable=SC2086  # the tool's arguments are words
cmake --build "$build" -j"$jobs" "${target_args[@]}" -- ${REPLEX_BUILD_TOOL_ARGS:-}
