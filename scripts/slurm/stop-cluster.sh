#!/usr/bin/env bash
# scripts/slurm/stop-cluster.sh [DIR] [--purge]
#
# Stops the cluster scripts/slurm/start-cluster.sh started in DIR: cancels its jobs, shuts
# slurmctld and slurmd down, stops munged if the start script started it, removes the
# /etc/slurm/slurm.conf link if it points into DIR; --purge also deletes DIR. Only processes whose
# pids the daemons recorded in DIR (and job processes under DIR) are signalled. Safe to run twice.
set -uo pipefail

DIR="${TMPDIR:-/tmp}/flopsfit-slurm"
PURGE=0
for a in "$@"; do
  case "$a" in --purge) PURGE=1;; *) DIR="$a";; esac
done
CONF="$DIR/slurm.conf"
export SLURM_CONF="$CONF"
log() { echo "[flopsfit-slurm stop] $*" >&2; }
alive() { [ -s "$1" ] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }
wait_gone() { # pidfile seconds
  local pid; pid=$(cat "$1" 2>/dev/null) || return 0
  for _ in $(seq 1 $(( $2 * 10 ))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  return 1
}

if [ -f "$CONF" ] && alive "$DIR/run/slurmctld.pid"; then
  # 1. cancel all jobs (running ones get SIGCONT+SIGTERM, SIGKILL after KillWait)
  jobs=$(squeue -h -o '%A' 2>/dev/null | sort -u | tr '\n' ' ')
  if [ -n "${jobs// /}" ]; then
    log "cancelling jobs: $jobs"
    # shellcheck disable=SC2086
    scancel $jobs 2>/dev/null
    kw=$(scontrol show config 2>/dev/null | awk '/^KillWait/ {print $3}')
    for _ in $(seq 1 $(( (${kw:-30} + 15) * 5 ))); do
      [ -z "$(squeue -h -o '%A' 2>/dev/null)" ] && break; sleep 0.2
    done
  fi
  # 2. orderly shutdown of slurmctld and slurmd (state is saved to DIR/state)
  scontrol shutdown >/dev/null 2>&1
fi

for pf in "$DIR/run/slurmctld.pid" "$DIR/run/slurmd.pid"; do
  d=$(basename "$pf" .pid)
  if [ "$d" != slurmctld ] && [ "$d" != slurmd ] && alive "$pf"; then kill "$(cat "$pf")"; fi
  if alive "$pf"; then
    wait_gone "$pf" 15 || { log "$d did not exit, sending SIGTERM"; kill "$(cat "$pf")"; wait_gone "$pf" 10 \
      || { log "$d still alive, SIGKILL"; kill -9 "$(cat "$pf")"; }; }
  fi
  rm -f "$pf"
done

# Leftovers: a slurmstepd of this cluster (its cwd is inside DIR) that outlived slurmd,
# e.g. because a job could not be cancelled; end it and the job processes under it.
tree() { local c; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do tree "$c"; done; echo "$1"; }
left=""
for p in /proc/[0-9]*; do
  [ "$(cat "$p/comm" 2>/dev/null)" = slurmstepd ] || continue
  case "$(readlink "$p/cwd" 2>/dev/null)" in "$DIR"|"$DIR"/*) left="$left $(tree "${p#/proc/}" | tr '\n' ' ')";; esac
done
if [ -n "${left// /}" ]; then
  log "leftover job processes:$left - SIGTERM, then SIGKILL"
  # shellcheck disable=SC2086
  kill $left 2>/dev/null; sleep 3
  for p in $left; do kill -0 "$p" 2>/dev/null && kill -9 "$p" 2>/dev/null; done
fi

if [ -f "$DIR/run/munged.owner" ]; then
  if alive /run/munge/munged.pid; then
    kill "$(cat /run/munge/munged.pid)"; wait_gone /run/munge/munged.pid 10 || log "munged did not exit"
  fi
  rm -f "$DIR/run/munged.owner"
fi

if [ -L /etc/slurm/slurm.conf ] && [ "$(readlink /etc/slurm/slurm.conf)" = "$CONF" ]; then
  rm -f /etc/slurm/slurm.conf
fi
if [ "$PURGE" = 1 ] && [ -d "$DIR" ]; then rm -rf "$DIR"; fi
log "stopped ($DIR)"
