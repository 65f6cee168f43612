# Shared by the shell tests that run geoshard jobs under mpirun and inspect run folders
# (engine_kill_test, blur_kill_test, pipeline_test, output_lost_test). Source it:
#   . "$(dirname "$0")/../testing/run_lib.sh"
# mpirun as root (TOOLCHAIN.md), more ranks than cores, and no CMA single-copy (containers).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none

fail() { echo "FAIL: $*" >&2; exit 1; }

# json_num FILE KEY: the first integer value of "KEY" in a JSON file (run records).
json_num() { grep -o "\"$2\": *[0-9]*" "$1" | head -1 | grep -o '[0-9]*$'; }

# dump MAP.gpkg: both tables of a map as canonical CSV (header, then rows sorted), to compare
# maps from different runs byte for byte.
dump() {
  for layer in roads road_areas; do
    echo "== $layer"
    ogr2ogr -f CSV /vsistdout/ "$1" "$layer" -lco GEOMETRY=AS_WKT | { IFS= read -r header; echo "$header"; LC_ALL=C sort; }
  done
}

# committed_flag SHARD.h5: the shard's /shard/complete attribute (1 once committed), or nothing.
committed_flag() { h5dump -a /shard/complete "$1" 2>/dev/null | grep -o '(0): [0-9]*' | grep -o '[0-9]*$'; }

# count_shards RUN: shards under their final names in RUN/shards.
count_shards() { (find "$1/shards" -name 'task-*.h5' 2>/dev/null || true) | wc -l; }

# all_committed RUN WHAT: fails unless every shard under a final name in RUN/shards is committed.
all_committed() {
  local f
  for f in "$1"/shards/task-*.h5; do
    [ -e "$f" ] || continue
    [ "$(committed_flag "$f")" = 1 ] || fail "$2: $f is visible but not committed"
  done
}
