#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/) in a clang build of their own and runs
# each from the committed corpus (fuzz/corpus/TARGET), then every input of
# fuzz/regressions/TARGET once (inputs that once crashed it). Fails, printing
# the input and how to replay it, on a crash, a sanitizer report, a leak, a
# timeout or running out of memory.
#
#   tests/fuzz_test.sh SOURCE_DIR BUILD_DIR [SECONDS_PER_TARGET]
#
# BUILD_DIR is kept between runs, so only changed sources are rebuilt.
# Without SECONDS_PER_TARGET each target runs a fixed number of inputs from a
# fixed seed (FUZZ_SEED, default 1), about half a minute each on two cores:
# the suite does the same work from the same start on every machine, however
# fast, rather than more on a faster one (libFuzzer's choices still differ a
# little between runs). Fuzz for longer, with other seeds, by hand:
# FUZZ_SEED=$RANDOM tests/fuzz_test.sh SRC BUILD 600.
# Exits 77 (skipped) without clang.
set -euo pipefail
source_dir=$1
build_dir=$2
seconds=${3:-}
targets=(xml pdb state spec)
# Inputs per target for the suite, from each one's speed (inputs/s) on the
# CI machine.
declare -A runs=([xml]=600000 [pdb]=1000000 [state]=2000000 [spec]=250000)

if ! command -v clang++ >/dev/null; then
  echo "SKIP: clang++ is not installed (tools/install-deps.sh installs it)"
  exit 77
fi
if [ ! -f "$build_dir/CMakeCache.txt" ]; then
  cmake -S "$source_dir" -B "$build_dir" -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DREPLEX_FUZZ=ON -DBUILD_TESTING=OFF \
    >"$build_dir.configure.log" 2>&1 ||
    { cat "$build_dir.configure.log"; exit 1; }
fi
start=$(date +%s)
cmake --build "$build_dir" -j2 --target "${targets[@]/#/fuzz_}" 2>&1 | tail -3
echo "fuzz_test: built in $(( $(date +%s) - start )) s"

# Debian's libraries are not instrumented: their containers' annotations
# would be reported as overflows.
export ASAN_OPTIONS=detect_container_overflow=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
status=0
for target in "${targets[@]}"; do
  start=$(date +%s)
  fuzzer="$build_dir/fuzz/fuzz_$target"
  mkdir -p "$work/$target" "$work/$target.artifacts"
  # New inputs go to the scratch directory; the committed corpus is read only.
  if ! "$fuzzer" "$work/$target" "$source_dir/fuzz/corpus/$target" \
      -seed="${FUZZ_SEED:-1}" -timeout=10 \
      $([ -n "$seconds" ] && echo "-max_total_time=$seconds" ||
        echo "-runs=${runs[$target]}") \
      -rss_limit_mb=2048 \
      -max_len=65536 -print_final_stats=1 \
      -artifact_prefix="$work/$target.artifacts/" >"$work/$target.log" 2>&1; then
    status=1
    tail -40 "$work/$target.log"
    for input in "$work/$target.artifacts"/*; do
      echo "fuzz_test: $target failed on $input ($(wc -c <"$input") bytes):"
      xxd "$input" | head -20
      echo "replay: $fuzzer FILE; keep it as fuzz/regressions/$target/NAME once fixed"
    done
    continue
  fi
  tried=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$target.log" | grep -o '[0-9]*$')
  echo "fuzz_test: $target: $tried inputs in $(( $(date +%s) - start )) s, no failure"
  if [ -d "$source_dir/fuzz/regressions/$target" ]; then
    regressions=("$source_dir/fuzz/regressions/$target"/*)
    if ! "$fuzzer" "${regressions[@]}" >"$work/$target.regressions.log" 2>&1; then
      status=1
      tail -40 "$work/$target.regressions.log"
    else
      echo "fuzz_test: $target: ${#regressions[@]} regression inputs pass"
    fi
  fi
done
exit $status
