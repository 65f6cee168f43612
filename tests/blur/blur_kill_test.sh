#!/usr/bin/env bash
# A killed rank costs only time, for blur too (reliability issue, item 1): blur of 96 geotagged
# photos (copies of opencv-doc samples, one task each) on 3 ranks, one rank killed with SIGKILL
# after some shards are committed, one committed shard damaged on disk, then the same command
# rerun into the same run folder. Asserts: every shard under its final name is committed; the
# rerun reuses every undamaged committed shard and recomputes only the rest and the damaged one;
# every blurred photo is byte-identical to an uninterrupted run's; no temporary file is left in
# the output or shard folders. Skips (77) without Debian's opencv-doc samples.
#   blur_kill_test.sh GEOSHARD MPIEXEC
set -euo pipefail
G=$1
MPIEXEC=$2
SAMPLES=/usr/share/doc/opencv-doc/examples/data
for f in messi5.jpg licenseplate_motion.jpg baboon.jpg; do
  [ -f "$SAMPLES/$f" ] || { echo "SKIP: $SAMPLES/$f missing (apt install opencv-doc)"; exit 77; }
done
. "$(dirname "$0")/../testing/run_lib.sh"  # mpirun set-up, fail, json_num, dump, committed_flag
W=$(mktemp -d /tmp/geoshard-blurkill-XXXXXX)
trap 'rm -rf "$W"' EXIT

mkdir -p "$W/photos"
echo "path,lat,lon" >"$W/photos/photos.csv"
i=0
for r in $(seq 0 7); do for c in $(seq 0 11); do
  src=$(echo messi5.jpg licenseplate_motion.jpg baboon.jpg | cut -d' ' -f$((i % 3 + 1)))
  name=$(printf 'p%03d.jpg' "$i")
  cp "$SAMPLES/$src" "$W/photos/$name"
  echo "$name,$(python3 -c "print(1.0 + $r * 0.5, 100.0 + $c * 0.5, sep=',')")" >>"$W/photos/photos.csv"
  i=$((i + 1))
done; done
"$G" ingest images -q --manifest "$W/photos/photos.csv" --out "$W/images.h5"
JOB=(blur -q --images "$W/images.h5" --partition-precision 4)  # one photo per task
"$MPIEXEC" -np 3 "$G" "${JOB[@]}" --run "$W/ref-run" --out "$W/ref"
total=$(json_num "$W/ref-run/blur.run.json" shards_total)
[ "$total" -ge 40 ] || fail "only $total tasks"

seed=${GEOSHARD_KILL_SEED:-$RANDOM}
RANDOM=$seed
run=$W/run
want=$((total / 10 + RANDOM % (total / 2)))
victim=$((RANDOM % 3))
echo "kill seed $seed: rank $victim after $want of $total shards"
kill_rank_mid_run "$run" "$W/kill.log" "$want" "$victim" "$total" "$MPIEXEC" -np 3 "$G" "${JOB[@]}" --run "$run" --out "$W/out"
n_before=0
for f in "$run"/shards/task-*.h5; do
  [ -e "$f" ] || continue
  [ "$(committed_flag "$f")" = 1 ] || fail "$f is visible but not committed"
  n_before=$((n_before + 1))
done
[ "$n_before" -gt 0 ] && [ "$n_before" -lt "$total" ] || fail "$n_before of $total shards before the rerun"
victim_file=$(find "$run/shards" -name 'task-*.h5' | sort | sed -n "$((1 + RANDOM % n_before))p")
read -r dsize doff < <(h5dump -p -H "$victim_file" | awk '/^ *SIZE [0-9]+/ {s = $2} /^ *OFFSET [0-9]+/ {print s, $2}' | sort -n | tail -1)
[ -n "$doff" ] || fail "no contiguous dataset in $victim_file"
python3 - "$victim_file" $((doff + dsize / 2)) <<'PY'
import sys
path, at = sys.argv[1], int(sys.argv[2])
with open(path, "r+b") as f:
    f.seek(at); b = f.read(4); f.seek(at); f.write(bytes(x ^ 0xFF for x in b))
PY
"$MPIEXEC" -np 3 "$G" "${JOB[@]}" --run "$run" --out "$W/out" 2>"$W/rerun.log" || { cat "$W/rerun.log" >&2; fail "the rerun failed"; }
rec=$run/blur.run.json
reused=$(json_num "$rec" shards_reused)
computed=$(json_num "$rec" shards_committed)
[ "$reused" = $((n_before - 1)) ] || fail "reused $reused shards, $n_before were committed (1 damaged)"
[ "$computed" = $((total - reused)) ] || fail "computed $computed, expected $((total - reused))"
[ "$( (find "$run/shards" "$W/out" -name '.tmp-*' || true) | wc -l)" = 0 ] || fail "temporary files left"
for f in "$W"/ref/*.jpg; do
  cmp -s "$f" "$W/out/$(basename "$f")" || fail "$(basename "$f") differs from the uninterrupted run's"
done
[ "$(find "$W/out" -name '*.jpg' | wc -l)" = "$(find "$W/ref" -name '*.jpg' | wc -l)" ] || fail "not every photo written"
echo "rank $victim killed after $n_before of $total shards; 1 damaged; rerun reused $reused, computed $computed; 96 photos identical"
echo "PASS"
