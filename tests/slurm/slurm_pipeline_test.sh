#!/usr/bin/env bash
# A real one-node Slurm cluster (slurm/local/start.sh: munged, slurmctld, slurmd on localhost)
# runs the pipeline from the sbatch templates in slurm/, and the results are checked against
# plain mpirun runs of the same commands:
#   1. ingest roads, then localise and links (2 tasks each, after it), then gather --links after
#      both (afterok chain): map.gpkg equal to the mpirun pipeline's, layer by layer;
#   2. a failed step stops the chain: localise on a missing table fails, its dependent gather
#      never starts (DependencyNeverSatisfied);
#   3. graceful stop and requeue: SIGUSR1 to a running localise job's batch shell; the engine
#      finishes its tasks in hand and exits 4, the job requeues itself, reruns and resumes: the
#      run record counts every shard committed before the signal as reused (none recomputed),
#      and the map equals the mpirun one;
#   4. geoshard submit slurm/examples/synthetic.toml (the shipped job file, copied with its
#      relative paths): the whole pipeline from one file as a chain of 7 jobs; the map has every
#      road of the synthetic region and every ground-truth U-turn connector as a link;
#   5. bench/cost/run.sh --launcher slurm: one configuration as cover and localise jobs from the
#      templates; its point carries the job id and the localise run record.
# Exit 77 (skipped) when Slurm is not installed. Daemons are stopped by their PIDs on exit.
#   slurm_pipeline_test.sh GEOSHARD_BINARY REPO_ROOT
set -euo pipefail
G=$1
ROOT=$2
export PATH=$PATH:/usr/sbin
for t in slurmctld slurmd munged sbatch; do
  command -v "$t" >/dev/null || { echo "SKIP: $t not installed (apt install slurm-wlm munge)"; exit 77; }
done
W=$(mktemp -d /tmp/geoshard-slurm-XXXXXX)
export GEOSHARD_SLURM_PORT=$((20000 + (RANDOM % 10000) * 2))
cleanup() {
  "$ROOT/slurm/local/stop.sh" "$W/cluster" || true
  rm -rf "$W"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  for f in "$W"/*.out; do [ -f "$f" ] && { echo "== $f" >&2; tail -20 "$f" >&2; }; done
  [ -n "${jr:-}" ] && scontrol show job "$jr" >&2
  for f in "$W"/cluster/log/slurmctld.log "$W"/cluster/log/slurmd.log; do
    [ -f "$f" ] && { echo "== $f" >&2; tail -40 "$f" >&2; }
  done
  exit 1
}
"$ROOT/slurm/local/start.sh" "$W/cluster" 2
export SLURM_CONF=$W/cluster/slurm.conf GEOSHARD=$G GEOSHARD_SLURM=$ROOT/slurm
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cd "$W"

job_state() { scontrol show job "$1" | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
# Waits until job $1 is in state $2 (at most $3 seconds).
wait_state() {
  for _ in $(seq 1 $(($3 * 5))); do
    [ "$(job_state "$1")" = "$2" ] && return 0
    sleep 0.2
  done
  fail "job $1 is $(job_state "$1"), not $2, after $3 s"
}
# The map's two layers as sorted CSV text (geometry as WKT): equal maps give equal text.
map_text() {
  for l in roads road_areas; do
    ogr2ogr -f CSV /vsistdout/ "$1" "$l" -lco GEOMETRY=AS_WKT | LC_ALL=C sort
  done
}

"$G" synth -q --segments 200000 --seed 5 --out region
"$G" ingest areas -q --spec region/areas.toml --out areas.h5
"$G" cover -q --areas areas.h5 --precision 7 --out coverage.h5

# ---- 1. the pipeline as an afterok chain, against mpirun ----
j0=$(IN=$W/region/roads.fgb ROADS=$W/roads.h5 GEOSHARD_ARGS=-q sbatch --parsable "$ROOT/slurm/ingest-roads.sbatch")
common=(ROADS="$W/roads.h5" COVERAGE="$W/coverage.h5" RUN="$W/run" LINKS_RUN="$W/links-run" GEOSHARD_ARGS=-q)
j1=$(env "${common[@]}" sbatch --parsable --dependency=afterok:"$j0" "$ROOT/slurm/localise.sbatch")
j2=$(env "${common[@]}" sbatch --parsable --dependency=afterok:"$j0" "$ROOT/slurm/links.sbatch")
env "${common[@]}" MAP="$W/map-slurm.gpkg" sbatch --wait --dependency=afterok:"$j1:$j2" "$ROOT/slurm/gather.sbatch" >/dev/null ||
  fail "the gather job failed"
echo "chain $j0 -> $j1, $j2 -> gather: done"
mpirun --oversubscribe -np 2 "$G" localise -q --roads roads.h5 --coverage coverage.h5 --run run-mpi
mpirun --oversubscribe -np 2 "$G" links -q --roads roads.h5 --run links-mpi
mpirun --oversubscribe -np 2 "$G" gather -q --run run-mpi --links links-mpi --out map-mpi.gpkg
map_text map-mpi.gpkg >mpi.txt
map_text map-slurm.gpkg >slurm.txt
[ "$(wc -l <mpi.txt)" -gt 10000 ] || fail "the mpirun map is too small: $(wc -l <mpi.txt) lines"
cmp -s mpi.txt slurm.txt || fail "the Slurm pipeline's map differs from the mpirun one"
grep -q 'intersection_link' mpi.txt || fail "the map has no intersection_link column"
echo "map from Slurm == map from mpirun ($(wc -l <mpi.txt) lines)"

# ---- 2. a failed step stops the chain ----
jf=$(ROADS=$W/missing.h5 COVERAGE=$W/coverage.h5 RUN=$W/run-missing GEOSHARD_ARGS=-q sbatch --parsable "$ROOT/slurm/localise.sbatch")
jg=$(RUN=$W/run-missing MAP=$W/never.gpkg sbatch --parsable --dependency=afterok:"$jf" "$ROOT/slurm/gather.sbatch")
wait_state "$jf" FAILED 60
for _ in $(seq 1 50); do
  scontrol show job "$jg" | grep -q 'Reason=DependencyNeverSatisfied' && break
  sleep 0.2
done
scontrol show job "$jg" | grep -q 'Reason=DependencyNeverSatisfied' || fail "gather after a failed localise: $(scontrol show job "$jg" | grep -o 'JobState=.*Reason=[^ ]*')"
[ "$(job_state "$jg")" = PENDING ] || fail "the dependent gather left PENDING"
scancel "$jg"
[ ! -e never.gpkg ] || fail "a map was written after a failed step"
echo "failed localise $jf: dependent gather $jg never started"

# ---- 3. graceful stop (SIGUSR1) and requeue ----
# Many small tasks (~8,000: fine partition, one shard fsync each; ~11 s) so the job is still running when the
# signal comes; the signal goes to the batch shell as --signal=B:USR1@120 would send it.
jr=$(ROADS=$W/roads.h5 COVERAGE=$W/coverage.h5 RUN=$W/run-rq \
  GEOSHARD_ARGS="-q --partition-precision 7 --max-task-fraction 0.001" sbatch --parsable "$ROOT/slurm/localise.sbatch")
wait_state "$jr" RUNNING 60
for _ in $(seq 1 300); do
  [ "$(find run-rq/shards -name '*.h5' 2>/dev/null | wc -l)" -ge 20 ] && break
  sleep 0.1
done
scancel --signal=USR1 --batch "$jr" || fail "cannot signal job $jr (state $(job_state "$jr"))"
# The interrupted job requeues itself: PENDING, then running again once its old credential has
# expired (cred_expire=10 s in slurm/local/start.sh's configuration).
for _ in $(seq 1 300); do
  st=$(job_state "$jr")
  [ "$st" = PENDING ] || [ "$st" = COMPLETED ] && break
  sleep 0.1
done
[ "$st" = PENDING ] || fail "after SIGUSR1 job $jr is $st, not requeued (it may have finished before the signal)"
before=$(find run-rq/shards -name '*.h5' | wc -l)
read -r total first status < <(python3 -c "
import json; r = json.load(open('run-rq/localise.run.json')); e = r['engine']
print(e['shards_total'], e['shards_committed'], r['status'])")
[ "$status" = interrupted ] || fail "the first run's record says '$status', not interrupted"
[ "$first" = "$before" ] || fail "the interrupted run committed $first shards, $before are in the folder"
[ "$before" -gt 0 ] && [ "$before" -lt "$total" ] || fail "$before of $total shards committed before the signal: nothing to resume"
grep -q 'requeueing job' "geoshard-localise-$jr.out" || fail "the batch script did not requeue"
wait_state "$jr" COMPLETED 180
read -r total2 committed reused < <(python3 -c "
import json; r = json.load(open('run-rq/localise.run.json')); e = r['engine']
print(e['shards_total'], e['shards_committed'], e['shards_reused'])")
[ "$total2" = "$total" ] || fail "the rerun planned $total2 tasks, the first run $total"
[ "$reused" = "$before" ] || fail "the rerun reused $reused shards, $before were committed before the signal"
[ $((committed + reused)) = "$total" ] || fail "committed $committed + reused $reused != total $total"
mpirun --oversubscribe -np 2 "$G" gather -q --run run-rq --out map-rq.gpkg
mpirun --oversubscribe -np 2 "$G" gather -q --run run-mpi --out map-mpi-nolinks.gpkg
cmp -s <(map_text map-rq.gpkg) <(map_text map-mpi-nolinks.gpkg) || fail "the requeued run's map differs from the mpirun one"
echo "requeued job $jr: $before of $total shards committed before SIGUSR1, all reused, $committed run after; map equal"

# ---- 4. the whole pipeline from the shipped job file ----
mkdir -p ex/slurm/examples
cp "$ROOT/slurm/examples/synthetic.toml" ex/slurm/examples/
"$G" submit ex/slurm/examples/synthetic.toml >submit.txt 2>submit.log || { cat submit.log >&2; fail "geoshard submit failed"; }
[ "$(wc -l <submit.txt)" = 7 ] || fail "submit printed $(wc -l <submit.txt) jobs, not 7"
jg=$(awk '$1 == "gather" {print $2}' submit.txt)
wait_state "$jg" COMPLETED 600
X=$W/ex/out/slurm-synthetic
read -r roads connectors < <(python3 -c "
import json; s = json.load(open('$X/region/run.json'))['synth']; print(s['roads'], s['connectors'])")
got=$(ogrinfo -ro -q "$X/map.gpkg" -sql 'SELECT COUNT(*) AS n, SUM(intersection_link) AS l FROM roads' | awk -F'= ' '/ n /{n=$2} / l /{l=$2} END{print n, l}')
[ "$got" = "$roads $connectors" ] || fail "submitted pipeline's map: roads, links = $got; the region has $roads roads, $connectors connectors"
echo "geoshard submit: 7 jobs, map with $roads roads and $connectors links"

# ---- 5. the cost study's Slurm launcher: one configuration as cover and localise jobs ----
GEOSHARD=$G "$ROOT/bench/cost/run.sh" --launcher slurm --segments 20000 --ranks-per-node 2 --threads 1 \
  --precision 4 --partition-precision 2 --out "$W/cost" 2>cost.log || { cat cost.log >&2; fail "bench/cost/run.sh --launcher slurm failed"; }
python3 - "$W/cost" <<'PY2' || fail "cost study under Slurm: bad points"
import csv, json, sys
p = list(csv.DictReader(open(sys.argv[1] + "/points.csv")))
assert len(p) == 1 and p[0]["ranks_per_node"] == "2", p
assert p[0]["slurm_job_id"].isdigit(), p  # the localise job's id, from its run record
rec = json.load(open(p[0]["run"] + "-k1/localise.run.json"))
assert rec["engine"]["ranks"] == 2 and rec["status"] == "ok", rec["engine"]
assert float(p[0]["wall_s"]) > rec["wall_seconds"] > 0
PY2
echo "bench/cost/run.sh --launcher slurm: 1 configuration as 2 jobs, job id $(sed -n 2p "$W/cost/points.csv" | cut -d, -f11)"
echo "PASS"
