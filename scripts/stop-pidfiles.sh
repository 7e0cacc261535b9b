#!/usr/bin/env bash
# Stops the processes whose pids are in the given pid files (never by name): TERM,
# then up to 10 s for each to exit. Missing or empty files are skipped.
for pidfile in "$@"; do
  [[ -s $pidfile ]] || continue
  pid=$(cat "$pidfile")
  kill "$pid" 2>/dev/null || continue
  for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
done
