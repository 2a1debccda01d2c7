#!/usr/bin/env bash
# Installs and starts a real single-node SLURM cluster on this machine (Debian 12, as root, no systemd):
# munged, slurmctld and slurmd from Debian's packages, all on 127.0.0.1. Waits until `sinfo` shows the
# node idle. tests/slurm/stop_cluster.sh ends exactly the daemons this script started (by their PIDs).
#
# Safety: a SLURM client that finds no config does DNS SRV lookups (network traffic). So the config is
# written to /etc/slurm/slurm.conf BEFORE the packages are installed and before any SLURM command runs;
# the jobstep plugin strips SLURM_CONF inside jobs, so /etc/slurm is the only place that works.
# An existing slurm.conf that this script did not write is never touched.
set -euo pipefail

STATE_DIR=${NNQFT_SLURM_STATE:-/run/nnqft-slurm}
CONF=${NNQFT_SLURM_CONF:-/etc/slurm/slurm.conf}   # overridden only by the test of the refusal below
MARKER="# written by nnqft tests/slurm/start_cluster.sh"
CPUS=${NNQFT_SLURM_CPUS:-8}            # advertised CPUs: a group of K components asks for K of them
MEMORY_MB=${NNQFT_SLURM_MEMORY_MB:-16000}

log() { echo "[start_cluster] $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "must run as root (installs Debian packages, starts daemons)"

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

if [ -f "$STATE_DIR/pids" ]; then
  running=1
  while read -r name pid; do alive "$pid" || running=0; done < "$STATE_DIR/pids"
  if [ "$running" = 1 ]; then
    log "already running (PIDs in $STATE_DIR/pids)"
    exit 0
  fi
  die "a previous cluster is partly running: run tests/slurm/stop_cluster.sh first"
fi

# 1. The config, before anything SLURM is installed or run.
if [ -e "$CONF" ] && ! grep -qxF "$MARKER" "$CONF"; then
  die "$CONF exists and was not written by this script: refusing to replace a real cluster's config"
fi
HOST=$(hostname -s)
mkdir -p "$(dirname "$CONF")"
cat > "$CONF.tmp" <<EOF
$MARKER
# A single-node test cluster on loopback; see tests/slurm/start_cluster.sh.
ClusterName=nnqft
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
ReturnToService=2
MinJobAge=300
SlurmdParameters=config_overrides
NodeName=$HOST NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEMORY_MB State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
mv "$CONF.tmp" "$CONF"
log "wrote $CONF"

# 2. The packages; services must not be started by the package scripts (no systemd, we start them).
need=()
for pkg in slurmctld slurmd slurm-client munge; do
  dpkg-query -W -f '${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null \
    || { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; }
  [ "$created_policy" = 1 ] && rm -f /usr/sbin/policy-rc.d
fi

mkdir -p "$STATE_DIR" /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
: > "$STATE_DIR/pids.tmp"

# 3. munged as the munge user, with its own key.
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  chown munge:munge /etc/munge/munge.key && chmod 0400 /etc/munge/munge.key
fi
rm -f /run/munge/munged.pid
runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
pid_of() {  # waits for a daemon's PID file
  for _ in $(seq 100); do [ -s "$1" ] && { cat "$1"; return 0; }; sleep 0.1; done
  return 1
}
echo "munged $(pid_of /run/munge/munged.pid)" >> "$STATE_DIR/pids.tmp" || die "munged did not start"

# 4. slurmctld and slurmd (they daemonize and write their PID files).
rm -f /run/slurmctld.pid /run/slurmd.pid
slurmctld -i || die "slurmctld did not start: see /var/log/slurm/slurmctld.log"
echo "slurmctld $(pid_of /run/slurmctld.pid)" >> "$STATE_DIR/pids.tmp" || die "slurmctld wrote no PID file"
slurmd || die "slurmd did not start: see /var/log/slurm/slurmd.log"
echo "slurmd $(pid_of /run/slurmd.pid)" >> "$STATE_DIR/pids.tmp" || die "slurmd wrote no PID file"
mv "$STATE_DIR/pids.tmp" "$STATE_DIR/pids"

# 5. Wait for the node to be idle.
for _ in $(seq 120); do
  state=$(timeout 5 sinfo -h -N -o %T 2>/dev/null | head -1 || true)
  if [ "$state" = idle ]; then
    log "node $HOST idle ($CPUS CPUs advertised, partition debug); PIDs in $STATE_DIR/pids"
    exit 0
  fi
  sleep 0.5
done
die "node not idle after 60 s (state: ${state:-none}); see /var/log/slurm/"
