#!/usr/bin/env bash
# scripts/slurm/start-cluster.sh [DIR]
#
# Starts a real one-node Slurm cluster on localhost (munged + slurmctld + slurmd, Debian 12's
# Slurm 22.05) as root, without systemd, for FlopsFit's Slurm end-to-end tests and benchmark
# (test/slurm/e2e.mjs, bench/slurm.mjs). Installs the packages with apt-get when they are missing.
# Idempotent: a cluster already up in DIR is reused. Stop it with scripts/slurm/stop-cluster.sh DIR.
#
#   DIR   config/state/log/spool directory (created; default ${TMPDIR:-/tmp}/flopsfit-slurm)
#
# Environment (all optional):
#   FLOPSFIT_SLURM_PORT=P       slurmctld port P, slurmd P+1 (default 6817)
#   FLOPSFIT_SLURM_CPUS=N       advertise N CPUs (more concurrent one-CPU tasks than cores)
#   FLOPSFIT_SLURM_KILLWAIT=S   seconds between SIGTERM and SIGKILL on cancel/time limit (default 10)
#   FLOPSFIT_SLURM_MINJOBAGE=S  seconds a finished job stays visible to squeue (default 300)
#   FLOPSFIT_SLURM_ETC=1        also link /etc/slurm/slurm.conf to DIR/slurm.conf (default 0:
#                               clients use SLURM_CONF, so other clusters on the machine are untouched)
#   FLOPSFIT_SLURM_NO_INSTALL=1 never call apt-get
#
# Recipe and pitfalls: measured on Debian 12 (see the README's "Running on a Slurm cluster").
# Prints, as its last line:  export SLURM_CONF=DIR/slurm.conf
set -euo pipefail

DIR="${1:-${TMPDIR:-/tmp}/flopsfit-slurm}"
KILLWAIT="${FLOPSFIT_SLURM_KILLWAIT:-10}"
MINJOBAGE="${FLOPSFIT_SLURM_MINJOBAGE:-300}"
PORT="${FLOPSFIT_SLURM_PORT:-6817}"
CRED_EXPIRE="${FLOPSFIT_SLURM_CRED_EXPIRE:-10}"
SCHED="${FLOPSFIT_SLURM_SCHED-bf_interval=2,sched_interval=5}"
CONF="$DIR/slurm.conf"
t0=$EPOCHREALTIME
log() { awk -v a="$t0" -v b="$EPOCHREALTIME" -v m="$*" 'BEGIN{printf "[flopsfit-slurm %6.1fs] %s\n", b-a, m}' >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root"
mkdir -p "$DIR"/{state,spool,log,run}
chmod 0755 "$DIR"

# ---------------------------------------------------------------- packages
PKGS="slurmctld slurmd slurm-client munge"
BINS="slurmctld slurmd sbatch squeue sacct scontrol munged munge"
need_pkgs=0
for b in $BINS; do
  command -v "$b" >/dev/null 2>&1 || need_pkgs=1
done
if [ "$need_pkgs" = 1 ]; then
  [ "${FLOPSFIT_SLURM_NO_INSTALL:-0}" = 1 ] && die "Slurm/munge not installed and FLOPSFIT_SLURM_NO_INSTALL=1"
  log "installing $PKGS (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  # The packages' postinst scripts try to start the daemons through invoke-rc.d;
  # without systemd/runlevel that is refused or fails harmlessly. We start them below.
  # shellcheck disable=SC2086
  if ! apt-get install -y --no-install-recommends $PKGS >"$DIR/log/apt.log" 2>&1; then
    apt-get update >>"$DIR/log/apt.log" 2>&1
    # shellcheck disable=SC2086
    apt-get install -y --no-install-recommends $PKGS >>"$DIR/log/apt.log" 2>&1 \
      || { tail -20 "$DIR/log/apt.log" >&2; die "apt-get install failed"; }
  fi
  log "installed slurmctld $(dpkg-query -W -f='${Version}' slurmctld)"
fi

# ---------------------------------------------------------------- already up?
alive() { [ -s "$1" ] && kill -0 "$(cat "$1" 2>/dev/null)" 2>/dev/null; }
if [ -f "$CONF" ] && alive "$DIR/run/slurmctld.pid" && alive "$DIR/run/slurmd.pid" \
   && SLURM_CONF="$CONF" scontrol ping 2>/dev/null | grep -q 'is UP'; then
  log "cluster in $DIR already running"
  echo "export SLURM_CONF=$CONF"
  exit 0
fi

# ---------------------------------------------------------------- munge
# Uses the system key (/etc/munge/munge.key, made by the package) and the default
# socket /run/munge/munge.socket.2, exactly like a real node. Reuses a running munged.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    mungekey --create --keyfile=/etc/munge/munge.key
  fi
  chown munge:munge /etc/munge /etc/munge/munge.key; chmod 0700 /etc/munge; chmod 0600 /etc/munge/munge.key
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  chmod 0755 /run/munge
  runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
  echo "started-by-harness" > "$DIR/run/munged.owner"
  for _ in $(seq 1 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null || die "munged did not come up (see /var/log/munge/munged.log)"
  log "munged started (pid $(cat /run/munge/munged.pid))"
else
  log "munged already running; reusing it"
fi

# ---------------------------------------------------------------- slurm.conf
# Real hardware of this machine, as slurmd itself sees it.
hw=$(slurmd -C | head -1)
get() { echo "$hw" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
CPUS=$(get CPUs); BOARDS=$(get Boards); SPB=$(get SocketsPerBoard)
CPS=$(get CoresPerSocket); TPC=$(get ThreadsPerCore); MEM=$(get RealMemory)
OVERRIDE=""
if [ -n "${FLOPSFIT_SLURM_CPUS:-}" ]; then
  CPUS="$FLOPSFIT_SLURM_CPUS"; BOARDS=1; SPB=1; CPS="$FLOPSFIT_SLURM_CPUS"; TPC=1
  OVERRIDE="SlurmdParameters=config_overrides"
fi
ACCOUNTING="# No slurmdbd: sacct answers 'Slurm accounting storage is disabled' (exit 1).
AccountingStorageType=accounting_storage/none"
TRACKING="# No cgroups, no systemd: track job processes through the /proc parent tree.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# Memory accounting by polling /proc every 2 s; steps above --mem are killed.
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=task=2
JobAcctGatherParams=OverMemoryKill"
cat > "$CONF" <<EOF
# Written by scripts/slurm/start-cluster.sh: one-node test cluster on localhost.
ClusterName=flopsfit
SlurmctldHost=localhost
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
# cred_expire also delays a requeued job's restart (Slurm default 120 s)
AuthInfo=cred_expire=$CRED_EXPIRE
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
$TRACKING
# Per-core scheduling so several 1-CPU jobs share the node; memory is consumable too,
# with a small default per CPU so jobs without --mem do not take the whole node.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=512
SchedulerType=sched/backfill
${SCHED:+SchedulerParameters=$SCHED}
$ACCOUNTING
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/log/jobcomp.txt
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
KillWait=$KILLWAIT
MinJobAge=$MINJOBAGE
InactiveLimit=0
SlurmdTimeout=120
$OVERRIDE
NodeName=localhost CPUs=$CPUS Boards=$BOARDS SocketsPerBoard=$SPB CoresPerSocket=$CPS ThreadsPerCore=$TPC RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

if [ "${FLOPSFIT_SLURM_ETC:-0}" != 0 ]; then
  mkdir -p /etc/slurm
  if [ -e /etc/slurm/slurm.conf ] && [ ! -L /etc/slurm/slurm.conf ]; then
    log "WARNING: /etc/slurm/slurm.conf exists and is not ours; left alone (clients need SLURM_CONF)"
  else
    ln -sfn "$CONF" /etc/slurm/slurm.conf
  fi
fi
export SLURM_CONF="$CONF"

# ---------------------------------------------------------------- daemons
# Stale pid files from a crashed run are harmless: both daemons overwrite them.
if ! alive "$DIR/run/slurmctld.pid"; then
  slurmctld -f "$CONF"            # forks into the background, writes the pid file
fi
for _ in $(seq 1 100); do scontrol ping 2>/dev/null | grep -q 'is UP' && break; sleep 0.2; done
scontrol ping | grep -q 'is UP' || { tail -20 "$DIR/log/slurmctld.log" >&2; die "slurmctld not up"; }
log "slurmctld up (pid $(cat "$DIR/run/slurmctld.pid"))"

if ! alive "$DIR/run/slurmd.pid"; then
  slurmd -f "$CONF" -N localhost   # NodeName is not the hostname, so name it
fi
state=""
for _ in $(seq 1 300); do
  state=$(sinfo -h -N -n localhost -o '%T' 2>/dev/null || true)
  case "$state" in idle|mixed|allocated) break;; esac
  sleep 0.2
done
case "$state" in
  idle|mixed|allocated) ;;
  *) tail -20 "$DIR/log/slurmd.log" >&2; die "node state is '$state', not idle";;
esac
log "node localhost is $state: $(sinfo -h -N -o '%N cpus=%c mem=%m %T')"
echo "export SLURM_CONF=$CONF"
