#!/usr/bin/env bash
# Plan balance benchmark (docs/benchmarks.md, "plan balance"): makes the synthetic region's road
# table when missing, then prints geoshard's planned max/mean load for R = 2..1024 beside Zoltan's
# HSFC and a plain quantile cut on the same tasks, and the engine's own cost per task.
#   bench/plan_balance/run.sh [SEGMENTS] [BUILD_DIR] [DATA_DIR]
set -euo pipefail
SEGMENTS=${1:-30000000}
BUILD=${2:-$(cd "$(dirname "$0")/../.." && pwd)/build}
DATA=${3:-/tmp/geoshard-bench-$SEGMENTS}
G=$BUILD/apps/geoshard
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
if [ ! -f "$DATA/roads.h5" ]; then
  "$G" synth --segments "$SEGMENTS" --seed 1 --out "$DATA" --overwrite
  "$G" ingest roads --in "$DATA/roads.fgb" --out "$DATA/roads.h5"
fi
"$BUILD/bench/plan_balance/plan_balance" --roads "$DATA/roads.h5" --json "$DATA/plan_balance.json"
rm -rf "$DATA/overhead-run"
mpirun --oversubscribe -np 2 "$BUILD/bench/plan_balance/engine_overhead" --roads "$DATA/roads.h5" --run "$DATA/overhead-run"
rm -rf "$DATA/overhead-run"
