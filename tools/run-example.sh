#!/usr/bin/env bash
# The README's first command: installs what building and running replex
# needs, builds only the `replex` binary (no tests), and runs the alanine
# dipeptide T-REMD example in embedded mode (one process), printing a
# progress line as it goes, the summary at the end, and what to do next.
#
#   tools/run-example.sh [JOB.yaml]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${REPLEX_BUILD_DIR:-$root/build}
start=$(date +%s)
elapsed() { local s=$(( $(date +%s) - start )); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

echo "== [$(elapsed)] 1/3 checking the Debian packages replex needs"
"$root/tools/install-deps.sh" example

echo "== [$(elapsed)] 2/3 building replex into $build (about 2 minutes on 2 cores the first time; seconds after)"
"$root/tools/build.sh" --only replex

job=${1:-$root/examples/alanine-dipeptide/job.yaml}
threads=${REPLEX_THREADS:-$(nproc)}
# A new results directory per run: results are never overwritten.
results=${REPLEX_RESULTS:-$root/replex-data/results/$(basename "$(dirname "$job")")-$(date +%Y%m%d-%H%M%S)}
echo "== [$(elapsed)] 3/3 running $job on $threads replica thread(s)"
"$build/cli/replex" run "$job" --threads="$threads" --results="$results"
echo "== [$(elapsed)] done"

cat <<NEXT

Next steps
  The results: $results
    report.html (acceptance, each replica's walk through the ladder, round
    trips, energy overlap) opens in any browser: xdg-open $results/report.html
    What every file holds: docs/results.md
  The same job on a cluster (coordinator, gateway, 2 workers on this machine):
    tools/build.sh --only replex-coordinator replex-gateway replex-worker replexctl
    tools/local-cluster.sh up --workers 2
    export REPLEX_GATEWAY=127.0.0.1:8080
    id=\$(build/cli/replexctl submit examples/alanine-dipeptide/job.yaml)
    build/cli/replexctl watch \$id && build/cli/replexctl report \$id
    tools/local-cluster.sh down
  Your own system: docs/job-spec.md (the job file) and tools/make_examples.py
    (how the examples' System and State XML are made with OpenMM).
NEXT
