# Shell functions shared by the benchmark scripts (sourced; needs $G, the geoshard binary).

# bench_region DIR SEGMENTS -> prints DIR/s<SEGMENTS>, a folder with roads.h5 and areas.h5 of a
# synthetic region (synth seed 1), made once and kept.
bench_region() {
  local d="$1/s$2"
  if [ ! -f "$d/areas.h5" ]; then
    echo "[bench] synthetic region of $2 segments in $d" >&2
    "$G" synth -q --segments "$2" --seed 1 --out "$d/region" --overwrite
    "$G" ingest roads -q --in "$d/region/roads.fgb" --out "$d/roads.h5"
    "$G" ingest areas -q --spec "$d/region/areas.toml" --out "$d/areas.h5"
  fi
  echo "$d"
}
