#!/usr/bin/env bash
# A killed rank costs only time (reliability issue, item 1): localise on 3 ranks, one rank killed
# with SIGKILL at a random point after some shards are committed, then the same command rerun
# into the same run folder. Asserts:
#  - after the kill, every shard file under its final name is a committed, verified shard (the
#    killed task's work is at most a hidden .tmp-* file): no partial shard is ever visible;
#  - one committed shard damaged on disk before the rerun (8 bytes of its data inverted) is
#    found by the verification (flags, task attributes, data checksum) and recomputed;
#  - the rerun reuses every other committed shard (run record: shards_reused = committed - 1)
#    and computes only the rest (shards_committed = total - reused): zero committed shards are
#    recomputed; it leaves no .tmp-* behind;
#  - the map gathered from it is identical (both tables, canonical CSV) to an uninterrupted
#    run's.
# Repeated for 2 kill points (seeded by $RANDOM; the seed is printed).
#   engine_kill_test.sh GEOSHARD MPIEXEC
set -euo pipefail
G=$1
MPIEXEC=$2
. "$(dirname "$0")/../testing/run_lib.sh"  # mpirun set-up, fail, json_num, dump, committed_flag
W=$(mktemp -d /tmp/geoshard-kill-XXXXXX)
trap 'rm -rf "$W"' EXIT

"$G" synth -q --segments 40000 --seed 5 --out "$W/region"
"$G" ingest roads -q --in "$W/region/roads.fgb" --out "$W/roads.h5"
"$G" ingest areas -q --spec "$W/region/areas.toml" --out "$W/areas.h5"
"$MPIEXEC" -np 2 "$G" cover -q --areas "$W/areas.h5" --precision 6 --out "$W/coverage.h5"
# Small tasks (a few thousand shards) so that the run lasts long enough to be killed mid-way.
JOB=(localise -q --roads "$W/roads.h5" --coverage "$W/coverage.h5" --max-task-fraction 0.001)
"$MPIEXEC" -np 3 "$G" "${JOB[@]}" --run "$W/ref" --out "$W/ref.gpkg"
dump "$W/ref.gpkg" >"$W/ref.csv"
total=$(json_num "$W/ref/localise.run.json" shards_total)
[ "$total" -gt 500 ] || fail "only $total tasks: the kill would not land mid-run"

seed=${GEOSHARD_KILL_SEED:-$RANDOM}
echo "kill seed $seed ($total tasks)"
RANDOM=$seed
for round in 1 2; do
  run=$W/run$round
  want=$((total / 10 + RANDOM % (total / 2)))  # kill after 10-60 % of the shards
  victim=$((RANDOM % 3))                        # which rank
  echo "round $round: rank $victim to be killed after $want of $total shards"
  kill_rank_mid_run "$run" "$W/kill$round.log" "$want" "$victim" "$total" "$MPIEXEC" -np 3 "$G" "${JOB[@]}" --run "$run"
  # No partial shard under a final name: each is complete=1 (the engine's verification runs below).
  n_before=0
  for f in "$run"/shards/task-*.h5; do
    [ -e "$f" ] || continue
    [ "$(committed_flag "$f")" = 1 ] || fail "round $round: $f is visible but not committed"
    n_before=$((n_before + 1))
  done
  [ "$n_before" -gt 0 ] && [ "$n_before" -lt "$total" ] || fail "round $round: $n_before of $total shards before the rerun"
  # Damage one committed shard on disk: invert 8 bytes in the middle of its largest dataset (its
  # place in the file from h5dump), as a bad sector or a stray write would; the file still opens.
  victim_file=$(find "$run/shards" -name 'task-*.h5' | sort | sed -n "$((1 + RANDOM % n_before))p")
  read -r dsize doff < <(h5dump -p -H "$victim_file" | awk '/^ *SIZE [0-9]+/ {s = $2} /^ *OFFSET [0-9]+/ {print s, $2}' | sort -n | tail -1)
  [ -n "$doff" ] && [ "$dsize" -ge 1 ] || fail "round $round: no contiguous dataset in $victim_file"
  python3 - "$victim_file" $((doff + dsize / 2)) <<'PY2'
import sys
path, at = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(at); b = f.read(8); f.seek(at); f.write(bytes(x ^ 0xFF for x in b))
PY2
  tmp_left=$( (find "$run/shards" -name '.tmp-*' || true) | wc -l)
  # Rerun the same command.
  "$MPIEXEC" -np 3 "$G" "${JOB[@]}" --run "$run" --out "$W/map$round.gpkg" 2>"$W/rerun$round.log" ||
    { cat "$W/rerun$round.log" >&2; fail "round $round: the rerun failed"; }
  rec=$run/localise.run.json
  reused=$(json_num "$rec" shards_reused)
  computed=$(json_num "$rec" shards_committed)
  [ "$reused" = $((n_before - 1)) ] || fail "round $round: reused $reused shards, $n_before were committed (1 damaged)"
  [ "$computed" = $((total - reused)) ] || fail "round $round: computed $computed, expected $((total - reused))"
  [ "$( (find "$run/shards" -name '.tmp-*' || true) | wc -l)" = 0 ] || fail "round $round: .tmp-* left after the rerun"
  cmp -s "$W/ref.csv" <(dump "$W/map$round.gpkg") || fail "round $round: the map differs from the uninterrupted run's"
  echo "round $round: rank $victim killed after $n_before of $total shards ($tmp_left temporaries left); 1 damaged;" \
       "rerun reused $reused, computed $computed; map identical"
done
echo "PASS"
