#!/usr/bin/env bash
# The output lost or full mid-run costs only time (reliability issue, item 6). localise runs on
# 2 ranks with small tasks (about 1,800 shards); reference: an uninterrupted run's map.
#  1. The run folder disappears mid-run (moved away, as an operator or a cleaner would):
#     the job exits 1 (never a crash) with an error naming the shard path it could not write;
#     every shard left under a final name is committed; once the folder is back, the rerun
#     reuses every committed shard, computes only the rest, and gives the identical map.
#  2. The disk fills mid-run (a tmpfs smaller than the run; 3 rounds): exit 1 naming the file and "No
#     space left on device"; no partial shard visible; after the disk grows (remount), the rerun
#     reuses every committed shard and gives the identical map.
#  3. gather onto a full disk: exit 1 with a clear error, and no partial map left under the
#     output name (a later gather to a good place works).
# Parts 2 and 3 need to mount a tmpfs (root); without it they are skipped with a message.
#   output_lost_test.sh GEOSHARD MPIEXEC
set -euo pipefail
G=$1
MPIEXEC=$2
. "$(dirname "$0")/../testing/run_lib.sh"
W=$(mktemp -d /tmp/geoshard-lost-XXXXXX)
MNT=$W/disk
cleanup() {
  mountpoint -q "$MNT" 2>/dev/null && umount "$MNT"
  if [ -n "${GEOSHARD_KEEP_TMP:-}" ]; then echo "kept $W" >&2; else rm -rf "$W"; fi
}
trap cleanup EXIT

"$G" synth -q --segments 40000 --seed 5 --out "$W/region"
"$G" ingest roads -q --in "$W/region/roads.fgb" --out "$W/roads.h5"
"$G" ingest areas -q --spec "$W/region/areas.toml" --out "$W/areas.h5"
"$G" cover -q --areas "$W/areas.h5" --precision 6 --out "$W/coverage.h5"
JOB=(localise -q --roads "$W/roads.h5" --coverage "$W/coverage.h5" --max-task-fraction 0.001)
"$MPIEXEC" -np 2 "$G" "${JOB[@]}" --run "$W/ref" --out "$W/ref.gpkg"
dump "$W/ref.gpkg" >"$W/ref.csv"
total=$(json_num "$W/ref/localise.run.json" shards_total)
[ "$total" -gt 500 ] || fail "only $total tasks: the folder would not go away mid-run"

# wait_for RUN N PID: until N shards are committed in RUN (or the job ended).
wait_for() {
  for _ in $(seq 1 3000); do
    [ "$(count_shards "$1")" -ge "$2" ] && return 0
    kill -0 "$3" 2>/dev/null || return 0
    sleep 0.01
  done
}

# rerun_and_compare RUN BEFORE WHAT: reruns into RUN, which held BEFORE committed shards.
rerun_and_compare() {
  "$MPIEXEC" -np 2 "$G" "${JOB[@]}" --run "$1" --out "$W/again.gpkg" >"$W/rerun.log" 2>&1 ||
    { cat "$W/rerun.log" >&2; fail "$3: the rerun failed"; }
  local reused computed
  reused=$(json_num "$1/localise.run.json" shards_reused)
  computed=$(json_num "$1/localise.run.json" shards_committed)
  [ "$reused" = "$2" ] || fail "$3: the rerun reused $reused shards, $2 were committed"
  [ "$computed" = $((total - reused)) ] || fail "$3: the rerun computed $computed, expected $((total - reused))"
  [ -z "$(find "$1/shards" -name '.tmp-*')" ] || fail "$3: temporaries left after the rerun"
  dump "$W/again.gpkg" >"$W/again.csv"
  if ! cmp -s "$W/again.csv" "$W/ref.csv"; then
    diff "$W/ref.csv" "$W/again.csv" | head -20 >&2
    cat "$W/rerun.log" >&2
    fail "$3: the map differs from the uninterrupted run's"
  fi
  echo "$3: rerun reused $reused of $total shards, computed $computed; map identical"
}

# ---- 1. The run folder disappears mid-run ----
run=$W/run1
"$MPIEXEC" -np 2 "$G" "${JOB[@]}" --run "$run" >"$W/lost.log" 2>&1 &
mpid=$!
wait_for "$run" $((total / 5)) "$mpid"
mv "$run" "$W/moved"
rc=0
wait "$mpid" || rc=$?
[ "$rc" = 1 ] || { cat "$W/lost.log" >&2; fail "folder gone: exit $rc, expected 1 (a clear error, not a crash)"; }
grep -q "geoshard: error.*$run/shards" "$W/lost.log" ||
  { cat "$W/lost.log" >&2; fail "folder gone: the error does not name the shard path under $run"; }
mv "$W/moved" "$run"
all_committed "$run" "folder gone"
before=$(count_shards "$run")
[ "$before" -gt 0 ] && [ "$before" -lt "$total" ] || fail "folder gone: $before of $total shards committed"
echo "folder gone: exit 1 after $before of $total shards: $(grep -o 'geoshard: error[^:]*: .*' "$W/lost.log" | head -1 | cut -c1-160)"
rerun_and_compare "$run" "$before" "folder gone"

# ---- 2. The disk fills mid-run ----
mkdir -p "$MNT"
if ! mount -t tmpfs -o size=64m tmpfs "$MNT" 2>/dev/null; then
  echo "SKIP parts 2-3: cannot mount a tmpfs here (needs root)"
  exit 0
fi
umount "$MNT"
# A disk for about 40 % of the run's shards (tmpfs sizes are whole pages). Three rounds: which
# writes meet the full disk varies from run to run (a column lost on one rank while the other
# rank's failure frees space was found only in some runs).
need_kb=$(du -sk "$W/ref/shards" | cut -f1)
for round in 1 2 3; do
  mount -t tmpfs -o size=$((need_kb * 2 / 5 + 64))k tmpfs "$MNT"
  run=$MNT/run
  rc=0
  "$MPIEXEC" -np 2 "$G" "${JOB[@]}" --run "$run" >"$W/full.log" 2>&1 || rc=$?
  [ "$rc" = 1 ] || { cat "$W/full.log" >&2; fail "disk full: exit $rc, expected 1"; }
  grep -q "geoshard: error.*No space left on device" "$W/full.log" ||
    { cat "$W/full.log" >&2; fail "disk full: the error does not say the disk is full"; }
  all_committed "$run" "disk full"
  before=$(count_shards "$run")
  [ "$before" -gt 0 ] && [ "$before" -lt "$total" ] || fail "disk full: $before of $total shards committed"
  echo "disk full, round $round: exit 1 after $before of $total shards: $(grep -o 'geoshard: error[^:]*: .*' "$W/full.log" | head -1 | cut -c1-160)"
  mount -o remount,size=$((need_kb * 4 + 65536))k "$MNT"
  rerun_and_compare "$run" "$before" "disk full, round $round"
  umount "$MNT"
done
mount -t tmpfs -o size=$((need_kb * 4 + 65536))k tmpfs "$MNT"

# ---- 3. gather onto a full disk ----
dd if=/dev/zero of="$MNT/filler" bs=1k count=$(( $(df -k --output=avail "$MNT" | tail -1) - 32 )) status=none 2>/dev/null || true
rc=0
"$MPIEXEC" -np 2 "$G" gather --run "$W/ref" --out "$MNT/map.gpkg" >"$W/gather.log" 2>&1 || rc=$?
[ "$rc" = 1 ] || { cat "$W/gather.log" >&2; fail "gather on a full disk: exit $rc, expected 1"; }
grep -q "geoshard: error" "$W/gather.log" || { cat "$W/gather.log" >&2; fail "gather on a full disk: no clear error"; }
[ ! -e "$MNT/map.gpkg" ] || fail "gather on a full disk: a partial $MNT/map.gpkg was left"
echo "gather on a full disk: exit 1: $(grep -o 'geoshard: error.*' "$W/gather.log" | head -1 | cut -c1-160)"
rm -f "$MNT/filler"
"$MPIEXEC" -np 2 "$G" gather --run "$W/ref" --out "$MNT/map.gpkg" >/dev/null 2>&1 || fail "gather after space was freed failed"
dump "$MNT/map.gpkg" | cmp -s - "$W/ref.csv" || fail "gather after space was freed: the map differs"
echo "output_lost_test: all parts passed"
