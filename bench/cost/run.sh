#!/usr/bin/env bash
# Cost-vs-runtime study of cover + localise on a synthetic region (docs/cost.md):
#   sweeps machine shape (nodes, ranks per node, threads per rank), grid precision (cover) and
#   partition precision (the engine's base tasks); runs each configuration under mpirun
#   (default, one node) or as Slurm jobs (--launcher slurm: sbatch --wait --nodes N
#   --ntasks-per-node R --cpus-per-task T slurm/cover.sbatch, then slurm/localise.sbatch), reads
#   the run records, and writes
#     OUT/points.csv   one row per configuration: shape, precisions, wall = cover + localise wall
#                      (run records), peak RSS per rank, git revision, SLURM_JOB_ID, run folder
#     OUT/steps.csv    cover and localise seconds of every configuration (and every repeat)
#   then prices the points with `geoshard cost` (OUT/options.csv, OUT/pareto.csv,
#   OUT/summary.txt) and draws OUT/cost.png (runtime against cost of every option that fits,
#   the Pareto front, the deadline) and OUT/runtime.png (cover and localise seconds per
#   configuration) with gnuplot.
#
#   bench/cost/run.sh [--segments N] [--nodes "1"] [--ranks-per-node "1 2"] [--threads "1 2"]
#                     [--precision "6 7"] [--partition-precision "2 4"] [--max-cores C]
#                     [--repeat K] [--launcher mpirun|slurm] [--prices FILE] [--deadline D]
#                     [--memory-headroom H] [--out DIR] [--from DIR]
# --from DIR: measure nothing; price DIR/points.csv (and plot DIR/steps.csv) of an earlier run,
# e.g. with another price table or deadline.
# Defaults: 3,000,000 segments, the lists above, --max-cores = nproc (shapes with more cores per
# node than this are skipped; 0 = no limit), 1 repeat (K > 1 keeps the median wall), mpirun,
# bench/cost/prices-aws-example.toml, no deadline, headroom 1.25, /tmp/geoshard-cost.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
G=${GEOSHARD:-$ROOT/build/apps/geoshard}
SEGMENTS=3000000 NODES="1" RPN="1 2" THREADS="1 2" PRECISION="6 7" PPREC="2 4" MAXCORES=$(nproc)
REPEAT=1 LAUNCHER=mpirun PRICES=$HERE/prices-aws-example.toml DEADLINE="" HEADROOM=1.25 OUT=/tmp/geoshard-cost FROM=""
while [ $# -gt 0 ]; do
  case $1 in
    --segments) SEGMENTS=$2; shift 2 ;;
    --nodes) NODES=$2; shift 2 ;;
    --ranks-per-node) RPN=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --precision) PRECISION=$2; shift 2 ;;
    --partition-precision) PPREC=$2; shift 2 ;;
    --max-cores) MAXCORES=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    --launcher) LAUNCHER=$2; shift 2 ;;
    --prices) PRICES=$2; shift 2 ;;
    --deadline) DEADLINE=$2; shift 2 ;;
    --memory-headroom) HEADROOM=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --from) FROM=$2; shift 2 ;;
    -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $LAUNCHER in mpirun|slurm) ;; *) echo "run.sh: --launcher mpirun or slurm" >&2; exit 2 ;; esac
if [ "$LAUNCHER" = mpirun ] && [ "$NODES" != 1 ]; then
  echo "run.sh: --nodes other than 1 needs --launcher slurm (mpirun here runs on this machine only)" >&2
  exit 2
fi
[ -f "$PRICES" ] || { echo "run.sh: no price table '$PRICES'" >&2; exit 2; }
[ "$REPEAT" -ge 1 ] 2>/dev/null || { echo "run.sh: --repeat must be >= 1" >&2; exit 2; }
PRICES=$(cd "$(dirname "$PRICES")" && pwd)/$(basename "$PRICES")
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT/regions" "$OUT/runs"
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/cost.png "$OUT"/runtime.png "$OUT"/options.csv "$OUT"/pareto.csv "$OUT"/summary.txt "$OUT"/summary.stdout
POINTS=$OUT/points.csv STEPS=$OUT/steps.csv
if [ -n "$FROM" ]; then
  [ -f "$FROM/points.csv" ] && [ -f "$FROM/steps.csv" ] || { echo "run.sh: no points.csv and steps.csv in '$FROM'" >&2; exit 2; }
  if [ "$(cd "$FROM" && pwd)" != "$OUT" ]; then cp "$FROM/points.csv" "$FROM/steps.csv" "$OUT/"; fi
  SEGMENTS=$(sed -n 2p "$OUT/points.csv" | cut -d, -f2)
else
# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"
REGION=$(bench_region "$OUT/regions" "$SEGMENTS")

# launch NODES RANKS_PER_NODE THREADS JOB ARGS... : one geoshard MPI step of a point. Under Slurm
# it is the step's template (slurm/<job>.sbatch); its inputs come from the environment the
# caller sets (cover: AREAS COVERAGE PRECISION; localise: ROADS COVERAGE RUN), ARGS are ignored
# there except the ones passed in GEOSHARD_ARGS.
launch() {
  local n=$1 r=$2 t=$3 job=$4
  shift 4
  if [ "$LAUNCHER" = mpirun ]; then
    OMP_NUM_THREADS=$t mpirun --oversubscribe -np "$r" --map-by "slot:PE=$t" --bind-to core "$G" "$job" -q "$@" >&2
  else
    GEOSHARD="$G" GEOSHARD_SLURM="$ROOT/slurm" sbatch --wait --chdir="$OUT/runs" --nodes="$n" \
      --ntasks-per-node="$r" --cpus-per-task="$t" "$ROOT/slurm/$job.sbatch" >/dev/null
  fi
}
run_cover() {  # NODES RANKS THREADS PRECISION OUT
  AREAS="$REGION/areas.h5" COVERAGE="$5" PRECISION="$4" GEOSHARD_ARGS=-q \
    launch "$1" "$2" "$3" cover --areas "$REGION/areas.h5" --precision "$4" --out "$5"
}
run_localise() {  # NODES RANKS THREADS COVERAGE RUN PARTITION_PRECISION
  ROADS="$REGION/roads.h5" COVERAGE="$4" RUN="$5" GEOSHARD_ARGS="-q --partition-precision $6" \
    launch "$1" "$2" "$3" localise --roads "$REGION/roads.h5" --coverage "$4" --run "$5" --partition-precision "$6"
}

echo "job,segments,nodes,ranks_per_node,threads_per_rank,grid_precision,partition_precision,wall_s,peak_rss_per_rank_bytes,git_revision,slurm_job_id,run" >"$POINTS"
echo "config,repeat,cover_s,localise_s,wall_s,run" >"$STEPS"
npoints=0
for n in $NODES; do for r in $RPN; do for t in $THREADS; do
  if [ "$MAXCORES" -gt 0 ] && [ $((r * t)) -gt "$MAXCORES" ]; then
    echo "[cost] skip $n x $r x $t: $((r * t)) cores per node > --max-cores $MAXCORES" >&2
    continue
  fi
  for p in $PRECISION; do
    for k in $(seq 1 "$REPEAT"); do
      cov="$OUT/runs/cov-n$n-r$r-t$t-P$p-k$k.h5"
      rm -f "$cov" "$cov.run.json"
      run_cover "$n" "$r" "$t" "$p" "$cov"
    done
    for q in $PPREC; do
      rows=()
      for k in $(seq 1 "$REPEAT"); do
        cov="$OUT/runs/cov-n$n-r$r-t$t-P$p-k$k.h5"
        run="$OUT/runs/n$n-r$r-t$t-P$p-Q$q-k$k"
        rm -rf "$run"
        run_localise "$n" "$r" "$t" "$cov" "$run" "$q"
        rows+=("$(python3 - "$cov.run.json" "$run/localise.run.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1])); l = json.load(open(sys.argv[2]))
e = l["engine"]
rss = max([c.get("peak_rss_bytes", 0)] + list(e["per_rank"]["peak_rss_bytes"]))
job = l.get("slurm_job_id", e.get("slurm_job_id", ""))
print(f"{c['wall_seconds']:.4f},{l['wall_seconds']:.4f},{c['wall_seconds'] + l['wall_seconds']:.4f},{rss},"
      f"{l.get('git_revision', '')},{job}")
PY
)")
        IFS=, read -r cs ls ws _ _ _ <<<"${rows[-1]}"
        echo "n$n-r$r-t$t-P$p-Q$q,$k,$cs,$ls,$ws,$run" >>"$STEPS"
        echo "[cost] $n node x $r ranks x $t threads, grid P$p, partition P$q, repeat $k: cover $cs s + localise $ls s = $ws s" >&2
      done
      # The median repeat by wall (the lower middle one for an even count).
      med=$(printf '%s\n' "${rows[@]}" | sort -t, -k3,3g | sed -n "$(((REPEAT + 1) / 2))p")
      IFS=, read -r _ _ ws rss rev jid <<<"$med"
      echo "localise,$SEGMENTS,$n,$r,$t,$p,$q,$ws,$rss,$rev,$jid,$OUT/runs/n$n-r$r-t$t-P$p-Q$q" >>"$POINTS"
      npoints=$((npoints + 1))
    done
  done
done; done; done
[ "$npoints" -gt 0 ] || { echo "run.sh: no configuration to run (all above --max-cores?)" >&2; exit 2; }
fi

args=(cost --points "$POINTS" --prices "$PRICES" --out "$OUT" --memory-headroom "$HEADROOM")
[ -n "$DEADLINE" ] && args+=(--deadline "$DEADLINE")
"$G" "${args[@]}" | tee "$OUT/summary.stdout" >&2

if command -v gnuplot >/dev/null; then
  dl=$(sed -n 2p "$OUT/options.csv" | cut -d, -f25)  # deadline_s ("" without --deadline)
  gnuplot <<GP
set datafile separator ","
set terminal pngcairo size 1000,560 noenhanced
set output "$OUT/cost.png"
set title "cover + localise, $SEGMENTS segments: runtime vs cost ($(basename "$PRICES"), $LAUNCHER)"
set xlabel "runtime (s)"
set ylabel "cost per run (USD: node-hours, or core-hours, x price)"
set logscale y
set grid
stats "$OUT/options.csv" every ::1 using 18 nooutput
set xrange [0:(STATS_max > ${dl:-0} ? STATS_max : ${dl:-0}) * 1.1]
set key outside right top
$( [ -n "$dl" ] && echo "set arrow from $dl, graph 0 to $dl, graph 1 nohead dt 2 lw 2 lc rgb 'red'" )
$( [ -n "$dl" ] && echo "set label 'deadline' at $dl, graph 0.95 offset 0.5,0 tc rgb 'red'" )
plot "$OUT/options.csv" every ::1 using (\$16 == 1 ? \$18 : 1/0):22 with points pt 7 ps 0.8 lc rgb '#9e9e9e' title "options that fit", \
     "$OUT/pareto.csv" every ::1 using 18:22 with linespoints pt 7 ps 1.4 lw 2 lc rgb '#1565c0' title "Pareto front", \
     "$OUT/pareto.csv" every ::1 using 18:22:26 with labels left offset 0.8,0.3 font ",8" notitle
GP
  gnuplot <<GP
set datafile separator ","
set terminal pngcairo size 1000,480 noenhanced
set output "$OUT/runtime.png"
set title "seconds per configuration (n nodes, r ranks/node, t threads/rank, grid P, partition Q; $LAUNCHER)"
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.8
set ylabel "seconds (run records)"
set xtics rotate by -45 font ",8"
set key top left
plot "$STEPS" every ::1 using 3:xtic(sprintf("%s k%d", strcol(1), column(2))) title "cover", "" every ::1 using 4 title "localise"
GP
  echo "[cost] plots: $OUT/cost.png $OUT/runtime.png" >&2
else
  echo "[cost] gnuplot not found: tables only ($OUT)" >&2
fi
