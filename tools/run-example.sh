#!/usr/bin/env bash
# The README's first command: installs what is missing, builds, and runs the
# alanine dipeptide T-REMD example in embedded mode (one process), printing a
# progress line as it goes and the result summary at the end.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/tools/install-deps.sh"
"$root/tools/build.sh"
job=${1:-$root/examples/alanine-dipeptide/job.yaml}
threads=${REPLEX_THREADS:-$(nproc)}
# A new results directory per run: results are never overwritten.
results=${REPLEX_RESULTS:-$root/replex-data/results/$(basename "$(dirname "$job")")-$(date +%Y%m%d-%H%M%S)}
"${REPLEX_BUILD_DIR:-$root/build}/cli/replex" run "$job" --threads="$threads" --results="$results"
echo "results (trajectories, energies, exchange log, u_kln, analysis, report.html): $results"
