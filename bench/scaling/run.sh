#!/usr/bin/env bash
# Scaling studies of a geoshard job (localise or links) on synthetic regions:
#   strong scaling: one region of SEGMENTS segments, ranks R in RANKS;
#   weak scaling:   a region of SEGMENTS x R/R1 segments for R ranks (R1: the first point; the
#                   work per rank fixed).
# Each point runs the job under mpirun (default) or as a Slurm job on the cluster $SLURM_CONF
# points at (--launcher slurm: sbatch --wait --ntasks=R slurm/<job>.sbatch, the templates of
# docs/slurm.md), then reads its run record. Writes OUT/scaling.csv (one row per point: mode,
# job, ranks, segments, wall, speedup S = t1/tN, efficiency E = t1/(N tN) for strong or
# t1/tN for weak, measured imbalance, mean busy and idle seconds per rank, git revision,
# SLURM_JOB_ID, run folder) and OUT/busy.csv (busy/idle per rank), and the plots
# OUT/strong.png (speedup and efficiency against ranks, ideal dashed), OUT/weak.png (wall time
# and efficiency against ranks) and OUT/busy.png (busy and idle seconds per rank per point),
# with gnuplot.
#   bench/scaling/run.sh [--job localise|links] [--mode strong|weak|both] [--ranks "1 2 4"]
#                        [--segments N] [--launcher mpirun|slurm] [--out DIR]
#                        [--nodes "1 2 4" --ranks-per-node R]   (Slurm: points across node counts)
#                        [--repeat K]   (each point K times; the run with the median wall is kept)
# Defaults: localise, both, ranks "1 2", 1,000,000 segments, mpirun, /tmp/geoshard-scaling.
# With --nodes (Slurm only) the points are node counts N, each with R tasks per node (N x R
# ranks; R defaults to 2), and speedup and efficiency are against the first point's rank count.
# Regions are generated once per size and kept in OUT/regions (synth seed 1, cover precision 7).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
G=${GEOSHARD:-$ROOT/build/apps/geoshard}
JOB=localise MODE=both RANKS="1 2" SEGMENTS=1000000 LAUNCHER=mpirun OUT=/tmp/geoshard-scaling NODES="" RPN=2 REPEAT=1
while [ $# -gt 0 ]; do
  case $1 in
    --job) JOB=$2; shift 2 ;;
    --mode) MODE=$2; shift 2 ;;
    --ranks) RANKS=$2; shift 2 ;;
    --segments) SEGMENTS=$2; shift 2 ;;
    --launcher) LAUNCHER=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --nodes) NODES=$2; shift 2 ;;
    --ranks-per-node) RPN=$2; shift 2 ;;
    --repeat) REPEAT=$2; shift 2 ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
case $JOB in localise|links) ;; *) echo "run.sh: --job localise or links" >&2; exit 2 ;; esac
case $MODE in strong|weak|both) ;; *) echo "run.sh: --mode strong, weak or both" >&2; exit 2 ;; esac
case $LAUNCHER in mpirun|slurm) ;; *) echo "run.sh: --launcher mpirun or slurm" >&2; exit 2 ;; esac
if [ -n "$NODES" ]; then
  [ "$LAUNCHER" = slurm ] || { echo "run.sh: --nodes needs --launcher slurm" >&2; exit 2; }
  RANKS=""
  for n in $NODES; do RANKS+=" $((n * RPN))"; done
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT/regions" "$OUT/runs"
rm -f "$OUT"/strong.png "$OUT"/weak.png "$OUT"/busy.png
OUT=$(cd "$OUT" && pwd)

# shellcheck source=../lib.sh
. "$ROOT/bench/lib.sh"
region() {  # segments -> folder with roads.h5 and coverage.h5 (cover precision 7)
  local d
  d=$(bench_region "$OUT/regions" "$1")
  [ -f "$d/coverage.h5" ] || "$G" cover -q --areas "$d/areas.h5" --precision 7 --out "$d/coverage.h5"
  echo "$d"
}

run_point() {  # mode ranks segments repeat -> prints the run record's path
  local mode=$1 r=$2 n=$3 d run
  d=$(region "$n")
  run="$OUT/runs/$JOB-$mode-np$r-k$4"
  rm -rf "$run"
  local args=(--roads "$d/roads.h5" --run "$run")
  [ "$JOB" = localise ] && args+=(--coverage "$d/coverage.h5")
  if [ "$LAUNCHER" = mpirun ]; then
    mpirun --oversubscribe -np "$r" "$G" "$JOB" -q "${args[@]}" >&2
  else
    local nodes=1 per_node=$r
    if [ -n "$NODES" ]; then nodes=$((r / RPN)) per_node=$RPN; fi
    ROADS="$d/roads.h5" COVERAGE="$d/coverage.h5" RUN="$run" LINKS_RUN="$run" GEOSHARD="$G" \
      GEOSHARD_SLURM="$ROOT/slurm" GEOSHARD_ARGS=-q \
      sbatch --wait --chdir="$OUT/runs" --nodes="$nodes" --ntasks-per-node="$per_node" --oversubscribe "$ROOT/slurm/$JOB.sbatch" >&2
  fi
  echo "$run/$JOB.run.json"
}

CSV=$OUT/scaling.csv BUSY=$OUT/busy.csv
echo "mode,job,ranks,segments,wall_s,speedup,efficiency,imbalance,busy_mean_s,idle_mean_s,git_revision,slurm_job_id,run" >"$CSV"
echo "mode,ranks,rank,busy_s,idle_s" >"$BUSY"
modes=()
[ "$MODE" != weak ] && modes+=(strong)
[ "$MODE" != strong ] && modes+=(weak)
R1=$(echo $RANKS | cut -d' ' -f1)  # the first point's ranks: speedup and efficiency are against it
for mode in "${modes[@]}"; do
  t1=""
  for r in $RANKS; do
    n=$SEGMENTS
    [ "$mode" = weak ] && n=$((SEGMENTS * r / R1))
    recs=()
    for k in $(seq 1 "$REPEAT"); do recs+=("$(run_point "$mode" "$r" "$n" "$k")"); done
    # The repeat with the median engine wall (the lower middle one for an even count).
    rec=$(for f in "${recs[@]}"; do python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["engine"]["wall_seconds"], sys.argv[1])' "$f"; done |
          sort -g | sed -n "$(((REPEAT + 1) / 2))p" | cut -d' ' -f2-)
    line=$(python3 - "$rec" "$mode" "$JOB" "$r" "$n" "${t1:-}" "$BUSY" "$R1" <<'PY'
import json, sys
rec = json.load(open(sys.argv[1])); mode, job, r, n = sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
e = rec["engine"]; p = e["per_rank"]; wall = e["wall_seconds"]
t1 = float(sys.argv[6]) if sys.argv[6] else wall
r1 = int(sys.argv[8])
s = t1 / wall
eff = s / (r / r1) if mode == "strong" else s
busy, idle = p["busy_seconds"], p["idle_seconds"]
with open(sys.argv[7], "a") as f:
    for k, (b, i) in enumerate(zip(busy, idle)):
        f.write(f"{mode},{r},{k},{b:.4f},{i:.4f}\n")
print(f"{mode},{job},{r},{n},{wall:.4f},{s:.4f},{eff:.4f},{e['measured_imbalance']:.4f},"
      f"{sum(busy)/len(busy):.4f},{sum(idle)/len(idle):.4f},{rec.get('git_revision','')},"
      f"{e.get('slurm_job_id', rec.get('slurm_job_id', ''))},{sys.argv[1].rsplit('/', 1)[0]}")
PY
)
    echo "$line" >>"$CSV"
    echo "[scaling] $line" >&2
    [ -z "$t1" ] && t1=$(echo "$line" | cut -d, -f5)
  done
done
column -s, -t "$CSV" >&2 || cat "$CSV" >&2

if command -v gnuplot >/dev/null; then
  gnuplot <<GP
set datafile separator ","
set terminal pngcairo size 900,420 noenhanced
set key top left
set grid
set xlabel "ranks"
if (system("grep -c '^strong' $CSV") + 0 > 0) {
  set output "$OUT/strong.png"
  set multiplot layout 1,2 title "$JOB strong scaling, $SEGMENTS segments ($LAUNCHER)"
  set ylabel "speedup t1/tN"
  plot "< grep '^strong' $CSV" using 3:6 with linespoints lw 2 title "measured", x / $R1.0 with lines dt 2 title "ideal"
  set ylabel "efficiency t1/(N tN)"
  set yrange [0:1.1]
  plot "< grep '^strong' $CSV" using 3:7 with linespoints lw 2 title "measured", 1 with lines dt 2 title "ideal"
  unset multiplot
  set autoscale y
}
if (system("grep -c '^weak' $CSV") + 0 > 0) {
  set output "$OUT/weak.png"
  set multiplot layout 1,2 title "$JOB weak scaling, $SEGMENTS segments per rank ($LAUNCHER)"
  set ylabel "engine wall (s)"
  set yrange [0:*]
  plot "< grep '^weak' $CSV" using 3:5 with linespoints lw 2 title "measured"
  set ylabel "efficiency t1/tN"
  set yrange [0:1.1]
  plot "< grep '^weak' $CSV" using 3:7 with linespoints lw 2 title "measured", 1 with lines dt 2 title "ideal"
  unset multiplot
  set autoscale y
}
set output "$OUT/busy.png"
set title "busy and idle seconds per rank (x = point: mode/ranks, bars = ranks)"
set style data histograms
set style histogram rowstacked
set style fill solid 0.8 border -1
set boxwidth 0.8
set ylabel "seconds"
set xlabel ""
set xtics rotate by -45
plot "$BUSY" every ::1 using 4:xtic(sprintf("%s np%d r%d", strcol(1), column(2), column(3))) title "busy", "" every ::1 using 5 title "idle"
GP
  plots=""
  for f in strong weak busy; do grep -q "^$f" "$CSV" || [ $f = busy ] && [ -f "$OUT/$f.png" ] && plots+=" $OUT/$f.png"; done
  echo "[scaling] plots:$plots; table: $CSV" >&2
else
  echo "[scaling] gnuplot not found: table only ($CSV)" >&2
fi
