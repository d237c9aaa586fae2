#!/usr/bin/env bash
# The docker-compose stack for real: a private dockerd, the image built
# offline (deploy/docker/offline-image.sh), coordinator + gateway + 2 workers
# up and healthy, every binary's --help in the image, the harmonic-oscillator
# example submitted through the gateway with replexctl and finished, with a
# worker container killed mid-job. Runs only with REPLEX_DOCKER_TEST=1, as
# root, with docker.io, docker-compose and debootstrap installed; otherwise
# exits 77 (skipped) saying why.
#   docker_stack_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
source_dir=$1 build=$2
skip() { echo "SKIP: $*"; exit 77; }
[ "${REPLEX_DOCKER_TEST:-0}" = 1 ] || skip "set REPLEX_DOCKER_TEST=1 to run the docker stack test (minutes)"
[ "$(id -u)" -eq 0 ] || skip "needs root to start a private dockerd"
for tool in dockerd docker docker-compose debootstrap; do
  command -v $tool >/dev/null || skip "$tool is not installed"
done

state=$(mktemp -d /tmp/replex-docker.XXXXXX)
export DOCKER_HOST=unix://$state/docker.sock
export COMPOSE_PROJECT_NAME=replextest$$ REPLEX_TAG=test$$ REPLEX_GATEWAY_PORT=0
# The example job runs on the Reference platform.
export REPLEX_WORKER_PLATFORM=Reference
compose=(docker-compose -f "$source_dir/deploy/docker-compose.yml")
dockerd --data-root "${REPLEX_DOCKER_DATA_ROOT:-/var/lib/replex-docker/data}" \
  --exec-root "$state/exec" --host "$DOCKER_HOST" --pidfile "$state/docker.pid" \
  >"$state/dockerd.log" 2>&1 &
dockerd_pid=$!
cleanup() {
  "${compose[@]}" down -v --remove-orphans >/dev/null 2>&1 || true
  kill "$dockerd_pid" 2>/dev/null && wait "$dockerd_pid" 2>/dev/null || true
  rm -rf "$state"
}
trap cleanup EXIT
for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
docker info >/dev/null 2>&1 || skip "dockerd did not start: $(tail -3 "$state/dockerd.log")"

start=$(date +%s)
image=replex:${REPLEX_TAG}-cpu
"$source_dir/deploy/docker/offline-image.sh" "$build" "$image"
for b in replex replexctl replex-coordinator replex-gateway replex-worker; do
  docker run --rm "$image" $b --help >/dev/null 2>&1 ||
    [ $? -eq 1 ] || { echo "FAIL: $b --help in $image"; exit 1; }  # absl's --help exits 1
done
echo "every binary runs --help in $image"

"${compose[@]}" up -d --no-build --scale worker=2 coordinator gateway worker
healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$1")" = healthy ]; }
for _ in $(seq 1 90); do
  all=1
  for c in $("${compose[@]}" ps -q coordinator gateway worker); do healthy "$c" || all=0; done
  [ $all = 1 ] && break; sleep 2
done
"${compose[@]}" ps
[ $all = 1 ] || { echo "FAIL: not every container became healthy"; "${compose[@]}" logs --tail 20; exit 1; }
echo "coordinator, gateway and 2 workers healthy after $(( $(date +%s) - start )) s"

gateway=127.0.0.1:$("${compose[@]}" port gateway 8080 | cut -d: -f2)
id=$("$build/cli/replexctl" --gateway="$gateway" submit "$source_dir/examples/harmonic-oscillator/job.yaml")
echo "submitted $id through $gateway"
sleep 3
victim=$("${compose[@]}" ps -q worker | head -1)
docker kill "$victim" >/dev/null && echo "killed worker container ${victim:0:12} mid-job"
"$build/cli/replexctl" --gateway="$gateway" watch "$id"
echo "job $id finished after a worker was killed; $(( $(date +%s) - start )) s in all"
