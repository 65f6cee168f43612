#!/usr/bin/env bash
# localise on the engine at 1 and 2 ranks (or the rank counts given) on one roads/coverage pair:
# wall time, busy time per rank, measured imbalance (max/mean busy), strong-scaling efficiency
# E = t1 / (N * tN), peak RSS per rank and the memory bound of the run record.
#   bench/localise_scaling/run.sh ROADS.h5 COVERAGE.h5 [RANKS...]     (default ranks: 1 2)
# Prints a markdown table; run records stay in $OUT (default /tmp/geoshard-localise-scaling).
set -euo pipefail
ROADS=$1
COV=$2
shift 2
if [ $# -gt 0 ]; then RANKS=("$@"); else RANKS=(1 2); fi
G=${GEOSHARD:-$(dirname "$0")/../../build/apps/geoshard}
OUT=${OUT:-/tmp/geoshard-localise-scaling}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT"
echo "| ranks | wall s (engine) | busy s per rank | measured imbalance | efficiency E | peak RSS MB per rank | peak RSS / (coverage + slice) |"
echo "| ---: | ---: | --- | ---: | ---: | --- | --- |"
t1=""
for n in "${RANKS[@]}"; do
  rm -rf "$OUT/run$n"
  mpirun --oversubscribe -np "$n" "$G" localise -q --roads "$ROADS" --coverage "$COV" --run "$OUT/run$n"
  python3 - "$OUT/run$n/localise.run.json" "$n" "${t1:-}" <<'PY'
import json, sys
rec = json.load(open(sys.argv[1])); n = int(sys.argv[2]); e = rec["engine"]; p = e["per_rank"]
wall = e["wall_seconds"]
t1 = float(sys.argv[3]) if sys.argv[3] else wall
eff = t1 / (n * wall)
print(f"| {n} | {wall:.2f} | {', '.join(f'{b:.2f}' for b in p['busy_seconds'])} | {e['measured_imbalance']:.3f} | "
      f"{eff:.2f} | {', '.join(str(r // 2**20) for r in p['peak_rss_bytes'])} | "
      f"{', '.join(f'{x:.2f}' for x in e['memory']['peak_rss_over_held_bytes'])} |")
PY
  [ -z "$t1" ] && t1=$(python3 -c "import json;print(json.load(open('$OUT/run$n/localise.run.json'))['engine']['wall_seconds'])")
done
