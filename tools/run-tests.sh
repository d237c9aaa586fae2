#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, and runs the
# whole test suite with ctest, which ends with its summary line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${REPLEX_BUILD_DIR:-$root/build}
"$root/tools/install-deps.sh" all
"$root/tools/build.sh"
# The OpenMM plugins Debian leaves out (CPU PME; CUDA where a toolkit is
# installed), where the engine loads them: the system-wide directory when
# this user may write it, else one in the build directory.
plugins=${REPLEX_OPENMM_PLUGIN_DIR:-/usr/local/lib/replex/openmm-plugins}
mkdir -p "$plugins" 2>/dev/null && [ -w "$plugins" ] || plugins=$build/openmm-plugins
"$root/tools/build-openmm-plugins.sh" "$plugins"
export REPLEX_OPENMM_PLUGIN_DIR=$plugins
cd "$build"
ctest --output-on-failure -j"${REPLEX_JOBS:-$(nproc)}" --timeout 900 "$@"
