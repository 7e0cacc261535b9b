#!/usr/bin/env bash
# Stops what scripts/gridengine-up.sh started, by the pids in their pid files (never by name).
bash "$(dirname "$0")/stop-pidfiles.sh" /var/spool/gridengine/execd/*/execd.pid /var/spool/gridengine/qmaster/qmaster.pid
echo "grid engine down"
