#!/usr/bin/env bash
# Configures and builds replex into build/ (or $REPLEX_BUILD_DIR) with both
# cores; incremental on repeated runs.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${REPLEX_BUILD_DIR:-$root/build}
jobs=${REPLEX_JOBS:-$(nproc)}
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=${CMAKE_BUILD_TYPE:-RelWithDebInfo} >/dev/null
cmake --build "$build" -j"$jobs"
