#!/usr/bin/env bash
# Intersection links on the real OSM extracts of ../shared/data: the whole pipeline per region
# (ingest roads and admin areas, cover, localise, links, gather --links), a PNG of the whole map
# (in the work folder) and, for a sample of the links found, a close-up labelled with the OSM tags of the link and of
# its two carriageways, for a person to judge (docs/links.md "Real data").
#   bench/links/real_figures.sh [SAMPLES_PER_REGION]     (default 3)
# Pictures go to $FIG (default docs/figures/links), work files to $OUT (default /tmp/geoshard-links-real).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
G=${GEOSHARD:-$ROOT/build/apps/geoshard}
DATA=${DATA:-$ROOT/../shared/data}
OUT=${OUT:-/tmp/geoshard-links-real}
FIG=${FIG:-$ROOT/docs/figures/links}
N=${1:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
[ -d "$DATA/osm" ] || { echo "no $DATA/osm: the real extracts are needed" >&2; exit 1; }
mkdir -p "$OUT" "$FIG"

run_region() {  # name pbf areas-source source-layer where id-field name-field
  local name=$1 pbf=$2 src=$3 slayer=$4 where=$5 idf=$6 namef=$7 d="$OUT/$1"
  rm -rf "$d" && mkdir -p "$d"
  "$G" ingest roads -q --in "$pbf" --out "$d/roads.h5"
  "$G" ingest areas -q --in "$src" --layer admin --source-layer "$slayer" --where "$where" \
    --id-field "$idf" --name-field "$namef" --out "$d/areas.h5"
  "$G" cover -q --areas "$d/areas.h5" --precision 8 --out "$d/coverage.h5"
  mpirun --oversubscribe -np 2 "$G" localise -q --roads "$d/roads.h5" --coverage "$d/coverage.h5" --run "$d/run"
  mpirun --oversubscribe -np 2 "$G" links -q --roads "$d/roads.h5" --run "$d/links-run" --out "$d/links.csv" --links-only
  "$G" gather -q --run "$d/run" --links "$d/links-run" --out "$d/map.gpkg"
  "$G" render --map "$d/map.gpkg" --areas "$d/areas.h5" --layer admin --out "$d/map.png" --width 900
  local links
  links=$(tail -n +2 "$d/links.csv" | wc -l)
  echo "$name: $(ogrinfo -ro -q "$d/map.gpkg" -sql 'SELECT COUNT(*) FROM roads' | awk -F'= ' '/=/{print $2}') roads, $links links"
  # An evenly spaced sample of the links (the CSV is in table order: deterministic).
  if [ "$links" -gt 0 ]; then
    local step=$(( (links + N - 1) / N ))
    tail -n +2 "$d/links.csv" | awk -F, -v s="$step" '(NR - 1) % s == 0 {print $2}' | while read -r id; do
      "$G" render --map "$d/map.gpkg" --areas "$d/areas.h5" --layer admin --around "$id" --around-m 70 \
        --label-links --width 800 --out "$FIG/$name-link-$id.png"
    done
  fi
}

run_region bayfront "$DATA/osm/singapore-bayfront-2019.osm.pbf" "$DATA/boundaries/singapore_ura_mp2019.gpkg" \
  subzone "" SUBZONE_N SUBZONE_N
run_region monaco "$DATA/osm/monaco-2026.osm.pbf" "$DATA/osm/monaco-2026.osm.pbf" \
  multipolygons "boundary='administrative'" osm_id name
run_region liechtenstein "$DATA/osm/liechtenstein-2013.osm.pbf" "$DATA/osm/liechtenstein-2013.osm.pbf" \
  multipolygons "boundary='administrative'" osm_id name
