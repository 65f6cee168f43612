#!/usr/bin/env bash
# The pipeline as a user runs it: synth -> ingest -> cover -> localise -> gather with the
# geoshard command under mpirun. Asserts what the localisation issue promises:
#  - map.gpkg's content is identical for 1, 2, 3 and 4 ranks (canonical dump: both tables as
#    ogr2ogr CSV, rows sorted) and for a run with other task sizes;
#  - localise --group-rows (several tasks per call) and --batch give the same map, also when resuming;
#  - a run stopped by a signal (SIGUSR1, as Slurm sends before a time limit) exits with code 4
#    after committing the tasks in hand; the rerun of the same command reuses every committed
#    shard, computes only the rest, and gives the identical map;
#  - the run records account for every road; gather --fgb writes a FlatGeobuf that ogrinfo opens.
# Usage: pipeline_test.sh GEOSHARD MPIEXEC
set -euo pipefail
G=$1
MPIEXEC=$2
. "$(dirname "$0")/../testing/run_lib.sh"  # mpirun set-up, fail, json_num, dump, committed_flag
W=$(mktemp -d /tmp/geoshard-pipeline-XXXXXX)
trap 'rm -rf "$W"' EXIT
mpi() { "$MPIEXEC" --oversubscribe -np "$@"; }

"$G" synth -q --segments 60000 --seed 3 --out "$W/region"
"$G" ingest roads -q --in "$W/region/roads.fgb" --out "$W/roads.h5"
"$G" ingest areas -q --spec "$W/region/areas.toml" --out "$W/areas.h5"
mpi 2 "$G" cover -q --areas "$W/areas.h5" --precision 6 --out "$W/coverage.h5"
rows=$(json_num "$W/roads.h5.run.json" records_out)
[ "$rows" -gt 1000 ] || fail "ingest wrote only $rows roads"

IN=(--roads "$W/roads.h5" --coverage "$W/coverage.h5")
for np in 1 2 3 4; do
  mpi "$np" "$G" localise -q "${IN[@]}" --run "$W/run$np" --out "$W/map$np.gpkg"
  dump "$W/map$np.gpkg" > "$W/map$np.csv"
  [ "$(json_num "$W/run$np/localise.run.json" records_out)" = "$rows" ] || fail "localise np=$np: records_out != $rows"
  [ "$(json_num "$W/map$np.gpkg.run.json" records_out)" = "$rows" ] || fail "gather np=$np: records_out != $rows"
done
# localise's boundary-cell batches (segment cuts, point in polygon) run on the chosen backend, and the record says so.
python3 -c "import json,sys; s=json.load(open('$W/run1/localise.run.json'))['backend_stages']; sys.exit(0 if s == ['boundary-cell segment cuts (cut_batch)', 'boundary-cell point in polygon (pip_batch)'] else 1)" ||
  fail "localise run record: backend_stages does not name the cut and point-in-polygon batches"
n_roads=$(grep -c . < <(ogr2ogr -f CSV /vsistdout/ "$W/map1.gpkg" roads))
[ "$n_roads" -eq $((rows + 1)) ] || fail "map has $((n_roads - 1)) roads, the table $rows"
# The optional FlatGeobuf copy of the roads layer opens in ogrinfo with every road.
"$G" gather -q --run "$W/run1" --out "$W/again.gpkg" --fgb "$W/roads.fgb"
ogrinfo -so "$W/roads.fgb" roads | grep -q "Feature Count: $rows\$" || fail "roads.fgb does not hold $rows roads"
cmp -s "$W/map1.csv" <(dump "$W/again.gpkg") || fail "a second gather of the same run differs"
for np in 2 3 4; do
  cmp -s "$W/map1.csv" "$W/map$np.csv" || { diff "$W/map1.csv" "$W/map$np.csv" | head -5; fail "map of $np ranks differs from 1 rank"; }
done
echo "maps identical for 1-4 ranks ($rows roads)"

# Stop and resume. Small tasks (a few thousand shards) so that the run lasts some seconds.
RUN=(localise -q "${IN[@]}" --run "$W/runi" --max-task-fraction 0.001)
mpi 2 "$G" "${RUN[@]}" &
pid=$!
for _ in $(seq 1 1200); do
  n=$( (find "$W/runi/shards" -name '*.h5' 2>/dev/null || true) | wc -l)
  [ "$n" -ge 20 ] && break
  sleep 0.05
done
pkill -USR1 -P "$pid" || true   # the ranks (children of mpirun), once
set +e
wait "$pid"
code=$?
set -e
[ "$code" -eq 4 ] || fail "a stopped run must exit 4 (interrupted), got $code"
set +e
err=$("$G" localise -q "${IN[@]}" --run "$W/runx" --group-rows 12k 2>&1)
code=$?
set -e
[ "$code" -ne 0 ] && grep -q "whole number of rows" <<<"$err" || fail "--group-rows 12k: no clear error ($code): $err"
grep -q '"status": "interrupted"' "$W/runi/localise.run.json" || fail "run record does not say interrupted"
before=$(find "$W/runi/shards" -name '*.h5' | wc -l)
total=$(json_num "$W/runi/localise.run.json" shards_total)
[ "$before" -lt "$total" ] || fail "the run finished before the signal ($before of $total shards)"
find "$W/runi/shards" -name '*.tmp*' | grep -q . && fail "temporary shard files left behind"
# The stop latency (signal to the end of each rank's task loop) is recorded and bounded by the
# longest task (+ 0.5 s for the poll between tasks and the notice between ranks).
read -r lat longest < <(python3 -c "
import json; s = json.load(open('$W/runi/localise.run.json'))['engine']['stop']
assert all(v is not None and v >= 0 for v in s['seconds_to_stop']), s
print(s['max_seconds_to_stop'], s['longest_task_seconds'])") || fail "no stop latency in the run record"
python3 -c "import sys; sys.exit(0 if $lat <= $longest + 0.5 else 1)" || fail "stop took $lat s, the longest task $longest s"
echo "stop latency $lat s (longest task $longest s)"
# The rerun localises groups of consecutive tasks per call (--group-rows; not part of the plan).
# and with small boundary-cell batches (--batch): neither changes the map.
mpi 2 "$G" "${RUN[@]}" --group-rows 20000 --batch 977 --out "$W/mapi.gpkg"
python3 -c "
import json; e = json.load(open('$W/runi/localise.run.json'))['engine']
assert e['group_rows'] == 20000, e['group_rows']
assert e['boundary_batch'] == 977, e['boundary_batch']
assert sum(e['per_rank']['groups_run']) < sum(e['per_rank']['tasks_run']), e['per_rank']" ||
  fail "the resumed run did not localise its tasks in groups of --group-rows"
reused=$(json_num "$W/runi/localise.run.json" shards_reused)
now=$(json_num "$W/runi/localise.run.json" shards_committed)
[ "$reused" -eq "$before" ] || fail "rerun reused $reused shards, $before were committed"
[ "$((reused + now))" -eq "$total" ] || fail "reused $reused + committed $now != total $total"
dump "$W/mapi.gpkg" > "$W/mapi.csv"
cmp -s "$W/map1.csv" "$W/mapi.csv" || fail "map after stop + resume differs"
echo "stopped after $before of $total shards; resumed ($reused reused, $now computed); map identical"
