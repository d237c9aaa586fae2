#!/usr/bin/env bash
# The docker-compose stack for real: a private dockerd, the replex and
# Prometheus images built offline (deploy/docker/offline-image.sh),
# coordinator + gateway + 2 workers + Prometheus up and healthy, every binary's
# --help in the image, the CPU PME plugin running the explicit-solvent example
# in it, Prometheus scraping every replex service (both workers
# found through DNS), the harmonic-oscillator example submitted through the
# gateway with replexctl and finished with a worker container killed mid-job,
# and again through the gateway with `replexctl call` (server reflection
# only). Runs only with REPLEX_DOCKER_TEST=1, as root, with docker.io,
# docker-compose, debootstrap, jq and curl installed; otherwise exits 77
# (skipped) saying why. With REPLEX_DOCKER_BUILD=1 the replex image is
# deploy/docker/Dockerfile's `cpu` target, built by `docker build` on the
# debootstrap'ed Debian tagged as its base (apt inside the build needs a
# Debian mirror; it compiles replex, so allow half an hour and run the
# script directly rather than through ctest's 15 minutes); the image and
# its build stage are kept so that a later build reuses their layers; with
# REPLEX_DOCKER_GPU=1 as well, the `gpu` target is built too (Debian's CUDA
# toolkit in its build stage: 1.6 GB to download, 11 GB unpacked) and checked
# without a GPU.
#   docker_stack_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source_dir=$1 build=$2
skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
[ "${REPLEX_DOCKER_TEST:-0}" = 1 ] || skip "set REPLEX_DOCKER_TEST=1 to run the docker stack test (minutes)"
[ "$(id -u)" -eq 0 ] || skip "needs root to start a private dockerd"
for tool in dockerd docker docker-compose debootstrap jq curl; do
  command -v $tool >/dev/null || skip "$tool is not installed"
done

state=$(mktemp -d /tmp/replex-docker.XXXXXX)
export DOCKER_HOST=unix://$state/docker.sock
dockerfile=${REPLEX_DOCKER_BUILD:-0}
export COMPOSE_PROJECT_NAME=replextest$$ REPLEX_TAG=test$$
[ "$dockerfile" = 1 ] && REPLEX_TAG=dockerfile
export REPLEX_GATEWAY_PORT=0 PROMETHEUS_PORT=0 PROMETHEUS_IMAGE=replex-prometheus:test$$
# The example job runs on the Reference platform.
export REPLEX_WORKER_PLATFORM=Reference
compose=(docker-compose -f "$source_dir/deploy/docker-compose.yml")
services=(coordinator gateway worker prometheus)
dockerd --data-root "${REPLEX_DOCKER_DATA_ROOT:-/var/lib/replex-docker/data}" \
  --exec-root "$state/exec" --host "$DOCKER_HOST" --pidfile "$state/docker.pid" \
  >"$state/dockerd.log" 2>&1 &
dockerd_pid=$!
# Containers, volumes, the network and both images go with the daemon, also
# when a step fails.
cleanup() {
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  [ "$dockerfile" = 1 ] || docker rmi "$image" >/dev/null 2>&1 || true
  docker rmi "$PROMETHEUS_IMAGE" >/dev/null 2>&1 || true
  kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
  rm -rf "$state"
}
image=replex:${REPLEX_TAG}-cpu
trap cleanup EXIT
for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
docker info >/dev/null 2>&1 || skip "dockerd did not start: $(tail -3 "$state/dockerd.log")"

start=$(date +%s)
elapsed() { echo "$(( $(date +%s) - start )) s"; }
if [ "$dockerfile" = 1 ]; then
  docker image inspect debian:bookworm-slim >/dev/null 2>&1 ||
    "$source_dir/deploy/docker/offline-image.sh" --base debian:bookworm-slim
  # The classic builder: Debian's dockerd has no buildx for the CLI to use.
  DOCKER_BUILDKIT=0 docker build -f "$source_dir/deploy/docker/Dockerfile" \
    --target cpu -t "$image" "$source_dir"
  if [ "${REPLEX_DOCKER_GPU:-0}" = 1 ]; then
    # The gpu target, on this machine without a GPU: every library of its
    # CUDA plugins is in the image but the driver's libcuda.so.1 (the NVIDIA
    # container toolkit mounts it), and a CUDA job says that is what it lacks.
    gpu_image=replex:dockerfile-gpu
    DOCKER_BUILDKIT=0 docker build -f "$source_dir/deploy/docker/Dockerfile" \
      --target gpu -t "$gpu_image" "$source_dir"
    listing=$(docker run --rm --entrypoint sh "$gpu_image" -c \
      'ldd /usr/local/lib/replex/openmm-plugins/libOpenMMCUDA.so \
           /usr/local/lib/replex/openmm-plugins/libOpenMMCudaCompiler.so' 2>&1) ||
      fail "ldd cannot read the CUDA plugins in $gpu_image: $listing"
    missing=$(awk '/not found/ {print $1}' <<<"$listing" | sort -u)
    [ "$missing" = libcuda.so.1 ] || fail "the CUDA plugins in $gpu_image lack: $missing"
    cuda=$(docker run --rm "$gpu_image" sh -c 'cd /tmp && replex run \
      --platform=CUDA /opt/replex/examples/harmonic-oscillator/job.yaml' 2>&1 || true)
    grep -q "libOpenMMCUDA.so: libcuda.so.1: .*no NVIDIA driver on this machine" <<<"$cuda" ||
      fail "a CUDA job in $gpu_image without a driver: $cuda"
    echo "$gpu_image: the CUDA plugins lack only the driver's libcuda.so.1, and a CUDA job says so"
  fi
  # Earlier runs' build stages (gigabytes each, untagged); this run's stays,
  # and with it the apt layers the next build reuses.
  docker image prune -f --filter "until=$start" >/dev/null
else
  "$source_dir/deploy/docker/offline-image.sh" "$build" "$image"
fi
"$source_dir/deploy/docker/offline-image.sh" --prometheus "$PROMETHEUS_IMAGE"
for b in replex replexctl replex-coordinator replex-gateway replex-worker; do
  docker run --rm "$image" $b --help >/dev/null 2>&1 ||
    [ $? -eq 1 ] || fail "$b --help in $image"  # absl's --help exits 1
done
echo "every binary runs --help in $image; images built after $(elapsed)"
# The image's CPU PME plugin loads and computes: the explicit-solvent (PME)
# example for a round or two, until --walltime stops it.
pme=$(docker run --rm "$image" sh -c 'cd /tmp && replex run --threads=2 \
  --progress_every=1 --walltime=25s --results=/tmp/results \
  /opt/replex/examples/alanine-dipeptide-water/job.yaml' 2>&1 || true)
grep -q "loaded libOpenMMPME.so" <<<"$pme" || fail "no CPU PME plugin in $image: $pme"
grep -q '^\[round  1/40' <<<"$pme" || fail "the PME example ran no round in $image: $pme"
echo "the CPU PME plugin loads in $image and runs the explicit-solvent example:"
grep -E 'loaded|^\[round' <<<"$pme"

"${compose[@]}" up -d --no-build --scale worker=2 "${services[@]}"
healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$1")" = healthy ]; }
for _ in $(seq 1 90); do
  all=1
  for c in $("${compose[@]}" ps -q "${services[@]}"); do healthy "$c" || all=0; done
  [ $all = 1 ] && break; sleep 2
done
"${compose[@]}" ps
[ $all = 1 ] || { "${compose[@]}" logs --tail 20; fail "not every container became healthy"; }
echo "coordinator, gateway, 2 workers and Prometheus healthy after $(elapsed)"

# Prometheus must scrape the coordinator, the gateway and both workers (by
# their container addresses, from DNS), all "up". A target is "unknown" until
# its first scrape, up to one scrape interval (15 s) after it is found.
prometheus=127.0.0.1:$("${compose[@]}" port prometheus 9090 | cut -d: -f2)
address() { docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$1"; }
expected=$({
  echo "replex-coordinator coordinator:9464"
  echo "replex-gateway gateway:9465"
  for c in $("${compose[@]}" ps -q worker); do echo "replex-worker $(address "$c"):9466"; done
} | sort)
for _ in $(seq 1 30); do
  up=$(curl -sf "http://$prometheus/api/v1/targets?state=active" | jq -r \
    '.data.activeTargets[] | select(.health == "up") | "\(.labels.job) \(.labels.instance)"' |
    sort) || up=
  [ "$up" = "$expected" ] && break; sleep 2
done
if [ "$up" != "$expected" ]; then
  curl -sf "http://$prometheus/api/v1/targets" | jq -c '.data.activeTargets[] |
    {job: .labels.job, instance: .labels.instance, health, lastError}' || true
  fail "Prometheus scrapes, up: [$up]; expected: [$expected]"
fi
echo "Prometheus scrapes every service, up after $(elapsed):"; echo "$expected"

gateway=127.0.0.1:$("${compose[@]}" port gateway 8080 | cut -d: -f2)
id=$("$build/cli/replexctl" --gateway="$gateway" submit "$source_dir/examples/harmonic-oscillator/job.yaml")
echo "submitted $id through $gateway"
sleep 3
victim=$("${compose[@]}" ps -q worker | head -1)
docker kill "$victim" >/dev/null && echo "killed worker container ${victim:0:12} mid-job"
"$build/cli/replexctl" --gateway="$gateway" watch "$id"
echo "job $id finished after a worker was killed; $(elapsed) in all"

# The same example through the gateway with `replexctl call`, which knows no
# replex type and learns them all by server reflection (as grpcurl would,
# with the same JSON: docs/api.md).
dir=$source_dir/examples/harmonic-oscillator
call() { "$build/cli/replexctl" --gateway="$gateway" call "$@"; }
id=$(jq -n --rawfile system "$dir/system.xml" --rawfile state "$dir/state.xml" '{
  spec: {name: "harmonic-oscillator", owner: "docker-stack-test",
         system_xml: $system, state_xml: $state, platform: "Reference", seed: 2026,
         integrator: {timestep_ps: 0.002, friction_per_ps: 20},
         ladder: {n_rungs: 4, temperature_range_k: {min: 300, max: 600, spacing: "GEOMETRIC"}},
         exchange: {scheme: "NEIGHBORS", steps_per_exchange: 50, n_rounds: 2000}}}' |
  call replex.v1.JobService/SubmitJob - | jq -r .jobId)
echo "submitted $id through $gateway with replexctl call (reflection only)"
for _ in $(seq 1 60); do
  job_state=$(call replex.v1.JobService/GetJob "{\"job_id\": \"$id\"}" | jq -r .state)
  case $job_state in
    SUCCEEDED) break ;;
    FAILED | CANCELLED) call replex.v1.JobService/GetJob "{\"job_id\": \"$id\"}"; fail "job $id $job_state" ;;
  esac
  sleep 2
done
[ "$job_state" = SUCCEEDED ] || fail "job $id still $job_state after 120 s"
echo "job $id SUCCEEDED, read with replexctl call; $(elapsed) in all"
