#!/usr/bin/env bash
# Ingest scale benchmark: synth N segments, then `geoshard ingest roads` and `ingest areas`,
# side by side with the peer `ogr2ogr -f FlatGeobuf` (GDAL's own read + Hilbert-sort
# (spatial index) + write of the same roads), one process each, same machine, same run.
#   bench/ingest/run.sh [N ...]        (default: 1000000)
# Prints a markdown table (seconds, peak RSS) to stdout; scratch in $BENCH_DIR (default /tmp).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
G=${GEOSHARD:-$ROOT/build/apps/geoshard}
DIR=${BENCH_DIR:-/tmp/geoshard-bench-ingest}
SIZES=("$@"); [ ${#SIZES[@]} -gt 0 ] || SIZES=(1000000)
mkdir -p "$DIR"
measure() {  # command... -> "seconds peak_kib"
  /usr/bin/time -o "$DIR/time.txt" -f "%e %M" "$@" >/dev/null 2>&1
  tail -1 "$DIR/time.txt"
}
echo "| segments | roads | step | seconds | peak RSS (MiB) | output (MiB) |"
echo "| ---: | ---: | --- | ---: | ---: | ---: |"
for N in "${SIZES[@]}"; do
  R=$DIR/n$N; rm -rf "$R"; mkdir -p "$R"
  read -r s m < <(measure "$G" synth -q --segments "$N" --seed 1 --out "$R/region")
  roads=$(python3 -c "import json;print(json.load(open('$R/region/run.json'))['synth']['roads'])")
  size=$(du -m "$R/region/roads.fgb" | cut -f1)
  echo "| $N | $roads | geoshard synth | $s | $((m/1024)) | $size (roads.fgb) |"
  read -r s m < <(measure "$G" ingest roads -q --in "$R/region/roads.fgb" --out "$R/roads.h5")
  g_s=$s
  echo "| $N | $roads | geoshard ingest roads | $s | $((m/1024)) | $(du -m "$R/roads.h5" | cut -f1) |"
  read -r s m < <(measure ogr2ogr -f FlatGeobuf -lco SPATIAL_INDEX=YES "$R/peer.fgb" "$R/region/roads.fgb")
  echo "| $N | $roads | peer: ogr2ogr -f FlatGeobuf (Hilbert-sorted) | $s | $((m/1024)) | $(du -m "$R/peer.fgb" | cut -f1) |"
  echo "| $N | $roads | ratio ingest / peer | $(python3 -c "print(f'{$g_s/max($s,1e-9):.2f}')") | | |"
  read -r s m < <(measure "$G" ingest areas -q --spec "$R/region/areas.toml" --out "$R/areas.h5")
  echo "| $N | $roads | geoshard ingest areas | $s | $((m/1024)) | $(du -m "$R/areas.h5" | cut -f1) |"
  [ -n "${KEEP:-}" ] || rm -rf "$R"
done
