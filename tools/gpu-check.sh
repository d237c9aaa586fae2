#!/usr/bin/env bash
# The engine's check on a machine with an NVIDIA GPU, in two steps, for a GPU
# machine that has no network and none of Debian's packages:
#
#   tools/gpu-check.sh bundle [DIR]    here, after tools/run-tests.sh (or
#                                      tools/build.sh and
#                                      tools/build-openmm-plugins.sh): copies
#                                      the test and benchmark binaries, every
#                                      shared library they need but the C
#                                      library's own, OpenMM's plugins and the
#                                      CUDA plugin into DIR/bundle.tar.xz
#                                      (default .gpu-bundle; not the CUDA
#                                      toolkit's, which the GPU machine has)
#   tools/gpu-check.sh run [DIR] [OUT] on the GPU machine, from the
#                                      repository's root: runs the engine's
#                                      CUDA and OpenCL tests and measures
#                                      aggregate ns/day of the explicit-solvent
#                                      example with 1, 2, 4, 8 and 16 replicas
#                                      per GPU, embedded mode (and on CUDA
#                                      the cluster) against plain OpenMM on
#                                      the same GPU, then 4 and 16
#                                      replicas with 1, 4 and 8 slots under
#                                      CUDA MPS where the machine has it;
#                                      writes OUT (default $OUT or .,
#                                      gpu-check.txt)
#
# About 4 minutes on one H200 without the cluster rows, which came later and
# have not run on a GPU; REPLEX_GPU_CHECK_STEP_S (default 200) bounds each
# step.
# docs/benchmarks.md says what it measured.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
verb=${1:?usage: gpu-check.sh bundle|run [DIR] [OUT]}
dir=${2:-$root/.gpu-bundle}
build=${REPLEX_BUILD_DIR:-$root/build}
# Kept at their places in the build tree, which the benchmark's --bin_dir
# expects of the cluster's binaries.
binaries=(lib/engine/engine_test lib/engine/plugins_test cli/replex
  bench/replex-bench-efficiency coordinator/replex-coordinator
  gateway/replex-gateway replica-worker/replex-worker)

# The dynamic linker's cache (ldconfig is in /sbin, off a user's PATH).
ldcache() {
  { command -v ldconfig >/dev/null && ldconfig -p; } || /sbin/ldconfig -p 2>/dev/null || true
}

bundle() {
  local stage
  stage=$(mktemp -d)
  trap 'rm -rf "$stage"' RETURN
  mkdir -p "$stage/bin" "$stage/lib" "$stage/openmm-plugins" "$stage/replex-plugins"
  for binary in "${binaries[@]}"; do
    [ -x "$build/$binary" ] || { echo "gpu-check: no $build/$binary: build first" >&2; exit 1; }
    mkdir -p "$stage/bin/$(dirname "$binary")"
    strip --strip-debug -o "$stage/bin/$binary" "$build/$binary"
  done
  local plugins=${REPLEX_OPENMM_PLUGIN_DIR:-/usr/local/lib/replex/openmm-plugins}
  [ -e "$plugins/libOpenMMCUDA.so" ] || {
    echo "gpu-check: no $plugins/libOpenMMCUDA.so: run tools/build-openmm-plugins.sh" >&2; exit 1; }
  cp "$plugins"/libOpenMM*.so "$stage/replex-plugins/"
  # Debian's own platforms (CPU, OpenCL), which OpenMM loads by directory.
  cp /usr/lib/x86_64-linux-gnu/openmm/plugins/libOpenMMCPU.so \
     /usr/lib/x86_64-linux-gnu/openmm/plugins/libOpenMMOpenCL.so \
     "$stage/openmm-plugins/"
  # Every library the binaries and plugins load, but glibc's, the GPU
  # driver's and the CUDA toolkit's (cuFFT and NVRTC are 400 MB; the GPU
  # machine has the same toolkit at /usr/local/cuda).
  {
    for f in $(find "$stage/bin" -type f) "$stage"/replex-plugins/*.so "$stage"/openmm-plugins/*.so; do
      ldd "$f" | awk '/=> \// {print $3}'
    done
  } | sort -u | grep -v '^/usr/local/cuda' |
    grep -vE '/(libc|libm|libdl|libpthread|librt|libresolv|ld-linux[^/]*|libcuda|libOpenCL)\.so' |
    while read -r library; do
      strip --strip-debug -o "$stage/lib/$(basename "$library")" "$library"
    done
  # The OpenCL loader, used there only if the machine has none (the GPU
  # driver brings the NVIDIA OpenCL library, not always a loader).
  local loader
  # awk reads to the end: exiting early would fail the pipeline (pipefail).
  loader=$(ldcache | awk '/libOpenCL\.so\.1 .*x86-64/ && !found {print $NF; found = 1}')
  if [ -n "$loader" ]; then
    mkdir -p "$stage/lib-fallback"
    cp -L "$loader" "$stage/lib-fallback/libOpenCL.so.1"
  else
    echo "gpu-check: no libOpenCL.so.1 here (ocl-icd-libopencl1): the bundle has no fallback OpenCL loader" >&2
  fi
  # One compressed file: what travels to the GPU machine is size-limited.
  rm -rf "$dir"
  mkdir -p "$dir"
  tar -C "$stage" -cJf "$dir/bundle.tar.xz" .
  du -sh "$dir/bundle.tar.xz"
}

run() {
  local out=${3:-${OUT:-.}}
  mkdir -p "$out"
  local report=$out/gpu-check.txt
  local unpacked
  unpacked=$(mktemp -d)
  trap 'rm -rf "$unpacked"' RETURN
  tar -C "$unpacked" -xJf "$dir/bundle.tar.xz"
  dir=$unpacked
  # cuFFT and NVRTC from the toolkit, or else from the CUDA wheels a Python
  # there may hold; the OpenCL loader from the machine, or else the bundle's.
  local library_path=$dir/lib:/usr/local/cuda/lib64
  local wheel
  for wheel in $(find /opt /usr/local/lib /usr/lib -maxdepth 8 -path '*/site-packages/nvidia/*/lib' -type d 2>/dev/null |
                 grep -E 'cufft|nvrtc|cu13/lib' | sort || true); do
    library_path=$library_path:$wheel
  done
  # Searched before the system's directories, so only where it has none.
  local cache
  cache=$(ldcache)
  case "$cache" in
    *'libOpenCL.so.1 '*) ;;
    *) [ -z "$cache" ] || library_path=$library_path:$dir/lib-fallback ;;
  esac
  export LD_LIBRARY_PATH=$library_path${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  # The NVIDIA OpenCL driver's ICD entry, where the machine has the library
  # but no /etc/OpenCL/vendors entry for it.
  if [ ! -e /etc/OpenCL/vendors/nvidia.icd ]; then
    local icd
    icd=$(find /usr/local/nvidia /usr/lib /usr/lib64 -name 'libnvidia-opencl.so.1' 2>/dev/null | head -1) || true
    if [ -n "$icd" ]; then
      mkdir -p "$dir/vendors"
      echo "$icd" >"$dir/vendors/nvidia.icd"
      export OCL_ICD_VENDORS=$dir/vendors
    fi
  fi
  export OPENMM_PLUGIN_DIR=$dir/openmm-plugins
  export REPLEX_OPENMM_PLUGIN_DIR=$dir/replex-plugins
  # Each step has its own limit, so one that hangs leaves the others' results.
  local limit=${REPLEX_GPU_CHECK_STEP_S:-200}
  # The explicit-solvent example, 500-step segments, 4,000 steps a replica.
  bench() {
    timeout "$limit" "$dir/bin/bench/replex-bench-efficiency" --bin_dir="$dir/bin" \
      --job="$root/examples/alanine-dipeptide-water/job.yaml" \
      --steps=500 --total_steps=4000 --repeats=1 "$@"
  }
  {
    echo "== $(date -u +%FT%TZ) $(uname -m)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || true
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH OCL_ICD_VENDORS=${OCL_ICD_VENDORS:-}"
    echo "== engine: CUDA and OpenCL against Reference, Contexts made at once"
    timeout "$limit" "$dir/bin/lib/engine/engine_test" --gtest_filter='Gpu*' || echo "engine_test FAILED"
    echo "== plugins: the CUDA plugin loads (or says why)"
    timeout "$limit" "$dir/bin/lib/engine/plugins_test" --gtest_filter='CudaPluginTest*' ||
      echo "plugins_test FAILED"
    for platform in CUDA OpenCL; do
      echo "== $platform: alanine dipeptide in TIP3P (2041 atoms, PME), 500-step segments"
      bench --platform="$platform" --cluster="$([ "$platform" = CUDA ] && echo true || echo false)" \
        --replicas="${REPLEX_GPU_CHECK_REPLICAS:-1,2,4,8,16}" --slots=2 ||
        echo "benchmark on $platform FAILED"
    done
    # OpenMM 7.7 makes a CUDA context per Context, and a GPU time-slices
    # contexts, so slots add throughput only under MPS, which merges them.
    if command -v nvidia-cuda-mps-control >/dev/null; then
      export CUDA_MPS_PIPE_DIRECTORY=$dir/mps CUDA_MPS_LOG_DIRECTORY=$dir/mps-log
      mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
      if nvidia-cuda-mps-control -d; then
        for slots in 1 4 8; do
          echo "== CUDA under MPS, $slots slots"
          bench --platform=CUDA --cluster=false --replicas=4,16 --slots="$slots" ||
            echo "benchmark under MPS FAILED"
        done
        echo quit | nvidia-cuda-mps-control
      fi
    else
      echo "== no nvidia-cuda-mps-control: no run under MPS"
    fi
  } 2>&1 | tee "$report"
}

case "$verb" in
  bundle) bundle ;;
  run) run "$@" ;;
  *) echo "usage: gpu-check.sh bundle|run [DIR] [OUT]" >&2; exit 2 ;;
esac
