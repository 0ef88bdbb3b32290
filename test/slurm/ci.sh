#!/usr/bin/env bash
# CI step: a real one-node Slurm cluster (scripts/slurm/start-cluster.sh installs slurm-wlm's
# daemons and munge with apt-get when missing), the Slurm end-to-end suite, then teardown.
# Daemon logs are printed when the suite fails. Needs root and dist/ (npm run build).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
DIR=$(mktemp -d /tmp/flopsfit-slurm-ci.XXXXXX)
export FLOPSFIT_SLURM_CPUS=${FLOPSFIT_SLURM_CPUS:-8} FLOPSFIT_SLURM_PORT=${FLOPSFIT_SLURM_PORT:-6917}
cleanup() { bash scripts/slurm/stop-cluster.sh "$DIR" --purge || true; }
trap cleanup EXIT
eval "$(bash scripts/slurm/start-cluster.sh "$DIR" | tail -n 1)"
if ! node test/slurm/e2e.mjs "$@"; then
  echo "--- slurmctld.log (tail)"; tail -40 "$DIR/log/slurmctld.log" || true
  echo "--- slurmd.log (tail)"; tail -40 "$DIR/log/slurmd.log" || true
  exit 1
fi
