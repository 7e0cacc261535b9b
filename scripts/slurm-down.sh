#!/usr/bin/env bash
# Stops what scripts/slurm-up.sh started, by the pids in its pid files (never by name).
dir=${CHERVIL_SLURM_DIR:-/tmp/chervil-slurm}
bash "$(dirname "$0")/stop-pidfiles.sh" "$dir/run/slurmd.pid" "$dir/run/slurmctld.pid" /run/munge/munged.pid
echo "slurm down"
