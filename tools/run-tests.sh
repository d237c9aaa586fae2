#!/usr/bin/env bash
# The README's second command: installs what is missing, builds, and runs the
# whole test suite with ctest, which ends with its summary line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/install-deps.sh" all
"$root/tools/build.sh"
cd "${REPLEX_BUILD_DIR:-$root/build}"
ctest --output-on-failure -j"${REPLEX_JOBS:-$(nproc)}" --timeout 900 "$@"
