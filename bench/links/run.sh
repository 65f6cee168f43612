#!/usr/bin/env bash
# The links job on the engine at 1 and 2 ranks (or the rank counts given) on one road table:
# road segments per second per core (segments / (ranks × engine wall)), the whole command's wall
# time (the measured-halo pre-pass included), busy seconds per rank, measured imbalance,
# strong-scaling efficiency E = t1 / (N × tN), and the halo overhead (rows read beyond the
# tasks' own, per own row) with the measured halo box.
#   bench/links/run.sh ROADS.h5 [RANKS...]       (default ranks: 1 2)
# The 30M-segment region of docs/benchmarks.md:
#   geoshard synth --segments 30000000 --seed 1 --out R/region
#   geoshard ingest roads --in R/region/roads.fgb --out R/roads.h5
# Prints a markdown table; run records stay in $OUT (default /tmp/geoshard-links-bench).
set -euo pipefail
ROADS=$1
shift
if [ $# -gt 0 ]; then RANKS=("$@"); else RANKS=(1 2); fi
G=${GEOSHARD:-$(dirname "$0")/../../build/apps/geoshard}
OUT=${OUT:-/tmp/geoshard-links-bench}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mkdir -p "$OUT"
# Segments = vertices - roads (h5ls prints the column lengths).
ROWS=$(h5ls "$ROADS/roads" | awk '$1 == "id" {gsub(/[{}]/, "", $3); print $3}')
VERTS=$(h5ls "$ROADS/roads" | awk '$1 == "lon" {gsub(/[{}]/, "", $3); print $3}')
SEGS=$((VERTS - ROWS))
echo "roads $ROWS, segments $SEGS ($ROADS), $(nproc) cores, $(date -u +%F)"
echo
echo "| ranks | command wall s | engine wall s | busy s per rank | imbalance | E | segments/s per core | halo rows / own rows | halo box (deg) | links | P / R |"
echo "| ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | --- |"
t1=""
for n in "${RANKS[@]}"; do
  rm -rf "$OUT/run$n"
  mpirun --oversubscribe -np "$n" "$G" links -q --roads "$ROADS" --run "$OUT/run$n"
  python3 - "$OUT/run$n/links.run.json" "$n" "${t1:-}" "$SEGS" <<'PY'
import json, sys
rec = json.load(open(sys.argv[1])); n = int(sys.argv[2]); segs = int(sys.argv[4])
e = rec["engine"]; p = e["per_rank"]; l = e["links"]; g = rec["links"]
wall = e["wall_seconds"]
t1 = float(sys.argv[3]) if sys.argv[3] else wall
score = g.get("score")
pr = f"{score['precision']:.4f} / {score['recall']:.4f}" if score else "-"
print(f"| {n} | {rec['wall_seconds']:.2f} | {wall:.2f} | {', '.join(f'{b:.2f}' for b in p['busy_seconds'])} | "
      f"{e['measured_imbalance']:.3f} | {t1 / (n * wall):.2f} | {segs / (n * wall) / 1e6:.2f} M | "
      f"{l['halo_overhead']:.2f} | {l['halo_deg']['lon']:.4f} x {l['halo_deg']['lat']:.4f} | {g['links']} | {pr} |")
PY
  [ -z "$t1" ] && t1=$(python3 -c "import json;print(json.load(open('$OUT/run$n/links.run.json'))['engine']['wall_seconds'])")
done
