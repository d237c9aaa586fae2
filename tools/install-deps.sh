#!/usr/bin/env bash
# Installs, from Debian 12 packages only, whatever replex needs to build, test
# and run that is not installed yet. Safe to run repeatedly: it does nothing
# when everything is present.
set -euo pipefail

packages=(
  # toolchain; clang runs the thread-safety analysis (thread_safety_check)
  cmake g++ make pkg-config git ca-certificates clang
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libopenmm-dev libopenmm-plugins libyaml-cpp-dev
  libgtest-dev libgmock-dev
  # the coordinator's journal
  libsqlite3-dev
  # /metrics of every service; the real Prometheus server tests/metrics_test runs
  prometheus-cpp-dev prometheus
  # OpenMM's Python, used by tools/make_examples.py and some tests
  python3-simtk python3-numpy python3-scipy
  # deploy/: tests/deploy_test.py parses what `docker-compose config` renders
  python3-yaml docker-compose
  # results: NetCDF trajectories, input hashes; tests open them with mdtraj
  # and pymbar and render the HTML report in headless Chromium
  libnetcdf-dev libssl-dev python3-mdtraj python3-pymbar chromium
  # TLS: libssl-dev checks certificate files at startup; tests/tls_test makes
  # throwaway certificates with the openssl command
  openssl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
