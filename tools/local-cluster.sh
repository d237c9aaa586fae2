#!/usr/bin/env bash
# Starts or stops a replex cluster on this machine's loopback: one
# coordinator, one gateway and N workers, as background processes whose logs
# and pids live in a run directory.
#
#   tools/local-cluster.sh up [--workers N] [--slots S] [--platform P] [--gateway-port G] [--coordinator-port C]
#   tools/local-cluster.sh down
#   tools/local-cluster.sh status
#
# Then: export REPLEX_GATEWAY=127.0.0.1:G; build/cli/replexctl submit examples/...
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${REPLEX_BUILD_DIR:-$root/build}
run=${REPLEX_RUN_DIR:-$root/.local-cluster}

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

wait_for_file() {  # path, seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do [ -s "$1" ] && return 0; sleep 0.1; done
  return 1
}

start() {  # name, command...
  local name=$1; shift
  "$@" >"$run/$name.log" 2>&1 &
  echo $! >"$run/$name.pid"
}

up() {
  local workers=2 slots=1 platform=CPU gateway_port=8080 coordinator_port=7070
  while [ $# -gt 0 ]; do
    case $1 in
      --workers) workers=$2; shift 2 ;;
      --slots) slots=$2; shift 2 ;;
      --platform) platform=$2; shift 2 ;;
      --gateway-port) gateway_port=$2; shift 2 ;;
      --coordinator-port) coordinator_port=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  for b in coordinator/replex-coordinator gateway/replex-gateway replica-worker/replex-worker; do
    [ -x "$build/$b" ] || { echo "local-cluster: $build/$b is missing: run tools/build.sh first" >&2; exit 1; }
  done
  if ls "$run"/*.pid >/dev/null 2>&1; then
    echo "local-cluster: already up (pids in $run); run '$0 down' first" >&2; exit 1
  fi
  mkdir -p "$run"
  rm -f "$run"/*.port
  start coordinator "$build/coordinator/replex-coordinator" \
    --listen="127.0.0.1:$coordinator_port" --port_file="$run/coordinator.port"
  wait_for_file "$run/coordinator.port" 20 || { echo "local-cluster: coordinator did not start; see $run/coordinator.log" >&2; down; exit 1; }
  local coordinator="127.0.0.1:$(cat "$run/coordinator.port")"
  start gateway "$build/gateway/replex-gateway" --listen="127.0.0.1:$gateway_port" \
    --coordinator="$coordinator" --port_file="$run/gateway.port"
  wait_for_file "$run/gateway.port" 20 || { echo "local-cluster: gateway did not start; see $run/gateway.log" >&2; down; exit 1; }
  for i in $(seq 1 "$workers"); do
    start "worker-$i" "$build/replica-worker/replex-worker" --coordinator="$coordinator" \
      --name="worker-$i" --slots="$slots" --platform="$platform" \
      --metrics_listen=127.0.0.1:0 --metrics_port_file="$run/worker-$i.metrics.port"
  done
  echo "local-cluster: coordinator $coordinator, gateway 127.0.0.1:$(cat "$run/gateway.port"), $workers $platform workers; logs in $run"
  echo "export REPLEX_GATEWAY=127.0.0.1:$(cat "$run/gateway.port")"
}

down() {
  shopt -s nullglob
  local pids=()
  # Workers first so they drain and deregister while the coordinator is up.
  for f in "$run"/worker-*.pid "$run"/gateway.pid "$run"/coordinator.pid; do
    pid=$(cat "$f"); rm -f "$f"
    kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  echo "local-cluster: down (${#pids[@]} processes stopped)"
}

status() {
  shopt -s nullglob
  for f in "$run"/*.pid; do
    name=$(basename "$f" .pid)
    if kill -0 "$(cat "$f")" 2>/dev/null; then echo "$name: running (pid $(cat "$f"))"; else echo "$name: exited; see $run/$name.log"; fi
  done
}

case ${1:-} in
  up) shift; up "$@" ;;
  down) down ;;
  status) status ;;
  *) usage ;;
esac
