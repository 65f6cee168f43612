#!/usr/bin/env bash
# The blur job on the engine at 1 and 2 ranks (or the rank counts given) on the real photos of
# ../shared/data (40 eu car photos, 5 ccpd plates, 4 VOC group photos, 2 panoramas; COPIES times): wall time,
# megapixels/s, busy time per rank, measured imbalance, strong-scaling efficiency E = t1/(N tN)
# and the stage seconds of blur-summary.json.
#   bench/blur_scaling/run.sh [RANKS...]        (default ranks: 1 2)
# The photos get made-up capture points spread over a few geohash cells (a manifest), so the
# engine has tasks to share; MODELS= picks a models file (default: the shipped one).
# Prints a markdown table; runs stay in $OUT (default /tmp/geoshard-blur-scaling).
set -euo pipefail
if [ $# -gt 0 ]; then RANKS=("$@"); else RANKS=(1 2); fi
HERE=$(cd "$(dirname "$0")" && pwd)
G=${GEOSHARD:-$HERE/../../build/apps/geoshard}
DATA=${DATA:-$HERE/../../../shared/data}
OUT=${OUT:-/tmp/geoshard-blur-scaling}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -d "$DATA/plates/eu" ] || { echo "no $DATA (../shared/data): nothing to measure" >&2; exit 2; }
# COPIES (default 3) copies of the set: one 4096x2048 panorama is ~70 % of one set's detector
# work, so a single set cannot be balanced photo by photo.
COPIES=${COPIES:-3}
rm -rf "$OUT" && mkdir -p "$OUT/in"
for c in $(seq 1 "$COPIES"); do
  for f in "$DATA"/plates/eu/*.jpg "$DATA"/plates/ccpd-*.jpg "$DATA"/faces/*.jpg "$DATA"/pano360/*.jpg; do
    cp "$f" "$OUT/in/c$c-$(basename "$f")"
  done
done
# Manifest: photos on a 0.01° grid around Singapore (about 1 km apart); panoramas as equirect.
python3 - "$OUT" <<'PY'
import os, sys
out = sys.argv[1]
files = sorted(f for f in os.listdir(out + "/in") if f.endswith(".jpg"))
with open(out + "/in/manifest.csv", "w") as m:
    m.write("path,lat,lon,projection\n")
    for i, f in enumerate(files):
        proj = "equirect" if "equirect" in f else "perspective"
        m.write(f"{f},{1.28 + 0.01 * (i % 7):.4f},{103.80 + 0.01 * (i // 7):.4f},{proj}\n")
PY
"$G" ingest images --manifest "$OUT/in/manifest.csv" --out "$OUT/images.h5" >/dev/null
echo "| ranks | photos | MP | wall s (engine) | MP/s | busy s per rank | measured imbalance | efficiency E | decode / views / detect / back-project / blur / encode s |"
echo "| ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |"
t1=""
for n in "${RANKS[@]}"; do
  mpirun --oversubscribe -np "$n" "$G" blur -q --images "$OUT/images.h5" --run "$OUT/run$n" --out "$OUT/out$n" \
    ${MODELS:+--models "$MODELS"} --partition-precision 4
  python3 - "$OUT/run$n" "$OUT/out$n" "$n" "${t1:-}" <<'PY'
import json, sys, glob
run, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
rec = json.load(open((glob.glob(run + "/*run.json") + glob.glob(run + ".run.json"))[0])); e = rec["engine"]; p = e["per_rank"]
s = json.load(open(glob.glob(out + "/blur-summary.json")[0]))
wall = e["wall_seconds"]; t1 = float(sys.argv[4]) if sys.argv[4] else wall
st = s["stage_seconds_total"]
stages = " / ".join(f"{st[k]:.1f}" for k in ["decode", "views", "detect", "backproject", "blur", "encode"])
mp = s["megapixels_written"]
print(f"| {n} | {s['images']} | {mp:.1f} | {wall:.1f} | {mp / wall:.2f} | {', '.join(f'{b:.1f}' for b in p['busy_seconds'])} | "
      f"{e['measured_imbalance']:.3f} | {t1 / (n * wall):.2f} | {stages} |")
PY
  [ -z "$t1" ] && t1=$(python3 -c "import json,glob;print(json.load(open((glob.glob('$OUT/run$n/*run.json')+glob.glob('$OUT/run$n.run.json'))[0]))['engine']['wall_seconds'])")
done
