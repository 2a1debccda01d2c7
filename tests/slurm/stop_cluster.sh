#!/usr/bin/env bash
# Stops the daemons that tests/slurm/start_cluster.sh started, by the PIDs it recorded, and nothing
# else. The packages and /etc/slurm/slurm.conf stay (the config must stay while slurm-client is
# installed: without it SLURM commands would look the controller up in DNS).
set -euo pipefail

STATE_DIR=${NNQFT_SLURM_STATE:-/run/nnqft-slurm}
log() { echo "[stop_cluster] $*" >&2; }

if [ ! -f "$STATE_DIR/pids" ]; then
  log "no cluster started by start_cluster.sh is recorded in $STATE_DIR/pids: nothing to stop"
  exit 0
fi

# Reverse order: slurmd, slurmctld, then munged.
tac "$STATE_DIR/pids" | while read -r name pid; do
  if kill -0 "$pid" 2>/dev/null && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ]; then
    kill -TERM "$pid"
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && { log "$name ($pid) ignored SIGTERM: SIGKILL"; kill -KILL "$pid"; }
    log "stopped $name ($pid)"
  else
    log "$name ($pid) is not running"
  fi
done
rm -f "$STATE_DIR/pids"
