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

# kill_rank_mid_run RUN LOG WANT VICTIM TOTAL CMD...: starts CMD (an mpirun of a job whose run
# folder is RUN) in the background, output to LOG, and SIGKILLs the rank whose
# OMPI_COMM_WORLD_RANK is VICTIM (a child of mpirun) once WANT shards are under their final names
# in RUN/shards; mpirun must then fail. On a loaded machine the poll can lag so far behind the
# run that the run ends (or the victim leaves) before the kill lands: such an attempt is
# discarded (mpirun left to finish, RUN removed) and repeated with the kill point at TOTAL / 10,
# up to 3 attempts in all. Sets KILL_WANT to the kill point of the attempt that landed.
kill_rank_mid_run() {
  local run=$1 log=$2 want=$3 victim=$4 total=$5 attempt mpid pid c n
  shift 5
  for attempt in 1 2 3; do
    rm -rf "$run"
    "$@" >"$log" 2>&1 &
    mpid=$!
    for _ in $(seq 1 6000); do
      n=$(count_shards "$run")
      [ "$n" -ge "$want" ] && break
      kill -0 "$mpid" 2>/dev/null || break
      sleep 0.01
    done
    pid=""
    for c in $(pgrep -P "$mpid" || true); do
      if tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$victim"; then pid=$c; fi
    done
    if [ -n "$pid" ]; then
      kill -KILL "$pid"
      if wait "$mpid"; then fail "mpirun exited 0 after rank $victim was killed"; fi
      KILL_WANT=$want
      return 0
    fi
    wait "$mpid" || true
    echo "attempt $attempt: rank $victim not found before the run ended (kill point $want shards); again at 10 %"
    want=$((total / 10))
  done
  fail "rank $victim not found in 3 attempts (the run ended before $want shards?)"
}
