#!/usr/bin/env bash
# The README's first command builds only what the example runs: in a fresh
# build directory, `tools/build.sh --only replex` (what tools/run-example.sh
# runs) is configured without the tests and its plan (make's dry run) builds
# the `replex` binary and compiles no test, test double, benchmark or
# service of the cluster. Usage: example_path_test.sh SOURCE_DIR
set -euo pipefail
source=${1:?usage: example_path_test.sh SOURCE_DIR}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
# -k: a dry run builds no library, so later steps miss their inputs; the
# plan is what it prints.
REPLEX_BUILD_DIR="$dir/build" REPLEX_BUILD_TOOL_ARGS="-n -k" \
  "$source/tools/build.sh" --only replex > "$dir/plan.txt" 2>&1 || true
grep -q "BUILD_TESTING:BOOL=OFF" "$dir/build/CMakeCache.txt" ||
  { echo "FAIL: the example build is configured with the tests"; exit 1; }
grep -q "cli/replex_main.cc" "$dir/plan.txt" ||
  { echo "FAIL: the plan does not build cli/replex_main.cc"; exit 1; }
compiled=$(grep -c -- " -c " "$dir/plan.txt" || true)
if grep -E -- " -c .*(_test\.cc|/testing/|/tests/|/bench/|gtest|gmock|coordinator/|gateway/|replica-worker/)" \
    "$dir/plan.txt"; then
  echo "FAIL: the example build compiles the sources above"
  exit 1
fi
echo "PASS: the example build compiles $compiled sources, none of them tests or services"
