#!/usr/bin/env bash
# Installs, from Debian 12 packages only, whatever replex needs that is not
# installed yet. Safe to run repeatedly: it does nothing when everything is
# present.
#
#   tools/install-deps.sh example   what building and running `replex` needs
#   tools/install-deps.sh [all]     that, and everything the test suite,
#                                   the benchmarks and the services use
set -euo pipefail

# Building replex and running a job (tools/run-example.sh).
example=(
  # toolchain
  cmake g++ make pkg-config ca-certificates
  # libraries
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  libabsl-dev libopenmm-dev libopenmm-plugins libyaml-dev
  # the coordinator's journal; /metrics of every service
  libsqlite3-dev prometheus-cpp-dev
  # users' JSON Web Tokens at the gateway
  libjwt-dev
  # results: NetCDF trajectories, input hashes and TLS files (libssl)
  libnetcdf-dev libssl-dev
)
# The rest of the suite (tools/run-tests.sh, CI).
tests=(
  git clang libgtest-dev libgmock-dev libbenchmark-dev
  # OpenCL on the CPU (PoCL): the OpenCL platform's tests run, not skip
  pocl-opencl-icd
  # tools/build-openmm-plugins.sh: Debian's OpenMM source (dpkg-source) and
  # FFTW for the CPU PME plugin
  dpkg-dev libfftw3-dev
  # the real Prometheus server tests/metrics_test runs
  prometheus
  # OpenMM's Python, used by tools/make_examples.py, tools/replex-prepare.py
  # and some tests
  python3-simtk python3-numpy python3-scipy
  # tools/make_prepare_inputs.py writes AMBER/GROMACS/CHARMM files with
  # ParmEd; tests/prepare_test.py reads a .top that #includes gromacs-data's
  # force fields
  python3-parmed gromacs-data
  # deploy/: tests/deploy_test.py parses what `docker-compose config` renders
  python3-yaml docker-compose
  # tests open results with mdtraj and pymbar and render the HTML report in
  # headless Chromium
  python3-mdtraj python3-pymbar chromium
  # the Python client (python/) and its test against a real cluster
  python3-grpcio python3-protobuf
  # tests/slurm_test.sh runs deploy/slurm/ on a real Slurm it starts itself
  slurm-wlm munge
  # tests/tls_test makes throwaway certificates with the openssl command;
  # tests/docs_commands_test.py runs the docs' openssl and jq commands
  openssl jq
)

case "${1:-all}" in
  example) packages=("${example[@]}") ;;
  all) packages=("${example[@]}" "${tests[@]}") ;;
  *) echo "usage: tools/install-deps.sh [example|all]" >&2; exit 2 ;;
esac

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} packages (and what they need): ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
