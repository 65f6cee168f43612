#!/usr/bin/env bash
# A corpus of bad inputs, each with the outcome geoshard promises (docs/reliability.md, "Bad inputs"):
#   (a) repaired and counted   (the count read from the run record: <out>.run.json)
#   (b) dead-lettered          (a line of <out>.dead-letter.jsonl with the record and reason code)
#   (c) a clear error          (exit code 1 or 2, a message naming the input file, and its line
#                               or record where there is one)
# and never a crash (exit code >= 128, "Segmentation", "Aborted", "terminate called").
# Every run record written is checked for records_in == records_out + dead_letter_total.
#
# Every input is generated here, in a temporary folder: python3 (standard library only),
# GDAL's ogr2ogr / gdal_translate, and `geoshard synth` for valid baselines. Nothing is
# downloaded. The truncated .osm.pbf case uses ../shared/data when present (skipped otherwise);
# the full-disk case needs `mount -t tmpfs` (skipped when it is not allowed).
#
# usage: bad_inputs_test.sh GEOSHARD_EXE SOURCE_DIR
# Exit: 0 all cases as expected, 1 a case failed, 77 a needed tool is missing.
set -u
G=${1:?usage: bad_inputs_test.sh GEOSHARD_EXE SOURCE_DIR}
SRC=${2:?usage: bad_inputs_test.sh GEOSHARD_EXE SOURCE_DIR}
G=$(readlink -f "$G")
for tool in python3 ogr2ogr ogrinfo gdal_translate; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "SKIP: $tool is not installed (python3 and GDAL's command-line tools are needed)"
    exit 77
  fi
done
[ -x "$G" ] || { echo "FAIL: no geoshard executable at $G"; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export CPL_LOG=/dev/null

T=$(mktemp -d /tmp/geoshard-bad-inputs.XXXXXX)
MOUNTED=""
KEEP=${GEOSHARD_KEEP_TMP:-}  # set GEOSHARD_KEEP_TMP=1 to keep the inputs and logs
cleanup() {
  [ -n "$MOUNTED" ] && umount "$MOUNTED" 2>/dev/null
  if [ -n "$KEEP" ]; then echo "inputs and logs kept in $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT
mkdir -p "$T/log"
cd "$T" || exit 1
START=$(date +%s)

# ---------------------------------------------------------------- helpers
cat > "$T/chk.py" <<'PY'
# Assertions on run records and dead-letter files, batched: python starts once per case.
# stdin: checks separated by \x1e, fields by \x1f: WHAT CHECK ARGS... Prints "WHAT: why" for
# each failed check; exit 1 when any failed.
import json, re, sys

class Fail(Exception):
    pass

def load(p):
    with open(p, encoding="utf-8") as f:
        return json.load(f)

def get(j, path):
    for k in path.split("."):
        if isinstance(j, list):
            j = j[int(k)]
        else:
            if k not in j:
                raise Fail("no key %r in %s" % (k, path))
            j = j[k]
    return j

def dead_letters(p):
    out = []
    with open(p, encoding="utf-8") as f:  # must itself be valid UTF-8 and JSON
        for n, line in enumerate(f, 1):
            d = json.loads(line)
            for k in ("source", "record", "reason", "message"):
                if k not in d:
                    raise Fail("%s:%d: dead letter without %r" % (p, n, k))
            out.append(d)
    return out

def check(cmd, a):
    if cmd == "acct":  # RECORD: records_in == records_out + dead_letter_total
        j = load(a[0])
        i, o, d = j["records_in"], j["records_out"], j["dead_letter_total"]
        if i != o + d:
            raise Fail("accounting broken in %s: records_in %d != records_out %d + dead_letter_total %d" % (a[0], i, o, d))
        if sum(j.get("dead_letter", {}).values()) != d:
            raise Fail("%s: dead_letter counts do not add up to dead_letter_total %d" % (a[0], d))
    elif cmd == "counts":  # RECORD IN OUT DEAD
        j = load(a[0])
        got = (j["records_in"], j["records_out"], j["dead_letter_total"])
        want = tuple(int(x) for x in a[1:4])
        if got != want:
            raise Fail("%s: (records_in, records_out, dead_letter_total) = %s, expected %s" % (a[0], got, want))
    elif cmd == "eq":  # RECORD KEY.PATH VALUE (compared as JSON when it parses, else as a string)
        v = get(load(a[0]), a[1])
        try:
            want = json.loads(a[2])
        except ValueError:
            want = a[2]
        if v != want:
            raise Fail("%s: %s = %r, expected %r" % (a[0], a[1], v, want))
    elif cmd in ("ge", "lt"):  # RECORD KEY.PATH NUMBER
        v = get(load(a[0]), a[1])
        if not (v >= float(a[2]) if cmd == "ge" else v < float(a[2])):
            raise Fail("%s: %s = %r, expected %s %s" % (a[0], a[1], v, ">=" if cmd == "ge" else "<", a[2]))
    elif cmd in ("has", "hasnot"):  # RECORD KEY.PATH VALUE: a list (not) containing VALUE
        v = get(load(a[0]), a[1])
        if (a[2] in v) != (cmd == "has"):
            raise Fail("%s: %s = %r %s %r" % (a[0], a[1], v, "does not contain" if cmd == "has" else "contains", a[2]))
    elif cmd == "contains":  # RECORD KEY.PATH TEXT: a string value containing TEXT
        v = get(load(a[0]), a[1])
        if a[2] not in str(v):
            raise Fail("%s: %s = %r does not contain %r" % (a[0], a[1], v, a[2]))
    elif cmd == "dl":  # DEADLETTERS RECORD REASON [MESSAGE-SUBSTRING]; RECORD "re:..." = regex
        ds = dead_letters(a[0])
        rec, reason = a[1], a[2]
        m = (lambda r: re.fullmatch(rec[3:], r)) if rec.startswith("re:") else (lambda r: r == rec)
        hits = [d for d in ds if m(d["record"])]
        if not hits:
            raise Fail("%s: no dead letter for record %r (have: %s)" % (a[0], rec, [d["record"] for d in ds]))
        if not any(d["reason"] == reason for d in hits):
            raise Fail("%s: record %r dead-lettered as %s, expected %s" % (a[0], rec, [d["reason"] for d in hits], reason))
        if len(a) > 3 and not any(a[3] in d["message"] for d in hits if d["reason"] == reason):
            raise Fail("%s: record %r: message %r does not say %r" % (a[0], rec, [d["message"] for d in hits], a[3]))
    elif cmd == "nodl":  # DEADLETTERS RECORD: the record is not dead-lettered
        hits = [d for d in dead_letters(a[0]) if d["record"] == a[1]]
        if hits:
            raise Fail("%s: record %r was dead-lettered: %s" % (a[0], a[1], hits))
    elif cmd == "dlcount":  # DEADLETTERS N
        n = len(dead_letters(a[0]))
        if n != int(a[1]):
            raise Fail("%s: %d dead letters, expected %s" % (a[0], n, a[1]))
    elif cmd == "magic":  # FILE HEX: the file starts with these bytes
        with open(a[0], "rb") as f:
            head = f.read(len(a[1]) // 2)
        if head != bytes.fromhex(a[1]):
            raise Fail("%s starts with %s, expected %s" % (a[0], head.hex(), a[1]))
    else:
        raise Fail("chk.py: unknown check " + cmd)

failed = False
for rec in sys.stdin.buffer.read().split(b"\x1e"):
    if not rec:
        continue
    what, cmd, *args = [x.decode("utf-8", "surrogateescape") for x in rec.split(b"\x1f")[:-1]]
    try:
        check(cmd, args)
    except (Fail, OSError, ValueError, KeyError, IndexError, TypeError) as e:
        print("%s: %s" % (what, e))
        failed = True
sys.exit(1 if failed else 0)
PY

PASS=0
FAILED=()
KNOWN=()
SKIPPED=()
RECORDS_CHECKED=0

# run LABEL CMD...: runs CMD (stdout/stderr to log/LABEL.{out,err}); RC = its exit code.
run() {
  local label=$1 t0
  shift
  t0=$EPOCHREALTIME
  "$@" >"$T/log/$label.out" 2>"$T/log/$label.err"
  RC=$?
  awk -v a="$t0" -v b="$EPOCHREALTIME" -v l="$label" 'BEGIN { printf "%-20s %6.2f s\n", l, b - a }' >> "$T/log/times"
  ERR="$T/log/$label.err"
  LABEL=$label
}
# Assertions of the case in progress: each failed one adds its reason to CERR.
begin() { CN=$1; CE=$2; CERR=""; : > "$T/checks"; }
need() {  # need WHAT CMD...: CMD must succeed; "chk CHECK ARGS" are batched for the case's end
  local what=$1 out
  shift
  if [ "$1" = chk ]; then
    shift
    printf '%s\x1f' "$what" "$@" >> "$T/checks"
    printf '\x1e' >> "$T/checks"
  elif ! out=$("$@" 2>&1); then
    CERR+="${CERR:+; }$what${out:+: $out}"
  fi
}
no_crash() {  # the last run did not crash
  if [ "$RC" -ge 128 ] || grep -qE 'Segmentation|Aborted|core dumped|terminate called|stack smashing' "$ERR"; then
    CERR+="${CERR:+; }CRASH in run '$LABEL' (exit $RC): $(tail -c 400 "$ERR" | tr '\n' ' ')"
  fi
}
exit_is() {  # exit_is CODE
  no_crash
  [ "$RC" = "$1" ] || CERR+="${CERR:+; }run '$LABEL' exited $RC, expected $1 ($(tail -c 300 "$ERR" | tr '\n' ' '))"
}
says() {  # says TEXT...: stderr of the last run contains every TEXT (fixed strings)
  local s
  for s in "$@"; do
    grep -qF -- "$s" "$ERR" || CERR+="${CERR:+; }run '$LABEL' stderr does not say '$s' (it says: $(tail -c 300 "$ERR" | tr '\n' ' '))"
  done
}
acct() {  # acct RECORD: the accounting of a run record
  need "accounting" chk acct "$1"
  RECORDS_CHECKED=$((RECORDS_CHECKED + 1))
}
run_checks() {  # the batched checks of the case
  local out
  if [ -s "$T/checks" ] && ! out=$(python3 "$T/chk.py" < "$T/checks" 2>&1); then
    CERR+="${CERR:+; }$(echo "$out" | tr '\n' ';')"
  fi
  : > "$T/checks"
}
end() {
  run_checks
  if [ -z "$CERR" ]; then
    echo "case $CN: expected $CE -> ok"
    PASS=$((PASS + 1))
  else
    echo "case $CN: expected $CE -> FAIL: $CERR"
    FAILED+=("$CN")
  fi
}
# A known failure: printed, not fatal (see docs/reliability.md).
end_known() {
  run_checks
  if [ -z "$CERR" ]; then
    echo "case $CN: expected $CE -> ok (known failure $1 no longer reproduces: make the case strict)"
    PASS=$((PASS + 1))
  else
    echo "case $CN: expected $CE -> KNOWN FAILURE ($1): $CERR"
    KNOWN+=("$CN")
  fi
}
skip() { echo "case $1: SKIPPED: $2"; SKIPPED+=("$1"); }

# A regular file: every path below it fails to be created, for root too (chmod does not stop root).
echo "not a folder" > "$T/blocker"
UNWRITABLE="$T/blocker/sub"

# ---------------------------------------------------------------- valid baseline
run synth "$G" synth --segments 2000 --seed 7 --out "$T/syn" -q
begin baseline/synth "a valid synthetic region ingests with no dead letters"
exit_is 0
run base-roads "$G" ingest roads --in "$T/syn/roads.fgb" --out "$T/base-roads.h5" -q
exit_is 0
acct "$T/base-roads.h5.run.json"
need "no dead letters in baseline roads" chk eq "$T/base-roads.h5.run.json" dead_letter_total 0
run base-areas "$G" ingest areas --spec "$T/syn/areas.toml" --out "$T/base-areas.h5" -q
exit_is 0
acct "$T/base-areas.h5.run.json"
need "no dead letters in baseline areas" chk eq "$T/base-areas.h5.run.json" dead_letter_total 0
end

# ---------------------------------------------------------------- roads: GeoJSON
# One feature per bad kind; the run record and dead-letter file are checked per case.
python3 - <<'PY'
import json
feats = []
def f(id_, geom, name=None):
    props = {"id": id_, "highway": "residential", "name": name if name is not None else "road %s" % id_}
    feats.append({"type": "Feature", "properties": props, "geometry": geom})
line = lambda c: {"type": "LineString", "coordinates": c}
f(1, line([[100.0, 1.0], [100.001, 1.001]]))
f(2, line([[100.0, 1.0], [float("nan"), 1.001]]))
f(3, line([[100.0, 1.0], [float("inf"), 1.001]]))
f(4, line([[200.0, 1.0], [100.001, 1.001]]))
f(13, line([[100.0, 1.0], [100.001, -91.0]]))
f(5, line([]))
f(6, line([[100.0, 1.0]]))
f(7, line([[100.0, 1.0], [100.0, 1.0]]))
f(1, line([[100.0, 1.0], [100.002, 1.002]]))
f(8, line([[100.0, 1.0], [100.0, 1.0], [100.003, 1.001]]))
f(9, None)
f(10, {"type": "Point", "coordinates": [100.0, 1.0]})
f("abc", line([[100.0, 1.0], [100.001, 1.001]]))
f(None, line([[100.0, 1.0], [100.001, 1.001]]))
f(12, line([[100.0, 1.0], [100.001, 1.001]]), name="@LATIN1@")
f(14, {"type": "MultiLineString", "coordinates": [[[100.0, 1.0], [100.004, 1.0]], [[100.01, 1.0]]]})
text = json.dumps({"type": "FeatureCollection", "features": feats})  # NaN/Infinity as GDAL reads them
with open("roads-bad.geojson", "wb") as out:
    out.write(text.encode().replace(b"@LATIN1@", b"caf\xe9 street"))  # not UTF-8
PY
R=$T/roads-bad.h5
run roads-geojson "$G" ingest roads --in "$T/roads-bad.geojson" --out "$R" --max-bad-fraction 1 -q
roads_case() {  # roads_case NAME EXPECT RECORD REASON
  begin "roads-geojson/$1" "$2"
  exit_is 0
  acct "$R.run.json"
  need "dead letter" chk dl "$R.dead-letter.jsonl" "$3" "$4"
  end
}
roads_case nan-coordinate "dead letter NON_FINITE_COORDINATE (record 2)" 2 NON_FINITE_COORDINATE
roads_case inf-coordinate "dead letter NON_FINITE_COORDINATE (record 3)" 3 NON_FINITE_COORDINATE
roads_case lon-200 "dead letter COORDINATE_OUT_OF_RANGE (record 4)" 4 COORDINATE_OUT_OF_RANGE
roads_case lat-minus-91 "dead letter COORDINATE_OUT_OF_RANGE (record 13)" 13 COORDINATE_OUT_OF_RANGE
roads_case empty-line "dead letter EMPTY_GEOMETRY (record 5)" 5 EMPTY_GEOMETRY
roads_case one-point-line "dead letter TOO_FEW_POINTS (record 6)" 6 TOO_FEW_POINTS
roads_case two-equal-points "dead letter TOO_FEW_POINTS (record 7)" 7 TOO_FEW_POINTS
roads_case duplicate-id "dead letter DUPLICATE_ID (second record 1; the first kept)" 1 DUPLICATE_ID
roads_case null-geometry "dead letter NO_GEOMETRY (record 9)" 9 NO_GEOMETRY
roads_case point-as-road "dead letter UNSUPPORTED_GEOMETRY (record 10)" 10 UNSUPPORTED_GEOMETRY
roads_case text-id "dead letter INVALID_ID (record abc)" abc INVALID_ID
roads_case null-id "dead letter MISSING_ID (record fid:N)" 're:fid:[0-9]+' MISSING_ID
roads_case non-utf8-name "dead letter INVALID_UTF8 (record 12)" 12 INVALID_UTF8
begin roads-geojson/duplicate-vertices "repaired and counted: ingest.repaired in roads-bad.h5.run.json (records 8 and 14)"
exit_is 0
need "record 8 kept" chk nodl "$R.dead-letter.jsonl" 8
need "record 14 kept" chk nodl "$R.dead-letter.jsonl" 14
need "repaired count" chk eq "$R.run.json" ingest.repaired 2
end
begin roads-geojson/accounting "16 in = 3 out + 13 dead letters, exactly (nothing dropped silently)"
exit_is 0
need "counts" chk counts "$R.run.json" 16 3 13
need "dead-letter lines" chk dlcount "$R.dead-letter.jsonl" 13
need "rows" chk eq "$R.run.json" ingest.rows 3
end

# --max-bad-fraction: the same input with the default 0.05 fails with exit 3 and says why.
R2=$T/roads-bad-default.h5
run roads-max-bad "$G" ingest roads --in "$T/roads-bad.geojson" --out "$R2" -q
begin roads-geojson/max-bad-fraction "exit 3, status too_many_bad_records, the summary says why; outputs written"
exit_is 3
says "13 of 16 records are dead letters" "--max-bad-fraction"
acct "$R2.run.json"
need "status" chk eq "$R2.run.json" status too_many_bad_records
need "error says why" chk contains "$R2.run.json" error "more than --max-bad-fraction"
need "output written" test -s "$R2"
need "dead letters written" chk dlcount "$R2.dead-letter.jsonl" 13
end

# ---------------------------------------------------------------- roads: FlatGeobuf and GeoPackage
python3 - <<'PY'
import json
def feat(id_, coords, name="road"):
    return {"type": "Feature", "properties": {"id": id_, "highway": "primary", "name": name},
            "geometry": {"type": "LineString", "coordinates": coords}}
fs = [feat(1, [[100.0, 1.0], [100.01, 1.0]]), feat(1, [[100.0, 1.1], [100.01, 1.1]]),
      feat(6, [[100.0, 1.0]]), feat(4, [[100.0, 1.0], [181.0, 1.0]]), feat(12, [[100.0, 1.2], [100.01, 1.2]], "cafe")]
json.dump({"type": "FeatureCollection", "features": fs}, open("roads-small.geojson", "w"))
PY
ogr2ogr -f FlatGeobuf "$T/roads-bad.fgb" "$T/roads-small.geojson" 2>"$T/log/ogr-fgb.err"
ogr2ogr -f GPKG -lco FID=fid -lco SPATIAL_INDEX=NO -nln roads "$T/roads-bad.gpkg" "$T/roads-small.geojson" 2>"$T/log/ogr-gpkg.err"
# Non-UTF-8 bytes in a text column, as a GeoPackage written by another tool may hold them.
python3 -c "
import sqlite3; c = sqlite3.connect('roads-bad.gpkg')
c.execute(\"UPDATE roads SET name = CAST(X'636166E9' AS TEXT) WHERE id = 12\"); c.commit()"
for fmt in fgb gpkg; do
  R=$T/roads-$fmt.h5
  run roads-$fmt "$G" ingest roads --in "$T/roads-bad.$fmt" --out "$R" --max-bad-fraction 1 -q
  begin roads-$fmt/duplicate-id "dead letter DUPLICATE_ID (record 1)"
  exit_is 0; acct "$R.run.json"
  need "dead letter" chk dl "$R.dead-letter.jsonl" 1 DUPLICATE_ID
  end
  begin roads-$fmt/one-point-line "dead letter TOO_FEW_POINTS (record 6)"
  exit_is 0; acct "$R.run.json"
  need "dead letter" chk dl "$R.dead-letter.jsonl" 6 TOO_FEW_POINTS
  end
  begin roads-$fmt/lon-181 "dead letter COORDINATE_OUT_OF_RANGE (record 4)"
  exit_is 0; acct "$R.run.json"
  need "dead letter" chk dl "$R.dead-letter.jsonl" 4 COORDINATE_OUT_OF_RANGE
  end
  if [ $fmt = gpkg ]; then
    begin roads-gpkg/non-utf8-name "dead letter INVALID_UTF8 (record 12)"
    exit_is 0; acct "$R.run.json"
    need "dead letter" chk dl "$R.dead-letter.jsonl" 12 INVALID_UTF8
    need "counts" chk counts "$R.run.json" 5 1 4
    end
  else
    begin roads-fgb/accounting "5 in = 2 out + 3 dead letters"
    exit_is 0
    need "counts" chk counts "$R.run.json" 5 2 3
    end
  fi
done

# A GeoPackage without the layer asked for: an error naming the file and the layer.
run roads-gpkg-layer "$G" ingest roads --in "$T/roads-bad.gpkg" --layer streets --out "$T/roads-nolayer.h5" -q
begin roads-gpkg/missing-layer "exit 1, error naming roads-bad.gpkg and the layer 'streets'"
exit_is 1
says "roads-bad.gpkg" "no layer 'streets'"
[ -f "$T/roads-nolayer.h5.run.json" ] && acct "$T/roads-nolayer.h5.run.json"
need "no output" test ! -e "$T/roads-nolayer.h5"
end

# A zero-byte GeoJSON and a file that does not exist.
: > "$T/empty.geojson"
run roads-zero "$G" ingest roads --in "$T/empty.geojson" --out "$T/roads-zero.h5" -q
begin roads/zero-byte-source "exit 1, error naming empty.geojson"
exit_is 1
says "empty.geojson"
end
run roads-missing "$G" ingest roads --in "$T/no-such-roads.fgb" --out "$T/roads-missing.h5" -q
begin roads/missing-source "exit 1, error naming no-such-roads.fgb"
exit_is 1
says "no-such-roads.fgb" "No such file"
end

# A truncated .osm.pbf (a copy of the smallest extract in ../shared/data, cut short).
PBF=$(ls -S "$SRC"/../shared/data/osm/*.osm.pbf 2>/dev/null | tail -1)
if [ -n "$PBF" ]; then
  size=$(stat -c %s "$PBF")
  head -c $((size * 2 / 3)) "$PBF" > "$T/truncated.osm.pbf"
  run roads-pbf "$G" ingest roads --in "$T/truncated.osm.pbf" --out "$T/roads-pbf.h5" -q
  begin roads/truncated-osm-pbf "exit 1, error naming truncated.osm.pbf and where reading stopped"
  exit_is 1
  says "truncated.osm.pbf" "read failed after"
  [ -f "$T/roads-pbf.h5.run.json" ] && { acct "$T/roads-pbf.h5.run.json"; need "status failed" chk eq "$T/roads-pbf.h5.run.json" status failed; }
  need "no output" test ! -e "$T/roads-pbf.h5"
  end
  # A field option on an OSM file: its fields are fixed (it used to be ignored silently).
  run roads-pbf-field "$G" ingest roads --in "$PBF" --class-field railway --out "$T/roads-pbf-field.h5" -q
  begin roads/osm-pbf-field-option "exit 1 before any work, error naming the file, the option and its value"
  exit_is 1
  says "$(basename "$PBF")" "--class-field 'railway'" "does not apply to an OSM file"
  need "no output" test ! -e "$T/roads-pbf-field.h5"
  end
else
  skip roads/truncated-osm-pbf "no .osm.pbf in $SRC/../shared/data/osm (see ../shared/data/README.md)"
  skip roads/osm-pbf-field-option "no .osm.pbf in $SRC/../shared/data/osm"
fi

# Outputs that cannot be written: a path below a regular file (fails for root too).
run roads-unwritable "$G" ingest roads --in "$T/syn/roads.fgb" --out "$UNWRITABLE/roads.h5" -q
begin roads/unwritable-output "exit 1 before any work, error naming the output path"
exit_is 1
says "$UNWRITABLE"
end

# ---------------------------------------------------------------- areas
python3 - <<'PY'
import json, math
feats = []
def f(id_, geom, name=None):
    feats.append({"type": "Feature", "properties": {"area_id": id_, "name": name if name is not None else "area %s" % id_},
                  "geometry": geom})
P = lambda *rings: {"type": "Polygon", "coordinates": list(rings)}
sq = [[100, 0], [101, 0], [101, 1], [100, 1], [100, 0]]
f("ok", P(sq))
f("bowtie", P([[100, 0], [101, 1], [101, 0], [100, 1], [100, 0]]))
f("selfcross", P([[100, 0], [102, 0], [102, 2], [101, -1], [100, 2], [100, 0]]))
f("unclosed", P([[100, 0], [101, 0], [101, 1], [100, 1]]))
f("ring3", P([[100, 0], [101, 0], [100, 0]]))
f("ring2", P([[100, 0], [101, 0]]))
f("hole-outside", P(sq, [[105, 5], [105, 6], [106, 6], [106, 5], [105, 5]]))
f("nan", P([[100, 0], [float("nan"), 0], [101, 1], [100, 0]]))
f("inf", P([[100, 0], [float("-inf"), 0], [101, 1], [100, 0]]))
f("lat95", P([[100, 0], [101, 0], [101, 95], [100, 0]]))
f("antimeridian-181", P([[179, 0], [181, 0], [181, 1], [179, 1], [179, 0]]))
f("antimeridian-split", {"type": "MultiPolygon", "coordinates": [
    [[[179, 0], [180, 0], [180, 1], [179, 1], [179, 0]]], [[[-180, 0], [-179, 0], [-179, 1], [-180, 1], [-180, 0]]]]})
f("ok", P(sq))
f("line", {"type": "LineString", "coordinates": [[100, 0], [101, 1]]})
f("nogeom", None)
f("", P(sq))
f("latin1", P(sq), name="@LATIN1@")
f("spike", P([[100, 0], [101, 0], [102, 0], [100, 0]]))
text = json.dumps({"type": "FeatureCollection", "features": feats})
open("areas-bad.geojson", "wb").write(text.encode().replace(b"@LATIN1@", b"S\xe3o Paulo"))
# A GeoPackage layer with invalid polygons (GPKG stores them as given).
gp = [{"type": "Feature", "properties": {"area_id": i, "name": i}, "geometry": g} for i, g in [
    ("g-ok", P(sq)), ("g-bowtie", P([[100, 0], [101, 1], [101, 0], [100, 1], [100, 0]])),
    ("g-ok", P(sq)), ("g-spike", P([[100, 0], [101, 0], [102, 0], [100, 0]]))]]
json.dump({"type": "FeatureCollection", "features": gp}, open("areas-gpkg.geojson", "w"))
# A huge polygon: a circle of 1,000,000 vertices.
n = 1000000
with open("huge.geojson", "w") as out:
    out.write('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"area_id":"huge","name":"huge"},'
              '"geometry":{"type":"Polygon","coordinates":[[')
    out.write(",".join("[%.9f,%.9f]" % (100 + math.cos(2 * math.pi * i / n), 1 + math.sin(2 * math.pi * i / n))
                       for i in list(range(n)) + [0]))
    out.write("]]}}]}")
PY
ogr2ogr -f GPKG -nln regions "$T/areas-bad.gpkg" "$T/areas-gpkg.geojson" 2>"$T/log/ogr-areas-gpkg.err"
cat > "$T/areas-bad.toml" <<'EOF'
# Bad areas, in a GeoJSON and a GeoPackage layer (docs/formats.md, ingest areas --help).
[[layer]]
name = "bad"
source = "areas-bad.geojson"
id_field = "area_id"
name_field = "name"

[[layer]]
name = "gpkg"
source = "areas-bad.gpkg"
source_layer = "regions"
id_field = "area_id"
name_field = "name"
EOF
A=$T/areas-bad.h5
run areas "$G" ingest areas --spec "$T/areas-bad.toml" --out "$A" --max-bad-fraction 1 -q
areas_dl() {  # areas_dl NAME EXPECT RECORD REASON
  begin "areas/$1" "$2"
  exit_is 0; acct "$A.run.json"
  need "dead letter" chk dl "$A.dead-letter.jsonl" "$3" "$4"
  end
}
areas_repaired() {  # areas_repaired NAME ID [LAYER-INDEX]
  begin "areas/$1" "repaired by make-valid and counted: ingest.layers[${3:-0}].repaired_ids in areas-bad.h5.run.json lists '$2'"
  exit_is 0; acct "$A.run.json"
  need "repaired" chk has "$A.run.json" "ingest.layers.${3:-0}.repaired_ids" "$2"
  need "not dead-lettered" chk nodl "$A.dead-letter.jsonl" "$2"
  end
}
areas_repaired bowtie-polygon bowtie
areas_repaired self-intersecting-polygon selfcross
areas_repaired unclosed-ring unclosed
areas_repaired hole-outside-shell hole-outside
areas_repaired gpkg-bowtie-polygon g-bowtie 1
areas_dl ring-of-3-points "dead letter UNREPAIRABLE_POLYGON (record ring3)" ring3 UNREPAIRABLE_POLYGON
areas_dl ring-of-2-points "dead letter UNREPAIRABLE_POLYGON (record ring2)" ring2 UNREPAIRABLE_POLYGON
areas_dl zero-area-spike "dead letter UNREPAIRABLE_POLYGON (record spike)" spike UNREPAIRABLE_POLYGON
areas_dl nan-coordinate "dead letter NON_FINITE_COORDINATE (record nan)" nan NON_FINITE_COORDINATE
areas_dl inf-coordinate "dead letter NON_FINITE_COORDINATE (record inf)" inf NON_FINITE_COORDINATE
areas_dl lat-95 "dead letter COORDINATE_OUT_OF_RANGE (record lat95)" lat95 COORDINATE_OUT_OF_RANGE
areas_dl antimeridian-lon-181 "dead letter COORDINATE_OUT_OF_RANGE (record antimeridian-181: lon 181 is not wrapped)" antimeridian-181 COORDINATE_OUT_OF_RANGE
areas_dl duplicate-id "dead letter DUPLICATE_ID (second record ok; the first kept)" ok DUPLICATE_ID
areas_dl line-as-area "dead letter UNSUPPORTED_GEOMETRY (record line)" line UNSUPPORTED_GEOMETRY
areas_dl null-geometry "dead letter NO_GEOMETRY (record nogeom)" nogeom NO_GEOMETRY
areas_dl empty-id "dead letter MISSING_ID (record fid:N)" 're:fid:[0-9]+' MISSING_ID
areas_dl non-utf8-name "dead letter INVALID_UTF8 (record latin1)" latin1 INVALID_UTF8
areas_dl gpkg-duplicate-id "dead letter DUPLICATE_ID (record g-ok of the GeoPackage layer)" g-ok DUPLICATE_ID
areas_dl gpkg-zero-area-spike "dead letter UNREPAIRABLE_POLYGON (record g-spike)" g-spike UNREPAIRABLE_POLYGON
begin areas/antimeridian-split "kept as given, not repaired: the RFC 7946 split into two polygons at +-180"
exit_is 0
need "kept" chk nodl "$A.dead-letter.jsonl" antimeridian-split
need "not repaired" chk hasnot "$A.run.json" ingest.layers.0.repaired_ids antimeridian-split
end
begin areas/accounting "layer bad: 18 in = 6 out + 12 dead letters; layer gpkg: 4 in = 2 out + 2 dead letters"
exit_is 0
need "counts" chk counts "$A.run.json" 22 8 14
need "layer bad in" chk eq "$A.run.json" ingest.layers.0.records_in 18
need "layer bad out" chk eq "$A.run.json" ingest.layers.0.records_out 6
need "layer gpkg out" chk eq "$A.run.json" ingest.layers.1.records_out 2
need "repaired total" chk eq "$A.run.json" ingest.repaired 5
end

# Cover the repaired areas: no dead letters (ingest writes only valid polygons).
run cover-areas "$G" cover --areas "$A" --precision 5 --out "$T/areas-bad-cov.h5" -q
begin cover/repaired-areas "cover of the repaired table: exit 0, 8 areas in = 8 out, no dead letters"
exit_is 0
acct "$T/areas-bad-cov.h5.run.json"
need "counts" chk counts "$T/areas-bad-cov.h5.run.json" 8 8 0
end

# The huge polygon: ingested whole, then covered.
run areas-huge "$G" ingest areas --in "$T/huge.geojson" --layer huge --id-field area_id --out "$T/huge.h5" -q
begin areas/huge-polygon "a 1,000,001-vertex polygon is ingested whole (ingest.layers[0].vertices) and covered"
exit_is 0
acct "$T/huge.h5.run.json"
need "counts" chk counts "$T/huge.h5.run.json" 1 1 0
need "vertices" chk ge "$T/huge.h5.run.json" ingest.layers.0.vertices 1000000
run cover-huge "$G" cover --areas "$T/huge.h5" --precision 5 --out "$T/huge-cov.h5" -q
exit_is 0
acct "$T/huge-cov.h5.run.json"
need "cover counts" chk counts "$T/huge-cov.h5.run.json" 1 1 0
end

# Spec files that are wrong: clear errors naming the spec (and line) or the source.
cat > "$T/spec-unknown-key.toml" <<'EOF'
[[layer]]
name = "bad"
source = "areas-bad.geojson"
id_field = "area_id"
colour = "red"
EOF
run spec-unknown "$G" ingest areas --spec "$T/spec-unknown-key.toml" --out "$T/spec1.h5" -q
begin areas-spec/unknown-key "exit 1, error naming spec-unknown-key.toml line 5 and the key 'colour'"
exit_is 1
says "spec-unknown-key.toml:5" "unknown key 'colour'"
end
printf '[[layer]]\nname = "gpkg"\nsource = "areas-bad.gpkg"\nsource_layer = "districts"\nid_field = "area_id"\n' > "$T/spec-missing-layer.toml"
run spec-layer "$G" ingest areas --spec "$T/spec-missing-layer.toml" --out "$T/spec2.h5" -q
begin areas-spec/gpkg-missing-layer "exit 1, error naming areas-bad.gpkg and the missing layer 'districts'"
exit_is 1
says "areas-bad.gpkg" "no layer 'districts'"
need "no output" test ! -e "$T/spec2.h5"
end
printf '[[layer]]\nname = "x"\nsource = "nowhere.gpkg"\nid_field = "id"\n' > "$T/spec-missing-source.toml"
run spec-source "$G" ingest areas --spec "$T/spec-missing-source.toml" --out "$T/spec3.h5" -q
begin areas-spec/missing-source "exit 1, error naming nowhere.gpkg"
exit_is 1
says "nowhere.gpkg"
end
printf '[[layer]]\nname = "x"\nsource = "areas-bad.geojson\nid_field = "area_id"\n' > "$T/spec-syntax.toml"
run spec-syntax "$G" ingest areas --spec "$T/spec-syntax.toml" --out "$T/spec4.h5" -q
begin areas-spec/toml-syntax-error "exit 1, error naming spec-syntax.toml and line 3"
exit_is 1
says "spec-syntax.toml" ":3"
end
printf '[[layer]]\nname = "S\xe3o"\nsource = "areas-bad.geojson"\nid_field = "area_id"\n' > "$T/spec-latin1.toml"
run spec-latin1 "$G" ingest areas --spec "$T/spec-latin1.toml" --out "$T/spec5.h5" -q
begin areas-spec/non-utf8 "exit 1, error naming spec-latin1.toml and line 2"
exit_is 1
says "spec-latin1.toml" ":2"
end
printf '[[layer]]\nname = "bad"\nsource = "areas-bad.geojson"\nid_field = "no_such_field"\n' > "$T/spec-field.toml"
run spec-field "$G" ingest areas --spec "$T/spec-field.toml" --out "$T/spec6.h5" -q
begin areas-spec/missing-id-field "exit 1, error naming areas-bad.geojson and the field 'no_such_field' (and the fields it has)"
exit_is 1
says "areas-bad.geojson" "no field 'no_such_field'" "area_id"
end
run areas-unwritable "$G" ingest areas --spec "$T/syn/areas.toml" --out "$UNWRITABLE/areas.h5" -q
begin areas/unwritable-output "exit 1 before any work, error naming the output path"
exit_is 1
says "$UNWRITABLE"
end
run cover-unwritable "$G" cover --areas "$T/base-areas.h5" --out "$UNWRITABLE/cov.h5" -q
begin cover/unwritable-output "exit 1, error naming the output path"
exit_is 1
says "$UNWRITABLE"
end

# ---------------------------------------------------------------- images
mkdir -p "$T/photos" "$T/big"
python3 - <<'PY'
import os, random, struct, zlib
random.seed(5)
def ppm(path, w, h, noise=False):
    px = bytes(random.randrange(256) for _ in range(w * h * 3)) if noise else \
         b"".join(bytes([(x * 4) % 256, (y * 5) % 256, 128]) for y in range(h) for x in range(w))
    open(path, "wb").write(b"P6\n%d %d\n255\n" % (w, h) + px)
ppm("small.ppm", 64, 48)
ppm("noise.ppm", 128, 128, noise=True)

# 30000 x 30000 pixels, a single grey, written without ever holding the pixels:
def png_grey(path, w, h):  # 1-bit greyscale PNG, rows of zeros streamed through zlib
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    z = zlib.compressobj(9)
    row = b"\0" * (1 + (w + 7) // 8)
    data = b"".join(z.compress(row * 1000) for _ in range(h // 1000)) + z.compress(row * (h % 1000)) + z.flush()
    open(path, "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0))
                           + chunk(b"IDAT", data) + chunk(b"IEND", b""))
def jpeg_grey(path, w, h):  # baseline greyscale JPEG, every block DC 0 / EOB: 2 bits a block
    assert w % 8 == 0 and h % 8 == 0 and (w // 8) * (h // 8) % 4 == 0
    seg = lambda m, d: b"\xff" + m + struct.pack(">H", len(d) + 2) + d
    dqt = seg(b"\xdb", b"\x00" + b"\x01" * 64)
    sof = seg(b"\xc0", struct.pack(">BHHB", 8, h, w, 1) + b"\x01\x11\x00")
    one_code = b"\x01" + b"\x00" * 15 + b"\x00"  # one 1-bit code: symbol 0 (DC size 0 / AC EOB)
    dht = seg(b"\xc4", b"\x00" + one_code) + seg(b"\xc4", b"\x10" + one_code)
    sos = seg(b"\xda", b"\x01\x01\x00\x00\x3f\x00")
    open(path, "wb").write(b"\xff\xd8" + dqt + sof + dht + sos + b"\x00" * ((w // 8) * (h // 8) // 4) + b"\xff\xd9")
png_grey("big/huge-30000.png", 30000, 30000)
jpeg_grey("big/huge-30000.jpg", 30000, 30000)
jpeg_grey("grey-check.jpg", 64, 64)  # the same writer, small enough to decode in the test
PY
gdal_translate -q -of JPEG "$T/small.ppm" "$T/photos/ok.jpg"
gdal_translate -q -of JPEG -outsize 1 1 "$T/small.ppm" "$T/photos/one-pixel.jpg"
gdal_translate -q -of PNG -outsize 1 1 "$T/small.ppm" "$T/photos/one-pixel.png"
gdal_translate -q -of PNG "$T/small.ppm" "$T/photos/png-named.jpg"
gdal_translate -q -of JPEG -co WRITE_EXIF_METADATA=YES -mo "EXIF_GPSLatitude=(123) (0) (0)" -mo EXIF_GPSLatitudeRef=N \
  -mo "EXIF_GPSLongitude=(100) (30) (0)" -mo EXIF_GPSLongitudeRef=E -mo EXIF_Orientation=99 \
  "$T/small.ppm" "$T/photos/exif-lat-123.jpg"
gdal_translate -q -of JPEG -co WRITE_EXIF_METADATA=YES -mo "EXIF_GPSLatitude=(1) (17) (0)" -mo EXIF_GPSLatitudeRef=N \
  -mo "EXIF_GPSLongitude=(103) (51) (0)" -mo EXIF_GPSLongitudeRef=E "$T/small.ppm" "$T/photos/exif-good.jpg"
gdal_translate -q -of JPEG "$T/noise.ppm" "$T/noise.jpg"
: > "$T/photos/zero-bytes.jpg"
python3 - <<'PY'
import random
random.seed(9)
b = open("noise.jpg", "rb").read()
open("photos/truncated.jpg", "wb").write(b[: len(b) // 2])        # header intact, scan cut
c = bytearray(b)
for i in range(len(c) * 3 // 4, len(c) - 2):                       # scan data overwritten
    c[i] = random.choice([0xFF, 0xD0, 0x00, 0x13])
open("photos/corrupt.jpg", "wb").write(bytes(c))
open("photos/garbage.jpg", "wb").write(bytes(random.randrange(256) for _ in range(2000)))
open(b"photos/caf\xe9.jpg", "wb").write(b)                          # non-UTF-8 file name
PY
I=$T/photos.h5
run images "$G" ingest images --in "$T/photos" --out "$I" --max-bad-fraction 1 -q
img_dl() {
  begin "images/$1" "$2"
  exit_is 0; acct "$I.run.json"
  need "dead letter" chk dl "$I.dead-letter.jsonl" "$3" "$4" ${5:+"$5"}
  end
}
img_kept() {
  begin "images/$1" "$2"
  exit_is 0; acct "$I.run.json"
  need "kept" chk nodl "$I.dead-letter.jsonl" "$3"
  end
}
img_dl zero-byte-jpeg "dead letter UNREADABLE_IMAGE (record zero-bytes.jpg)" zero-bytes.jpg UNREADABLE_IMAGE zero-bytes.jpg
img_dl garbage-jpeg "dead letter UNREADABLE_IMAGE (record garbage.jpg)" garbage.jpg UNREADABLE_IMAGE garbage.jpg
img_dl non-utf8-file-name "dead letter INVALID_UTF8 (record caf\\xE9.jpg)" 'caf\xE9.jpg' INVALID_UTF8
img_kept one-pixel-jpeg "indexed (1x1 pixels), blurred below" one-pixel.jpg
img_kept one-pixel-png "indexed (1x1 pixels)" one-pixel.png
img_kept png-named-jpg "indexed (GDAL reads it by content), blurred below" png-named.jpg
img_kept truncated-jpeg-header-ok "indexed (its header is whole); dead-lettered by blur below" truncated.jpg
img_kept corrupt-jpeg-header-ok "indexed (its header is whole); dead-lettered by blur below" corrupt.jpg
begin images/exif-gps-lat-123 "kept without a location, counted: ingest.exif_location_rejected = 1, located = 1 (exif-good.jpg)"
exit_is 0; acct "$I.run.json"
need "kept" chk nodl "$I.dead-letter.jsonl" exif-lat-123.jpg
need "counted" chk eq "$I.run.json" ingest.exif_location_rejected 1
need "located" chk eq "$I.run.json" ingest.located 1
end
begin images/accounting "11 files in = 8 indexed + 3 dead letters"
exit_is 0
need "counts" chk counts "$I.run.json" 11 8 3
end

run images-big "$G" ingest images --in "$T/big" --out "$T/big.h5" -q
begin images/30000x30000-pixels "both indexed from their headers (PNG of $(stat -c %s "$T/big/huge-30000.png") bytes, JPEG of $(stat -c %s "$T/big/huge-30000.jpg") bytes): megapixels = 1800, peak RSS < 1 GB"
exit_is 0
acct "$T/big.h5.run.json"
need "counts" chk counts "$T/big.h5.run.json" 2 2 0
need "megapixels" chk eq "$T/big.h5.run.json" ingest.megapixels 1800.0
need "memory" chk lt "$T/big.h5.run.json" peak_rss_bytes 1e9
# The generated JPEG is a real one: its small twin decodes to one grey.
need "generated JPEG decodes" gdal_translate -q -of PNG "$T/grey-check.jpg" "$T/grey-check.png"
end

run images-unwritable "$G" ingest images --in "$T/photos" --out "$UNWRITABLE/images.h5" -q
begin images/unwritable-output "exit 1 before any work, error naming the output path"
exit_is 1
says "$UNWRITABLE"
end

# ---------------------------------------------------------------- blur
CASCADE=""
for d in /usr/share/opencv4/haarcascades /usr/share/opencv/haarcascades; do
  [ -f "$d/haarcascade_frontalface_default.xml" ] && CASCADE="$d/haarcascade_frontalface_default.xml" && break
done
if [ -n "$CASCADE" ]; then
  cat > "$T/models.toml" <<EOF
[[model]]
class = "face"
type = "cascade"
weights = "$CASCADE"
input_width = 16
input_height = 16
score_threshold = 0.5
nms_threshold = 0.3
EOF
  # A photo indexed, then removed before blur runs.
  cp "$T/photos/ok.jpg" "$T/photos/removed-later.jpg"
  run images2 "$G" ingest images --in "$T/photos" --out "$T/photos2.h5" --max-bad-fraction 1 -q
  rm "$T/photos/removed-later.jpg"
  run blur "$G" blur --images "$T/photos2.h5" --models "$T/models.toml" --run "$T/blur-run" --out "$T/blurred" \
    --max-bad-fraction 1 -q
  B=$T/blurred/blur.dead-letter.jsonl
  BR=$T/blur-run/blur.run.json
  blur_dl() {
    begin "blur/$1" "$2"
    exit_is 0; acct "$BR"
    need "dead letter" chk dl "$B" "$3" "$4" ${5:+"$5"}
    end
  }
  blur_ok() {
    begin "blur/$1" "$2"
    exit_is 0; acct "$BR"
    need "not dead-lettered" chk nodl "$B" "$3"
    need "written" test -s "$T/blurred/$3"
    need "audit" test -s "$T/blurred/$3.json"
    end
  }
  blur_dl truncated-jpeg "dead letter UNREADABLE_IMAGE (record truncated.jpg, message names the file)" truncated.jpg UNREADABLE_IMAGE truncated.jpg
  blur_dl corrupt-jpeg "dead letter UNREADABLE_IMAGE (record corrupt.jpg, message names the file)" corrupt.jpg UNREADABLE_IMAGE corrupt.jpg
  blur_dl file-removed "dead letter FILE_NOT_FOUND (record removed-later.jpg)" removed-later.jpg FILE_NOT_FOUND
  blur_ok png-named-jpg "blurred and written in its own format (PNG) under its name" png-named.jpg
  blur_ok one-pixel-jpeg "blurred and written" one-pixel.jpg
  blur_ok exif-absurd "blurred and written (EXIF orientation 99 read as 1)" exif-lat-123.jpg
  begin blur/png-named-jpg-format "the output of png-named.jpg is still a PNG"
  need "PNG signature" chk magic "$T/blurred/png-named.jpg" 89504e47
  end
  begin blur/accounting "9 photos in = 6 written + 3 dead letters"
  exit_is 0
  need "counts" chk counts "$BR" 9 6 3
  need "summary" chk eq "$T/blurred/blur-summary.json" dead_letters 3
  end
  begin blur/backend-recorded "the run record names the backend and the stages that use it (view projection, region blur)"
  need "backend" grep -q '"backend": *"c' "$BR"
  need "view stage" grep -q '"view projection (render_equirect_views, render_camera_views)"' "$BR"
  need "blur stage" grep -q '"region blur (blur_regions)"' "$BR"
  end
  # Every photo in one blur batch (--batch-mp): the same dead letters, the same output bytes.
  run blur-batched "$G" blur --images "$T/photos2.h5" --models "$T/models.toml" --run "$T/blur-run-b" \
    --out "$T/blurred-b" --batch-mp 1000 --max-bad-fraction 1 -q
  same_images() {  # every output photo of $1 is in $2 with the same bytes (sidecars hold timings)
    local f n=0
    while IFS= read -r f; do
      cmp -s "$1/$f" "$2/$f" || return 1
      n=$((n + 1))
    done < <(cd "$1" && find . -type f ! -name '*.json' ! -name '*.jsonl')
    [ "$n" -ge 6 ]
  }
  begin blur/batched "--batch-mp 1000 (all photos in one blur batch): the same 3 dead letters, the same output bytes"
  exit_is 0
  acct "$T/blur-run-b/blur.run.json"
  need "counts" chk counts "$T/blur-run-b/blur.run.json" 9 6 3
  need "dead letter" chk dl "$T/blurred-b/blur.dead-letter.jsonl" corrupt.jpg UNREADABLE_IMAGE corrupt.jpg
  need "same outputs" same_images "$T/blurred" "$T/blurred-b"
  end
  # The two 30000 x 30000 photos (1,800 MP in all): dead letters, never decoded.
  run blur-big "$G" blur --images "$T/big.h5" --models "$T/models.toml" --run "$T/blur-big-run" --out "$T/blurred-big" \
    --max-bad-fraction 1 -q
  begin blur/30000x30000-pixels "dead letters IMAGE_TOO_LARGE (900 MP > --max-megapixels 250), not decoded: peak RSS < 1 GB"
  exit_is 0
  acct "$T/blur-big-run/blur.run.json"
  need "counts" chk counts "$T/blur-big-run/blur.run.json" 2 0 2
  need "dead letter png" chk dl "$T/blurred-big/blur.dead-letter.jsonl" huge-30000.png IMAGE_TOO_LARGE "max-megapixels"
  need "dead letter jpg" chk dl "$T/blurred-big/blur.dead-letter.jsonl" huge-30000.jpg IMAGE_TOO_LARGE "max-megapixels"
  need "memory" chk lt "$T/blur-big-run/blur.run.json" peak_rss_bytes 1e9
  end
  run blur-unwritable "$G" blur --images "$T/photos2.h5" --models "$T/models.toml" --run "$T/blur-run2" \
    --out "$UNWRITABLE/blurred" -q
  begin blur/unwritable-output "exit 1, error naming the output folder"
  exit_is 1
  says "$UNWRITABLE"
  end
  # Paths that would lead the output out of --out: '../' and absolute manifest rows, and --out =
  # the photos' folder: dead letters UNSAFE_OUTPUT_PATH. A symlink to a photo elsewhere is indexed
  # under its own name (ingest stored its target, ../orig/x.jpg, before) and written in --out.
  # The originals must stay byte for byte.
  mkdir -p "$T/esc/photos" "$T/esc/orig" "$T/esc/m" "$T/esc/same"
  for f in x y z; do cp "$T/photos/ok.jpg" "$T/esc/orig/$f.jpg"; done
  cp "$T/photos/ok.jpg" "$T/esc/same/s.jpg"
  ln -sf ../orig/x.jpg "$T/esc/photos/x.jpg"
  printf 'path,lat,lon\n../orig/y.jpg,1,103\n%s/orig/z.jpg,1,103\n' "$T/esc" > "$T/esc/m/manifest.csv"
  (cd "$T/esc" && md5sum orig/*.jpg same/*.jpg > before.md5)
  run esc-ingest-a "$G" ingest images --in "$T/esc/photos" --out "$T/esc/a.h5" --max-bad-fraction 1 -q
  run esc-ingest-b "$G" ingest images --manifest "$T/esc/m/manifest.csv" --out "$T/esc/b.h5" --max-bad-fraction 1 -q
  run esc-ingest-s "$G" ingest images --in "$T/esc/same" --out "$T/esc/s.h5" -q
  run esc-blur-a "$G" blur --images "$T/esc/a.h5" --models "$T/models.toml" --run "$T/esc/ra" --out "$T/esc/oa" --max-bad-fraction 1 -q
  run esc-blur-b "$G" blur --images "$T/esc/b.h5" --models "$T/models.toml" --run "$T/esc/rb" --out "$T/esc/ob" --max-bad-fraction 1 -q
  run esc-blur-s "$G" blur --images "$T/esc/s.h5" --models "$T/models.toml" --run "$T/esc/rs" --out "$T/esc/same" --max-bad-fraction 1 -q
  begin blur/output-outside-out "photos whose output would leave --out (../ and absolute manifest paths) or be the input (--out = photos' folder): dead letters UNSAFE_OUTPUT_PATH; a symlinked photo written under its own name in --out; originals unchanged"
  exit_is 0
  need "originals unchanged" bash -c "cd '$T/esc' && md5sum --quiet -c before.md5"
  need "no sidecar beside the originals" bash -c "! ls '$T/esc/orig' | grep -q json"
  need "symlink written under its own name in --out" test -s "$T/esc/oa/x.jpg"
  need "dotdot" chk dl "$T/esc/ob/blur.dead-letter.jsonl" ../orig/y.jpg UNSAFE_OUTPUT_PATH "outside --out"
  need "absolute" chk dl "$T/esc/ob/blur.dead-letter.jsonl" "$T/esc/orig/z.jpg" UNSAFE_OUTPUT_PATH "outside --out"
  need "same folder" chk dl "$T/esc/same/blur.dead-letter.jsonl" s.jpg UNSAFE_OUTPUT_PATH "input file itself"
  need "counts" chk counts "$T/esc/rb/blur.run.json" 2 0 2
  end
else
  skip blur "no OpenCV Haar cascade (Debian opencv-data) for a models file"
fi

# ---------------------------------------------------------------- manifests
cp "$T/photos/ok.jpg" "$T/m-ok.jpg"
printf 'path,lat,lon,heading,projection\n' > "$T/manifest.csv"
{
  printf 'm-ok.jpg,1.0,100.0,90,perspective\n'          # line 2: good
  printf 'm-ok.jpg,1.0\n'                               # 3: missing columns
  printf 'm-ok.jpg,1.0,100.0,90,perspective,extra\n'    # 4: extra column
  printf 'm-ok.jpg,abc,100,0,perspective\n'             # 5: bad number
  printf 'm-ok.jpg,95,100,0,perspective\n'              # 6: lat out of range
  printf 'm-ok.jpg,nan,100,0,perspective\n'             # 7: NaN
  printf 'gone.jpg,1,100,0,perspective\n'               # 8: missing file
  printf 'caf\xe9.jpg,1,100,0,perspective\n'            # 9: non-UTF-8 path
  printf '"unterminated,1,100,0,perspective\n'          # 10: broken quoting
  printf 'm-ok.jpg,,100,0,perspective\n'                # 11: lon without lat
  printf 'm-ok.jpg,1,100,0,cylindrical\n'               # 12: unknown projection
  printf '\n'                                           # 13: blank: not a record
  printf 'm-ok.jpg,1,100,1e999,perspective\n'           # 14: number out of double range
} >> "$T/manifest.csv"
M=$T/manifest.h5
run manifest "$G" ingest images --manifest "$T/manifest.csv" --out "$M" --max-bad-fraction 1 -q
man_dl() {
  begin "manifest-csv/$1" "$2"
  exit_is 0; acct "$M.run.json"
  need "dead letter" chk dl "$M.dead-letter.jsonl" "$3" "$4" ${5:+"$5"}
  end
}
man_dl missing-columns "dead letter BAD_MANIFEST_ROW (line 3)" "line 3" BAD_MANIFEST_ROW "2 fields, the header has 5"
man_dl extra-column "dead letter BAD_MANIFEST_ROW (line 4)" "line 4" BAD_MANIFEST_ROW "6 fields, the header has 5"
man_dl bad-number "dead letter BAD_MANIFEST_ROW (line 5)" "line 5" BAD_MANIFEST_ROW "not a number"
man_dl lat-95 "dead letter COORDINATE_OUT_OF_RANGE (line 6)" "line 6" COORDINATE_OUT_OF_RANGE
man_dl nan "dead letter NON_FINITE_COORDINATE (line 7)" "line 7" NON_FINITE_COORDINATE
man_dl missing-file "dead letter FILE_NOT_FOUND (line 8)" "line 8" FILE_NOT_FOUND gone.jpg
man_dl non-utf8-path "dead letter INVALID_UTF8 (line 9)" "line 9" INVALID_UTF8
man_dl broken-quote "dead letter BAD_MANIFEST_ROW (line 10)" "line 10" BAD_MANIFEST_ROW "not closed"
man_dl lon-without-lat "dead letter BAD_MANIFEST_ROW (line 11)" "line 11" BAD_MANIFEST_ROW "together"
man_dl unknown-projection "dead letter BAD_MANIFEST_ROW (line 12)" "line 12" BAD_MANIFEST_ROW "cylindrical"
man_dl huge-number "dead letter BAD_MANIFEST_ROW (line 14)" "line 14" BAD_MANIFEST_ROW 1e999
begin manifest-csv/accounting "12 rows in (the blank line is not a record) = 1 indexed + 11 dead letters"
exit_is 0
need "counts" chk counts "$M.run.json" 12 1 11
end
run manifest-max-bad "$G" ingest images --manifest "$T/manifest.csv" --out "$T/manifest-default.h5" -q
begin manifest-csv/max-bad-fraction "exit 3 with the default --max-bad-fraction 0.05; the summary says 11 of 12"
exit_is 3
says "11 of 12 records are dead letters"
acct "$T/manifest-default.h5.run.json"
need "status" chk eq "$T/manifest-default.h5.run.json" status too_many_bad_records
end

{
  printf '{"path": "m-ok.jpg", "lat": 1, "lon": 100}\n'
  printf '{"path": "m-ok.jpg", "lat": 1, "lon": 100, "colour": "red"}\n'
  printf 'not json\n'
  printf '[1, 2]\n'
  printf '{"path": "m-ok.jpg", "lat": "x", "lon": 100}\n'
  printf '{"path": "m-ok.jpg", "lat": 1}\n'
  printf '{"path": "caf\xe9.jpg", "lat": 1, "lon": 100}\n'
} > "$T/manifest.jsonl"
J=$T/manifest-jsonl.h5
run manifest-jsonl "$G" ingest images --manifest "$T/manifest.jsonl" --out "$J" --max-bad-fraction 1 -q
begin manifest-jsonl/bad-lines "dead letters BAD_MANIFEST_ROW for lines 2-6 (unknown key, not JSON, not an object, bad number, lat without lon), line 7 not UTF-8: BAD_MANIFEST_ROW"
exit_is 0; acct "$J.run.json"
need "unknown key" chk dl "$J.dead-letter.jsonl" "line 2" BAD_MANIFEST_ROW colour
need "not JSON" chk dl "$J.dead-letter.jsonl" "line 3" BAD_MANIFEST_ROW "not JSON"
need "not an object" chk dl "$J.dead-letter.jsonl" "line 4" BAD_MANIFEST_ROW "not a JSON object"
need "bad number" chk dl "$J.dead-letter.jsonl" "line 5" BAD_MANIFEST_ROW "not a number"
need "lat without lon" chk dl "$J.dead-letter.jsonl" "line 6" BAD_MANIFEST_ROW together
need "not UTF-8" chk dl "$J.dead-letter.jsonl" "line 7" BAD_MANIFEST_ROW
need "counts" chk counts "$J.run.json" 7 1 6
end

printf 'path,lat,longitude\nm-ok.jpg,1,100\n' > "$T/manifest-header.csv"
run manifest-header "$G" ingest images --manifest "$T/manifest-header.csv" --out "$T/mh.h5" -q
begin manifest-csv/unknown-column "exit 1, error naming manifest-header.csv and the column 'longitude'"
exit_is 1
says "manifest-header.csv" "unknown: longitude"
end
: > "$T/manifest-empty.csv"
run manifest-empty "$G" ingest images --manifest "$T/manifest-empty.csv" --out "$T/me.h5" -q
begin manifest-csv/zero-byte "exit 1, error naming manifest-empty.csv"
exit_is 1
says "manifest-empty.csv" "empty"
end
printf 'path,path\nm-ok.jpg,m-ok.jpg\n' > "$T/manifest-dupcol.csv"
run manifest-dupcol "$G" ingest images --manifest "$T/manifest-dupcol.csv" --out "$T/md.h5" -q
begin manifest-csv/column-twice "exit 1, error naming manifest-dupcol.csv and the column 'path' named twice"
exit_is 1
says "manifest-dupcol.csv" "'path' twice"
end
printf 'path\nm-ok.jpg\n./m-ok.jpg\nsub/../m-ok.jpg\n' > "$T/manifest-same.csv"
run manifest-same "$G" ingest images --manifest "$T/manifest-same.csv" --out "$T/ms.h5" --max-bad-fraction 1 -q
begin manifest-csv/same-photo-three-spellings "one row; the other two spellings are dead letters DUPLICATE_ID naming line 2"
exit_is 0
acct "$T/ms.h5.run.json"
need "counts" chk counts "$T/ms.h5.run.json" 3 1 2
need "dead letter" chk dl "$T/ms.h5.dead-letter.jsonl" "line 4" DUPLICATE_ID "line 2"
end
# A folder with a symlink to a photo in it, a dangling symlink and a FIFO named like photos: the
# link is indexed under its own name, the other two are dead letters (were skipped silently).
mkdir -p "$T/odd"
cp "$T/photos/ok.jpg" "$T/odd/real.jpg"
ln -sf real.jpg "$T/odd/link.jpg"
ln -sf /nonexistent/x.jpg "$T/odd/dangling.jpg"
mkfifo "$T/odd/fifo.jpg"
run images-odd "$G" ingest images --in "$T/odd" --out "$T/odd.h5" --max-bad-fraction 1 -q
begin images/symlink-dangling-fifo "link.jpg indexed under its own name; dangling.jpg and fifo.jpg dead letters FILE_NOT_FOUND"
exit_is 0
acct "$T/odd.h5.run.json"
need "counts" chk counts "$T/odd.h5.run.json" 4 2 2
need "dangling" chk dl "$T/odd.h5.dead-letter.jsonl" dangling.jpg FILE_NOT_FOUND
need "fifo" chk dl "$T/odd.h5.dead-letter.jsonl" fifo.jpg FILE_NOT_FOUND
need "own name" bash -c "h5dump -d /images/path '$T/odd.h5' | grep -q '\"link.jpg\"'"
end

# ---------------------------------------------------------------- job files and cost tables
printf '[job]\nname = "x"\nwork = "w"\nretries = 3\n\n[region]\nsynth_segments = 1000\n' > "$T/job-unknown.toml"
run job-unknown "$G" submit --dry-run "$T/job-unknown.toml"
begin job-file/unknown-key "exit 1, error naming job-unknown.toml line 4 and the key 'retries'"
exit_is 1
says "job-unknown.toml:4" "unknown key 'retries'"
end
printf '[job]\nname = "x"\nwork = "w"\n[region]\nsynth_segments = "many"\n' > "$T/job-type.toml"
run job-type "$G" submit --dry-run "$T/job-type.toml"
begin job-file/wrong-type "exit 1, error naming job-type.toml line 5 and the key synth_segments"
exit_is 1
says "job-type.toml:5" "synth_segments"
end
printf '[job\nname = "x"\n' > "$T/job-syntax.toml"
run job-syntax "$G" submit --dry-run "$T/job-syntax.toml"
begin job-file/toml-syntax-error "exit 1, error naming job-syntax.toml line 1"
exit_is 1
says "job-syntax.toml" ":1"
end
printf '[job]\nname = "caf\xe9"\nwork = "w"\n' > "$T/job-latin1.toml"
run job-latin1 "$G" submit --dry-run "$T/job-latin1.toml"
begin job-file/non-utf8 "exit 1, error naming job-latin1.toml line 2"
exit_is 1
says "job-latin1.toml" ":2"
end
run job-missing "$G" submit --dry-run "$T/no-such-job.toml"
begin job-file/missing "exit 1 or 2 (usage), error naming no-such-job.toml"
no_crash
[ "$RC" = 1 ] || [ "$RC" = 2 ] || CERR+="exit $RC"
says "no-such-job.toml"
end

cat > "$T/prices.toml" <<'EOF'
[source]
provider = "test"
date = "2026-01-01"

[billing]
minimum_seconds = 0

[machine.small]
cores = 2
memory_gib = 4
price_per_hour = 0.1
discount = 0.5
EOF
printf 'job,segments,nodes,ranks_per_node,threads_per_rank,grid_precision,partition_precision,wall_s,peak_rss_per_rank_bytes,git_revision,slurm_job_id,run\n' > "$T/points-head.csv"
cp "$T/points-head.csv" "$T/points.csv"
printf 'localise,1000,1,1,1,6,2,3.07,148353024,abc,,runs/a\n' >> "$T/points.csv"
run cost-prices "$G" cost --points "$T/points.csv" --prices "$T/prices.toml" --out "$T/cost1"
begin cost/price-table-unknown-key "exit 1, error naming prices.toml line 12 and the key 'discount'"
exit_is 1
says "prices.toml:12" "discount"
end
sed -i '/discount/d; /price_per_hour/d' "$T/prices.toml"
run cost-noprice "$G" cost --points "$T/points.csv" --prices "$T/prices.toml" --out "$T/cost2"
begin cost/price-table-missing-price "exit 1, error naming prices.toml and price_per_hour"
exit_is 1
says "prices.toml" "price_per_hour"
end
printf 'price_per_hour = 0.1\n' >> "$T/prices.toml"
{ cat "$T/points-head.csv"; printf 'localise,1000,1,1,1,6,2,fast,148353024,abc,,runs/a\n'; } > "$T/points-nan.csv"
run cost-points "$G" cost --points "$T/points-nan.csv" --prices "$T/prices.toml" --out "$T/cost3"
begin cost/points-bad-number "exit 1, error naming points-nan.csv line 2 and the value 'fast'"
exit_is 1
says "points-nan.csv" "2" "fast"
end
{ cat "$T/points-head.csv"; printf 'localise,1000,1,1,1,6,2,3.0,148353024,abc,,runs/a,extra\n'; } > "$T/points-extra.csv"
run cost-extra "$G" cost --points "$T/points-extra.csv" --prices "$T/prices.toml" --out "$T/cost4"
begin cost/points-extra-field "exit 1, error naming points-extra.csv line 2"
exit_is 1
says "points-extra.csv" "2"
end
printf 'job,segments,wall_s\nlocalise,1000,3.0\n' > "$T/points-cols.csv"
run cost-cols "$G" cost --points "$T/points-cols.csv" --prices "$T/prices.toml" --out "$T/cost5"
begin cost/points-missing-columns "exit 1, error naming points-cols.csv and a missing column"
exit_is 1
says "points-cols.csv" "nodes"
end
run cost-good "$G" cost --points "$T/points.csv" --prices "$T/prices.toml" --out "$T/cost6"
begin cost/valid-baseline "the repaired price table and good points: exit 0"
exit_is 0
end

# ---------------------------------------------------------------- out of memory
# A 3M-segment road file under a 350 MB address-space limit (the executable and its libraries
# take ~250 MB of it): ingest cannot hold the table. A clear error saying what to do, the run
# record's status, no partial output -- not a bare "std::bad_alloc".
if grep -qa __asan_init "$G"; then  # AddressSanitizer reserves terabytes of shadow memory: no ulimit -v
  skip roads/out-of-memory "the executable is built with AddressSanitizer, which cannot run under ulimit -v"
else
  run synth-oom "$G" synth --segments 3000000 --seed 3 --out "$T/syn-oom" -q
  run roads-oom sh -c "ulimit -v 350000 && exec \"\$0\" ingest roads --in '$T/syn-oom/roads.fgb' --out '$T/oom.h5' -q" "$G"
  begin roads/out-of-memory "exit 1 (no crash), 'out of memory' and what to do; run record status out_of_memory; no oom.h5"
  exit_is 1
  says "out of memory" "more memory"
  need "no partial output" test ! -e "$T/oom.h5"
  need "record status" chk eq "$T/oom.h5.run.json" status out_of_memory
  end
  rm -rf "$T/syn-oom"
fi

# ---------------------------------------------------------------- a full output folder
mkdir -p "$T/full"
if mount -t tmpfs -o size=1m tmpfs "$T/full" 2>"$T/log/mount.err"; then
  MOUNTED="$T/full"
  # Fill it up to the last 16 KiB, then write a road table of ~0.5 MB into it.
  python3 -c "
import os; st = os.statvfs('$T/full'); free = st.f_bavail * st.f_frsize
open('$T/full/filler', 'wb').write(b'\0' * max(0, free - 16384))"
  run synth-full "$G" synth --segments 20000 --seed 3 --out "$T/syn-full" -q
  run roads-full "$G" ingest roads --in "$T/syn-full/roads.fgb" --out "$T/full/roads.h5" -q
  begin roads/full-output-folder "exit 1 (no crash), error naming the output; no partial roads.h5 left"
  exit_is 1
  says "full/roads.h5"
  need "no partial output" test ! -e "$T/full/roads.h5"
  need "no temporary left" sh -c "! ls '$T/full' | grep -q tmp"
  [ -s "$T/full/roads.h5.run.json" ] && acct "$T/full/roads.h5.run.json"
  end
  rm -f "$T/full/roads.h5"*
  run cover-full "$G" cover --areas "$T/huge.h5" --precision 6 --out "$T/full/cov.h5" -q
  begin cover/full-output-folder "exit 1 (no crash), error naming the output; no partial cov.h5 left"
  exit_is 1
  says "full/cov.h5"
  need "no partial output" test ! -e "$T/full/cov.h5"
  end
  umount "$T/full" && MOUNTED=""
else
  skip roads/full-output-folder "cannot mount a 1 MB tmpfs here ($(head -c 200 "$T/log/mount.err" | tr '\n' ' ')): needs root with mount rights"
fi

# ---------------------------------------------------------------- summary
SECONDS_TAKEN=$(( $(date +%s) - START ))
echo
echo "bad inputs: ${PASS} cases ok, ${#FAILED[@]} failed, ${#KNOWN[@]} known failures, ${#SKIPPED[@]} skipped;" \
  "accounting checked on ${RECORDS_CHECKED} run records; ${SECONDS_TAKEN} s"
[ ${#KNOWN[@]} -gt 0 ] && echo "known failures (not fatal, see docs/reliability.md): ${KNOWN[*]}"
[ ${#SKIPPED[@]} -gt 0 ] && echo "skipped: ${SKIPPED[*]}"
if [ ${#FAILED[@]} -gt 0 ]; then
  echo "FAILED: ${FAILED[*]} (every run's stdout/stderr: $T/log)"
  KEEP=1
  exit 1
fi
exit 0
