#!/usr/bin/env bash
# bench/scaling/run.sh and bench/cost/run.sh end to end under mpirun on a 60,000-segment
# synthetic region: every CSV has its rows and columns with values that add up (speedup and
# efficiency from the walls, cost = node-hours x price, wall = cover + localise), the PNGs are
# PNGs, the cost summary names the cheapest option within the deadline (checked against
# options.csv), and bad options fail with a message.
#   bench_scripts_test.sh GEOSHARD_BINARY REPO_ROOT
set -euo pipefail
export GEOSHARD=$1
ROOT=$2
W=$(mktemp -d /tmp/geoshard-bench-XXXXXX)
trap 'rm -rf "$W"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
is_png() { [ "$(head -c 8 "$1" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "$1 is not a PNG"; }
have_gnuplot=0
command -v gnuplot >/dev/null && have_gnuplot=1

# ---- scaling: strong and weak, 1 and 2 ranks ----
"$ROOT/bench/scaling/run.sh" --job localise --mode both --ranks "1 2" --segments 60000 --out "$W/scaling" 2>"$W/scaling.log" ||
  { cat "$W/scaling.log" >&2; fail "scaling run.sh failed"; }
python3 - "$W/scaling/scaling.csv" "$W/scaling/busy.csv" <<'PY' || exit 1
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert [(r["mode"], r["ranks"]) for r in rows] == [("strong", "1"), ("strong", "2"), ("weak", "1"), ("weak", "2")], rows
for mode in ("strong", "weak"):
    a, b = [r for r in rows if r["mode"] == mode]
    t1, t2 = float(a["wall_s"]), float(b["wall_s"])
    assert t1 > 0 and t2 > 0
    assert abs(float(b["speedup"]) - t1 / t2) < 1e-3 * t1 / t2, b
    eff = t1 / (2 * t2) if mode == "strong" else t1 / t2
    assert abs(float(b["efficiency"]) - eff) < 1e-3 * eff + 1e-4, b
    assert float(a["speedup"]) == 1.0 and float(a["efficiency"]) == 1.0, a
    assert int(b["segments"]) == (60000 if mode == "strong" else 120000), b
    assert len(b["git_revision"]) >= 7, b
    assert float(b["imbalance"]) >= 1.0, b
busy = list(csv.DictReader(open(sys.argv[2])))
assert len(busy) == 6, busy  # 1 + 2 ranks, two modes
print("scaling ok")
PY
if [ $have_gnuplot = 1 ]; then for f in strong weak busy; do is_png "$W/scaling/$f.png"; done; fi

# ---- cost: 1 node x {1, 2} ranks x 1 thread x grid {4, 5} x partition {2, 3} ----
"$ROOT/bench/cost/run.sh" --segments 60000 --ranks-per-node "1 2" --threads 1 --precision "4 5" \
  --partition-precision "2 3" --deadline 1h --out "$W/cost" 2>"$W/cost.log" ||
  { cat "$W/cost.log" >&2; fail "cost run.sh failed"; }
python3 - "$W/cost" "$ROOT/bench/cost/prices-aws-example.toml" <<'PY' || exit 1
import csv, sys, tomllib
d = sys.argv[1]
prices = tomllib.load(open(sys.argv[2], "rb"))["machine"]
points = list(csv.DictReader(open(d + "/points.csv")))
assert len(points) == 8, len(points)
assert sorted((p["ranks_per_node"], p["grid_precision"], p["partition_precision"]) for p in points) == \
    sorted((r, g, q) for r in "12" for g in "45" for q in "23")
steps = list(csv.DictReader(open(d + "/steps.csv")))
assert len(steps) == 8
for s in steps:
    assert abs(float(s["cover_s"]) + float(s["localise_s"]) - float(s["wall_s"])) < 2e-4, s
for p in points:
    assert float(p["wall_s"]) > 0 and int(p["peak_rss_per_rank_bytes"]) > 1 << 20, p
opts = list(csv.DictReader(open(d + "/options.csv")))
assert len(opts) == 8 * len(prices), len(opts)
for o in opts:
    m = prices[o["machine"]]
    cores_ok = int(o["ranks_per_node"]) * int(o["threads_per_rank"]) <= m["cores"]
    mem_ok = int(o["ranks_per_node"]) * int(o["peak_rss_per_rank_bytes"]) * 1.25 <= m["memory_gib"] * 2**30
    assert o["fits"] == ("1" if cores_ok and mem_ok else "0"), o
    cost = int(o["nodes"]) * float(o["runtime_s"]) / 3600 * m["price_per_hour"]
    assert abs(float(o["cost"]) - cost) <= 1e-8 + 1e-6 * cost, (o, cost)
    assert o["deadline_s"] == "3600.000", o
fits = [o for o in opts if o["fits"] == "1"]
front = [o for o in fits if o["pareto"] == "1"]
assert front, "empty front"
for o in fits:  # nothing on the front is beaten by another option
    if o["pareto"] == "1":
        for b in fits:
            rb, cb, ro, co = float(b["runtime_s"]), float(b["cost"]), float(o["runtime_s"]), float(o["cost"])
            assert not (rb <= ro and cb <= co and (rb < ro or cb < co)), (o, b)
cheapest = min(fits, key=lambda o: (float(o["cost"]), float(o["runtime_s"])))
summary = open(d + "/summary.txt").read()
assert "Cheapest within the deadline of 60.0 min: " + cheapest["config"] in summary, (summary, cheapest["config"])
assert len(list(csv.DictReader(open(d + "/pareto.csv")))) == len(front)
print("cost ok")
PY
if [ $have_gnuplot = 1 ]; then for f in cost runtime; do is_png "$W/cost/$f.png"; done; fi

# ---- bad options and inputs ----
if "$ROOT/bench/cost/run.sh" --launcher mpirun --nodes "1 2" --out "$W/bad" 2>"$W/bad.log"; then fail "--nodes 2 under mpirun accepted"; fi
grep -q "needs --launcher slurm" "$W/bad.log" || fail "no message for --nodes under mpirun: $(cat "$W/bad.log")"
if "$ROOT/bench/cost/run.sh" --prices "$W/none.toml" --out "$W/bad" 2>"$W/bad.log"; then fail "missing price table accepted"; fi
grep -q "no price table" "$W/bad.log" || fail "no message for a missing price table"
if "$ROOT/bench/scaling/run.sh" --nodes "1 2" --out "$W/bad" 2>"$W/bad.log"; then fail "scaling --nodes under mpirun accepted"; fi
printf 'nodes,ranks_per_node,threads_per_rank,wall_s\n1,1,1,abc\n' >"$W/p.csv"
if "$GEOSHARD" cost --points "$W/p.csv" --prices "$ROOT/bench/cost/prices-aws-example.toml" --out "$W/o" 2>"$W/bad.log"; then
  fail "bad points file accepted"
fi
grep -q "p.csv:2 column 'wall_s': 'abc' is not a number" "$W/bad.log" || fail "unclear error: $(cat "$W/bad.log")"
printf 'nodes,ranks_per_node,threads_per_rank,wall_s\n1,1,1,5\n' >"$W/p.csv"
if "$GEOSHARD" cost --points "$W/p.csv" --prices "$ROOT/bench/cost/prices-aws-example.toml" --out "$W/o" --deadline soon 2>"$W/bad.log"; then
  fail "bad deadline accepted"
fi
grep -q "'soon' is not a duration" "$W/bad.log" || fail "unclear error: $(cat "$W/bad.log")"
echo "PASS"
