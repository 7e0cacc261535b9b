#!/usr/bin/env bash
# Stops what scripts/slurm-up.sh started, by the pids in its pid files (never by name).
dir=${CHERVIL_SLURM_DIR:-/tmp/chervil-slurm}
for pidfile in "$dir/run/slurmd.pid" "$dir/run/slurmctld.pid" /run/munge/munged.pid; do
  [[ -s $pidfile ]] || continue
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || continue
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
done
echo "slurm down"
