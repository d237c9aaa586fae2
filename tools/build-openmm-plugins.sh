#!/usr/bin/env bash
# Builds the OpenMM plugins Debian's OpenMM packages leave out (the CPU PME
# plugin, and the CUDA platform when a CUDA toolkit is installed) from
# Debian's source for exactly the installed libOpenMM version, and installs
# them into PLUGIN_DIR, where the engine loads them from:
#
#   tools/build-openmm-plugins.sh [PLUGIN_DIR]
#
# PLUGIN_DIR defaults to /usr/local/lib/replex/openmm-plugins, the engine's
# default; elsewhere, point REPLEX_OPENMM_PLUGIN_DIR at it. A stamp in
# PLUGIN_DIR makes a second run with nothing changed cost nothing.
#
# Environment: REPLEX_SKIP_CUDA=1 skips the CUDA platform; REPLEX_CUDA_ROOT
# is the toolkit's prefix (default /usr/local/cuda); REPLEX_JOBS sets
# the build's parallelism (default: nproc); XDG_CACHE_HOME moves the cache of
# downloaded source and build trees (default ~/.cache/replex/openmm-VERSION).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
recipe_dir=$root/tools/openmm-plugins
plugin_dir=${1:-/usr/local/lib/replex/openmm-plugins}
jobs=${REPLEX_JOBS:-$(nproc)}
# Where the CUDA toolkit is: NVIDIA's default prefix, or /usr for Debian's
# nvidia-cuda-toolkit (non-free).
cuda_root=${REPLEX_CUDA_ROOT:-/usr/local/cuda}
stamp_name=.replex-openmm-plugins.stamp
# What this script installs, and nothing else, into PLUGIN_DIR.
libraries=(libOpenMMPME.so libOpenMMCUDA.so libOpenMMCudaCompiler.so)

say() { echo "openmm plugins: $*"; }
die() { echo "openmm plugins: error: $*" >&2; exit 1; }

# Runs a command with its output in a log file; on failure, shows the log's
# end and stops.
logged() {
  local log=$1
  shift
  if ! "$@" >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "'$*' failed (full log: $log)"
  fi
}

# Runs a command as root, through sudo unless this is root; check
# can_be_root first.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

can_be_root() {
  [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null
}

# True if this user can write `dir`, or create it.
can_write() {
  local dir=$1
  while [ ! -e "$dir" ]; do dir=$(dirname "$dir"); done
  [ -d "$dir" ] && [ -w "$dir" ]
}

# --- what is installed --------------------------------------------------------

command -v dpkg-query >/dev/null || die "dpkg-query not found: this script needs Debian"
libopenmm=$(dpkg-query -L libopenmm-dev 2>/dev/null | grep '/libOpenMM\.so$' | head -n1 || true)
[ -n "$libopenmm" ] || die "libOpenMM.so not found: install Debian's libopenmm-dev"
libopenmm=$(readlink -f "$libopenmm")
package=$(dpkg-query -S "$libopenmm" 2>/dev/null | head -n1 | cut -d: -f1)
[ -n "$package" ] || die "no Debian package owns $libopenmm"
read -r source_package source_version binary_version < <(
  dpkg-query -W -f='${source:Package} ${source:Version} ${Version}\n' "$package")
# A binNMU (+bN) is a rebuild of the same source; ${source:Version} already
# drops it, this is a second guard.
source_version=${source_version%%+b[0-9]*}
[ -n "$source_version" ] || die "cannot tell the source version of $package"

missing=()
for p in libfftw3-dev dpkg-dev cmake g++ make; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done

build_cuda=0
cuda_version=none
if [ "${REPLEX_SKIP_CUDA:-0}" != 1 ]; then
  if [ -x "$cuda_root/bin/nvcc" ]; then
    build_cuda=1
    cuda_version=$("$cuda_root/bin/nvcc" --version | sed -n 's/.*release [^,]*, V\([0-9.]*\).*/\1/p')
    [ -n "$cuda_version" ] || die "cannot read the CUDA version from $cuda_root/bin/nvcc --version"
  elif [ -n "${REPLEX_CUDA_ROOT:-}" ]; then
    # The default prefix may lack a toolkit; one asked for must not.
    die "REPLEX_CUDA_ROOT=$cuda_root has no bin/nvcc: point it at a CUDA toolkit's prefix, or set REPLEX_SKIP_CUDA=1"
  fi
fi

shopt -s nullglob
recipe_hash=$(cat "$0" "$recipe_dir/CMakeLists.txt" "$root/cmake/FindOpenMM.cmake" \
  "$recipe_dir"/patches/*.patch | sha256sum | cut -c1-16)
stamp="openmm $source_version (libOpenMM $binary_version); cuda $cuda_version at $cuda_root; recipe $recipe_hash"

# The stamp's first line is $stamp, its second what that run installed.
up_to_date=0
if [ "$(head -n1 "$plugin_dir/$stamp_name" 2>/dev/null)" = "$stamp" ]; then
  up_to_date=1
  stamped=()
  read -r -a stamped < <(sed -n 2p "$plugin_dir/$stamp_name") || true
  for lib in "${stamped[@]}"; do
    [ -f "$plugin_dir/$lib" ] || up_to_date=0
  done
fi
if [ "$up_to_date" = 1 ]; then
  say "up to date in $plugin_dir"
  exit 0
fi

cache=${XDG_CACHE_HOME:-$HOME/.cache}/replex/openmm-$source_version
source_dir=$cache/src
mkdir -p "$cache"

if [ ${#missing[@]} -gt 0 ]; then
  can_be_root || die "missing Debian packages ${missing[*]}: install them, or run as root or with sudo"
  say "installing ${missing[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  logged "$cache/apt-get.log" as_root apt-get update -q
  logged "$cache/apt-get.log" as_root apt-get install -y -q \
    --no-install-recommends "${missing[@]}"
fi

# Installing into PLUGIN_DIR may need root; know that before building.
install_as=()
if ! can_write "$plugin_dir"; then
  can_be_root ||
    die "cannot write $plugin_dir: run as root or with sudo, or name a directory you can write"
  install_as=(as_root)
fi


# --- source -----------------------------------------------------------------

if [ ! -f "$source_dir/.replex-extracted" ]; then
  say "fetching Debian's $source_package source $source_version"
  # A private apt configuration: only a deb-src line, lists in the cache, so
  # the system's apt state is neither needed nor touched.
  apt_state=$cache/apt
  rm -rf "$apt_state"
  mkdir -p "$apt_state/lists/partial" "$apt_state/cache/archives/partial"
  # shellcheck source=/dev/null
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  [ -n "$codename" ] || die "cannot tell the Debian release from /etc/os-release"
  printf 'deb-src http://deb.debian.org/debian %s main\ndeb-src http://deb.debian.org/debian %s-updates main\n' \
    "$codename" "$codename" >"$apt_state/sources.list"
  apt_options=(-o "Dir::Etc::SourceList=$apt_state/sources.list"
    -o Dir::Etc::SourceParts=/dev/null -o "Dir::State::Lists=$apt_state/lists"
    -o "Dir::Cache=$apt_state/cache" -o "APT::Sandbox::User=$(id -un)")
  logged "$cache/apt-update.log" apt-get "${apt_options[@]}" update
  offered=$(apt-cache "${apt_options[@]}" showsrc "$source_package" 2>/dev/null |
    sed -n 's/^Version: //p' | sort -u | paste -sd' ' -)
  if ! grep -qxF "$source_version" <(tr ' ' '\n' <<<"$offered"); then
    die "the installed libOpenMM is $binary_version (source $source_package $source_version), but Debian's archive offers source ${offered:-none}; refusing to build plugins for another version"
  fi
  download=$cache/download
  rm -rf "$download" && mkdir -p "$download"
  (cd "$download" && logged "$cache/apt-source.log" apt-get "${apt_options[@]}" \
    source --download-only "$source_package=$source_version")
  say "extracting the source into $source_dir"
  rm -rf "$source_dir" "$source_dir.tmp"
  logged "$cache/dpkg-source.log" dpkg-source -x \
    "$download/${source_package}_${source_version#*:}.dsc" "$source_dir.tmp"
  touch "$source_dir.tmp/.replex-extracted"
  mv "$source_dir.tmp" "$source_dir"
  # dpkg-source leaves a copy of the upstream tarball beside what it extracts.
  rm -rf "$download" "$apt_state" "$cache/${source_package}_"*.orig.tar.*
fi

# --- build ------------------------------------------------------------------

build_dir=$cache/build
# CMake's cache keeps the toolkit it found first: a tree configured for
# another toolkit prefix starts again.
if [ "$(cat "$build_dir/.replex-cuda-root" 2>/dev/null)" != "$cuda_root" ]; then
  rm -rf "$build_dir" && mkdir -p "$build_dir"
  echo "$cuda_root" >"$build_dir/.replex-cuda-root"
fi
cuda_option=OFF
[ "$build_cuda" = 1 ] && cuda_option=ON
say "configuring (CUDA: $([ "$build_cuda" = 1 ] && echo "toolkit $cuda_version" || echo "not built"))"
logged "$cache/configure.log" cmake -S "$recipe_dir" -B "$build_dir" \
  -DCMAKE_BUILD_TYPE=Release -DOPENMM_SOURCE_DIR="$source_dir" \
  -DCMAKE_INSTALL_PREFIX="$plugin_dir" -DREPLEX_CUDA=$cuda_option \
  -DCUDAToolkit_ROOT="$cuda_root"

say "building the CPU PME plugin"
logged "$cache/build-pme.log" cmake --build "$build_dir" -j"$jobs" --target OpenMMPME

if [ "$build_cuda" = 1 ]; then
  # About 3 CPU-minutes of compiling, measured on a 2-core machine.
  say "building the CUDA platform (about $(((3 + jobs - 1) / jobs)) minutes)"
  # Everything left: the platform, and its NVRTC plugin where NVRTC is found.
  logged "$cache/build-cuda.log" cmake --build "$build_dir" -j"$jobs"
fi

# --- install ----------------------------------------------------------------

say "installing into $plugin_dir"
# Libraries from an earlier run that this one did not build (CUDA skipped now)
# would still be loaded, so they go first; so does the stamp, until the
# install has succeeded.
for lib in "${libraries[@]}" "$stamp_name"; do
  "${install_as[@]}" rm -f "$plugin_dir/$lib"
done
logged "$cache/install.log" "${install_as[@]}" cmake --install "$build_dir"
installed=()
for lib in "${libraries[@]}"; do
  [ -f "$plugin_dir/$lib" ] && installed+=("$lib")
done
printf '%s\n%s\n' "$stamp" "${installed[*]}" |
  "${install_as[@]}" tee "$plugin_dir/$stamp_name" >/dev/null
say "installed ${installed[*]} into $plugin_dir"
