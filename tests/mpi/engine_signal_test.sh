#!/usr/bin/env bash
# A real signal through the launcher: SIGUSR1 sent to mpirun (as Slurm's --signal would send to
# the job step) reaches every rank; each finishes the task in hand, the run stops with exit code
# 4, the committed shards stay, and a rerun completes the run reusing them.
#   engine_signal_test.sh MPIEXEC DRIVER RANKS
set -euo pipefail
MPIEXEC=$1 DRIVER=$2 RANKS=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
DIR=$(mktemp -d /tmp/geoshard-signal-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
"$MPIEXEC" --oversubscribe -np "$RANKS" "$DRIVER" "$DIR" > "$DIR/first.out" 2>&1 &
pid=$!
# Wait for the first committed shard, then signal the launcher.
for _ in $(seq 1 300); do
  if compgen -G "$DIR/run/shards/task-*.h5" > /dev/null; then break; fi
  sleep 0.05
done
kill -USR1 "$pid"
rc=0; wait "$pid" || rc=$?
cat "$DIR/first.out"
[ "$rc" = 4 ] || { echo "FAIL: interrupted run exited $rc, expected 4"; exit 1; }
grep -q interrupted "$DIR/first.out" || { echo "FAIL: run not reported as interrupted"; exit 1; }
kept=$(ls "$DIR/run/shards" | grep -c '^task-' || true)
[ "$kept" -ge 1 ] || { echo "FAIL: no committed shard kept"; exit 1; }
ls -a "$DIR/run/shards" | grep -q '^\.tmp-' && { echo "FAIL: temporary left behind"; exit 1; }
"$MPIEXEC" --oversubscribe -np "$RANKS" "$DRIVER" "$DIR" > "$DIR/second.out" 2>&1 || { cat "$DIR/second.out"; echo "FAIL: rerun failed"; exit 1; }
cat "$DIR/second.out"
grep -q "reused $kept\b" "$DIR/second.out" || { echo "FAIL: rerun did not reuse the $kept committed shards"; exit 1; }
echo "OK: interrupted with $kept shards kept; rerun reused them"
