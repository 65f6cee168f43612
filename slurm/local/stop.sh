#!/usr/bin/env bash
# Stops the cluster that slurm/local/start.sh DIR started, by the PIDs it saved.
#   slurm/local/stop.sh DIR
set -uo pipefail
B=$1
for f in slurmd.daemon slurmctld.daemon munged; do
  p="$B/run/$f.pid"
  [ -f "$p" ] || continue
  pid=$(cat "$p")
  if kill "$pid" 2>/dev/null; then
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$p"
done
