#!/usr/bin/env bash
# Compiles every production source of a configured build with clang's
# -Wthread-safety analysis as errors (syntax only: the analysis runs in the
# front end, so no object code is made). Usage:
#   tools/check-thread-safety.sh BUILD_DIR
# It reads BUILD_DIR/compile_commands.json; tests and benchmarks are left
# out. ctest runs it as thread_safety_check.
set -euo pipefail
build=${1:?usage: check-thread-safety.sh BUILD_DIR}
clang=${CLANGXX:-clang++}
command -v "$clang" >/dev/null || { echo "thread-safety: $clang is not installed" >&2; exit 1; }
jobs=${REPLEX_JOBS:-$(nproc)}
root=$(cd "$(dirname "$0")/.." && pwd)
/usr/bin/python3 - "$build/compile_commands.json" "$root" > "$build/thread-safety-commands.txt" <<'PY'
import json, os, shlex, sys
root = sys.argv[2]
for entry in json.load(open(sys.argv[1])):
    source = os.path.relpath(entry["file"], root)
    # Ours and not generated, nor a test, test double or benchmark.
    if (source.startswith("..") or source.split("/")[0] in ("tests", "bench")
            or source.endswith("_test.cc") or "/testing/" in source
            or not source.split("/")[0] in ("lib", "coordinator", "gateway",
                                             "replica-worker", "cli")):
        continue
    args = shlex.split(entry["command"])[1:]
    # Drop the output and the compile-only flags; keep defines, includes,
    # the language standard and warnings.
    keep, skip = [], False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in ("-o", "-c"):
            skip = arg == "-o"
            continue
        keep.append(arg)
    print(entry["directory"] + "\t" + shlex.join(keep))
PY
count=$(wc -l < "$build/thread-safety-commands.txt")
echo "thread-safety: checking $count sources with $($clang --version | head -1)"
status=0
# One line per source: "DIR<TAB>ARGS"; each runs in its build directory.
xargs -d '\n' -P "$jobs" -I{} bash -c '
  dir=${1%%	*}; args=${1#*	}
  cd "$dir" && eval "'"$clang"' -fsyntax-only -Wno-unknown-warning-option \
    -Wthread-safety -Werror=thread-safety $args" 2>&1 | grep -E "error|warning: .*thread" ; true
' _ {} < "$build/thread-safety-commands.txt" > "$build/thread-safety.log" || true
if grep -q "error" "$build/thread-safety.log"; then
  cat "$build/thread-safety.log"
  echo "thread-safety: FAILED (see above)"
  exit 1
fi
echo "thread-safety: $count sources pass -Wthread-safety -Werror"
