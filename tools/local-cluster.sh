#!/usr/bin/env bash
# Starts or stops a replex cluster on this machine's loopback: one
# coordinator, one gateway and N workers, as background processes whose logs
# and pids live in a run directory.
#
#   tools/local-cluster.sh up [--workers N] [--slots S] [--platform P] [--gateway-port G]
#                             [--coordinator-port C] [--worker-port W] [--tokens FILE]
#   tools/local-cluster.sh down
#   tools/local-cluster.sh status
#
# Then: export REPLEX_GATEWAY=127.0.0.1:G; build/cli/replexctl submit examples/...
# --tokens FILE turns authentication on (docs/security.md): the gateway takes
# the users' tokens of FILE (lines TOKEN USER [admin]); the coordinator's
# JobService and workers' port take fresh tokens made here for the gateway
# and the workers. Then: export REPLEX_TOKEN=<a token of FILE>.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${REPLEX_BUILD_DIR:-$root/build}
run=${REPLEX_RUN_DIR:-$root/.local-cluster}

usage() { sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }

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
  local worker_port=7071 tokens=""
  while [ $# -gt 0 ]; do
    case $1 in
      --workers) workers=$2; shift 2 ;;
      --slots) slots=$2; shift 2 ;;
      --platform) platform=$2; shift 2 ;;
      --gateway-port) gateway_port=$2; shift 2 ;;
      --coordinator-port) coordinator_port=$2; shift 2 ;;
      --worker-port) worker_port=$2; shift 2 ;;
      --tokens) tokens=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  for b in coordinator/replex-coordinator gateway/replex-gateway replica-worker/replex-worker; do
    [ -x "$build/$b" ] || { echo "local-cluster: $build/$b is missing: run tools/build.sh first" >&2; exit 1; }
  done
  if ls "$run"/*.pid >/dev/null 2>&1; then
    echo "local-cluster: already up (pids in $run); run '$0 down' first" >&2; exit 1
  fi
  if [ -n "$tokens" ] && [ ! -r "$tokens" ]; then
    echo "local-cluster: --tokens $tokens cannot be read" >&2; exit 1
  fi
  mkdir -p "$run"
  rm -f "$run"/*.port "$run"/*.token "$run"/*.tokens
  local coordinator_auth=() gateway_auth=() worker_auth=()
  if [ -n "$tokens" ]; then
    # Internal credentials, new for each cluster: readable by this user only.
    (umask 077
     od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$run/gateway.token"
     echo "$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n') *" >"$run/workers.tokens"
     cut -d' ' -f1 "$run/workers.tokens" >"$run/worker.token")
    coordinator_auth=(--gateway_token_file="$run/gateway.token" --worker_tokens_file="$run/workers.tokens")
    gateway_auth=(--tokens_file="$tokens" --coordinator_token_file="$run/gateway.token")
    worker_auth=(--token_file="$run/worker.token")
  fi
  start coordinator "$build/coordinator/replex-coordinator" \
    --listen="127.0.0.1:$coordinator_port" --port_file="$run/coordinator.port" \
    --worker_listen="127.0.0.1:$worker_port" --worker_port_file="$run/coordinator.worker.port" \
    ${coordinator_auth[@]+"${coordinator_auth[@]}"}
  wait_for_file "$run/coordinator.port" 20 || { echo "local-cluster: coordinator did not start; see $run/coordinator.log" >&2; down; exit 1; }
  local coordinator="127.0.0.1:$(cat "$run/coordinator.port")"
  local worker_endpoint="127.0.0.1:$(cat "$run/coordinator.worker.port")"
  start gateway "$build/gateway/replex-gateway" --listen="127.0.0.1:$gateway_port" \
    --coordinator="$coordinator" --port_file="$run/gateway.port" \
    ${gateway_auth[@]+"${gateway_auth[@]}"}
  wait_for_file "$run/gateway.port" 20 || { echo "local-cluster: gateway did not start; see $run/gateway.log" >&2; down; exit 1; }
  for i in $(seq 1 "$workers"); do
    start "worker-$i" "$build/replica-worker/replex-worker" --coordinator="$worker_endpoint" \
      --name="worker-$i" --slots="$slots" --platform="$platform" \
      --metrics_listen=127.0.0.1:0 --metrics_port_file="$run/worker-$i.metrics.port" \
      ${worker_auth[@]+"${worker_auth[@]}"}
  done
  echo "local-cluster: coordinator $coordinator (workers $worker_endpoint), gateway 127.0.0.1:$(cat "$run/gateway.port"), $workers $platform workers, authentication $([ -n "$tokens" ] && echo "on ($tokens)" || echo off); logs in $run"
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
