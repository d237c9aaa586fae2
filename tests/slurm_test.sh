#!/usr/bin/env bash
# The Slurm route (deploy/slurm/) on a real Slurm: munged, slurmctld and one
# slurmd started here as root on free ports with a private configuration,
# then stopped.
#
#  1. deploy/slurm/replex-run.sbatch: a `replex run` that is warned with
#     SIGTERM (what --signal sends before the time limit) stops at a
#     checkpoint, requeues itself and resumes; then replex is killed without
#     warning (SIGKILL mid-round, as in a crash) and the failed job requeued,
#     and it resumes from its last periodic checkpoint. Its exchange log must equal
#     an uninterrupted run's byte for byte (Reference).
#  2. deploy/slurm/replex-cluster.sbatch with two worker steps: one job
#     survives `scancel` of a worker step, another a requeue of the whole
#     allocation; both exchange logs must equal uninterrupted runs'.
#
# Usage: tests/slurm_test.sh BUILD_DIR. Exit 77 (skipped) when not root or
# Slurm cannot be installed.
set -euo pipefail
build=$(cd "$1" && pwd)
root=$(cd "$(dirname "$0")/.." && pwd)

skip() { echo "SKIPPED: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "starting slurmctld and slurmd needs root"
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge \
    >/dev/null 2>&1 || skip "slurm-wlm and munge are not installed"
fi

dir=$(mktemp -d /tmp/replex-slurm.XXXXXX)
export SLURM_CONF=$dir/slurm.conf
cleanup() {
  local rc=$?
  if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
    for f in "$dir"/*.log "$dir"/*.out "$dir"/cluster/run-*/*.log; do
      [ -f "$f" ] && { echo "---- $f"; tail -n 30 "$f"; }
    done
  fi
  scancel --user=root >/dev/null 2>&1 || true
  # The daemons stay until the jobs have ended: a step daemon whose slurmd
  # is gone would wait for it forever.
  for _ in $(seq 1 100); do
    [ -z "$(squeue -h 2>/dev/null)" ] && break
    sleep 0.2
  done
  sleep 1
  for p in slurmd slurmctld munged; do
    [ -s "$dir/$p.pid" ] && kill "$(cat "$dir/$p.pid")" 2>/dev/null || true
  done
  sleep 1
  # Whatever is still left of ours: processes naming the directory, and the
  # step daemons, whose working directory it is.
  pkill -KILL -f "$dir" 2>/dev/null || true
  for proc in /proc/[0-9]*; do
    case $(readlink "$proc/cwd" 2>/dev/null) in
      "$dir" | "$dir"/* | "$dir (deleted)") kill -KILL "${proc#/proc/}" 2>/dev/null || true ;;
    esac
  done
  rm -rf "$dir"
}
trap cleanup EXIT

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
wait_until() {  # seconds, description, command...
  local seconds=$1 what=$2; shift 2
  for _ in $(seq 1 $((seconds * 5))); do "$@" && return 0; sleep 0.2; done
  echo "FAILED: timed out after ${seconds}s waiting for $what" >&2
  exit 1
}
job_state() { scontrol show job "$1" -o 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
in_state() { [ "$(job_state "$1")" = "$2" ]; }
rows() { [ -f "$1" ] && echo $(( $(wc -l <"$1") - 1 )) || echo 0; }
has_rows() { [ "$(rows "$1")" -ge "$2" ]; }
# After a requeue Slurm holds the job back (BeginTime); let it start, but
# not within the second of the requeue: slurmd revokes the old run's
# credential by its time stamp, in whole seconds, and a new one from the
# same second is refused ("Job credential revoked").
start_now() {
  wait_until 30 "job $1 to be requeued" in_state "$1" PENDING
  sleep 2
  scontrol update JobId="$1" StartTime=now
}

# munge, slurmctld and slurmd of our own.
mkdir -p "$dir/state" "$dir/spool"
head -c 1024 /dev/urandom >"$dir/munge.key"
chmod 400 "$dir/munge.key"
munged --key-file="$dir/munge.key" --socket="$dir/munge.sock" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" \
  --seed-file="$dir/munge.seed" --force
host=$(hostname -s)
cat >"$SLURM_CONF" <<EOF
ClusterName=replextest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$dir/munge.sock
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
JobRequeue=1
NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
idle() { sinfo -h -o %t 2>/dev/null | grep -q idle; }
wait_until 60 "the Slurm node to come up" idle
echo "Slurm up: $(sinfo -h -o '%P %D %t %C')"

export PATH=$build/cli:$build/coordinator:$build/gateway:$build/replica-worker:$PATH
example=$root/examples/harmonic-oscillator
write_job() {  # file, seed, rounds
  cat >"$1" <<EOF
name: slurm-harmonic
owner: tests
system: $example/system.xml
coordinates: $example/state.xml
platform: Reference
seed: $2
checkpoint_interval: 200
ladder: {n_rungs: 4, temperature_range_k: {min: 300, max: 600}}
exchange: {steps_per_exchange: 50, n_rounds: $3}
EOF
}
# The same job uninterrupted, in one process: the exchange log to match.
reference() {  # job file, out dir
  replex run "$1" --results="$2" --progress_every=-1 --threads=1 >/dev/null 2>&1
}

if [ -z "${REPLEX_SLURM_TEST_SKIP_RUN:-}" ]; then  # for debugging the cluster part
# 1. replex run in one allocation.
write_job "$dir/run.yaml" 7 30000
reference "$dir/run.yaml" "$dir/run-reference" &
id=$(sbatch --parsable --cpus-per-task=1 --output="$dir/run-%j.out" \
  --export=ALL,REPLEX_BIN_DIR="$build/cli" \
  "$root/deploy/slurm/replex-run.sbatch" "$dir/run.yaml" "$dir/run")
log=$dir/run/exchange.tsv
wait_until 60 "the first checkpoint" has_rows "$log" 2000
scancel --batch --signal=TERM "$id"   # the time limit's warning
start_now "$id"
wait_until 60 "the resumed run" in_state "$id" RUNNING
first=$(rows "$log")
wait_until 60 "progress after the resume" has_rows "$log" $((first + 2000))
# No warning: SIGKILL to replex mid-round (`scancel --signal=KILL` would be a
# cancel, which warns with SIGTERM first). The script exits 137 and the job
# fails, as after a crash; requeued, it resumes from the last checkpoint.
pkill -KILL -f -- "replex run --resume $dir/run "
wait_until 60 "the killed job to fail" in_state "$id" FAILED
scontrol requeue "$id"
start_now "$id"
wait_until 300 "the run to complete" in_state "$id" COMPLETED
wait
cmp "$dir/run-reference/exchange.tsv" "$log"
grep -q "stopped at a checkpoint; requeueing" "$dir/run-$id.out"
[ "$(grep -c "resuming $dir/run" "$dir/run-$id.out")" = 2 ]
echo "PASSED: replex-run.sbatch warned, requeued and resumed twice; exchange log equal ($(rows "$log") rounds)"
fi

# 2. The cluster recipe: two worker steps of one CPU each, every process
# started through a REPLEX_EXEC prefix (as with an Apptainer image).
gateway_port=$(free_port)
printf '#!/bin/sh\necho "$(basename "$1")" >>%s/prefixed.txt\nexec "$@"\n' "$dir" >"$dir/prefix.sh"
chmod +x "$dir/prefix.sh"
id=$(sbatch --parsable --ntasks=2 --cpus-per-task=1 --output="$dir/cluster-%j.out" \
  --export=ALL,REPLEX_STATE_DIR="$dir/cluster",REPLEX_PLATFORM=Reference,REPLEX_GATEWAY_PORT="$gateway_port",REPLEX_EXEC="$dir/prefix.sh" \
  "$root/deploy/slurm/replex-cluster.sbatch")
wait_until 60 "the gateway's address" test -s "$dir/cluster/gateway.address"
export REPLEX_GATEWAY=$(cat "$dir/cluster/gateway.address")
two_workers() {
  [ "$(grep -c 'joined' "$dir"/cluster/run-"$id".0/coordinator.log 2>/dev/null)" -ge 2 ]
}
wait_until 60 "two workers to join" two_workers
for p in replex-coordinator replex-gateway replex-worker; do
  grep -qx "$p" "$dir/prefixed.txt" || { echo "FAILED: $p did not start through REPLEX_EXEC" >&2; exit 1; }
done
state_of() { replexctl status "$1" --json 2>/dev/null | sed -n 's/.*"state": *"\([A-Z]*\)".*/\1/p'; }
succeeded() { [ "$(state_of "$1")" = SUCCEEDED ]; }

write_job "$dir/a.yaml" 21 8000
reference "$dir/a.yaml" "$dir/a-reference"
a=$(replexctl submit "$dir/a.yaml")
wait_until 60 "job $a's first rounds" has_rows "$dir/cluster/results/$a/exchange.tsv" 1000
step=$(squeue -h -s -j "$id" -o '%i %j' | awk '$2 == "replex-worker-0" {print $1}')
[ -n "$step" ] || { echo "FAILED: no replex-worker-0 step" >&2; exit 1; }
scancel "$step"
wait_until 300 "job $a to succeed after losing a worker" succeeded "$a"
cmp "$dir/a-reference/exchange.tsv" "$dir/cluster/results/$a/exchange.tsv"
grep -q "lost" "$dir/cluster/run-$id.0/coordinator.log"
echo "PASSED: the cluster recipe survived scancel of step $step; exchange log equal"

write_job "$dir/b.yaml" 22 8000
reference "$dir/b.yaml" "$dir/b-reference"
b=$(replexctl submit "$dir/b.yaml")
wait_until 60 "job $b's first rounds" has_rows "$dir/cluster/results/$b/exchange.tsv" 1000
rm -f "$dir/cluster/gateway.address"
scontrol requeue "$id"
start_now "$id"
wait_until 60 "the requeued cluster's gateway" test -s "$dir/cluster/gateway.address"
wait_until 300 "job $b to succeed after the requeue" succeeded "$b"
cmp "$dir/b-reference/exchange.tsv" "$dir/cluster/results/$b/exchange.tsv"
echo "PASSED: the cluster recipe survived a requeue of the allocation; exchange log equal"
