#!/usr/bin/env bash
# Runs one libFuzzer target for a bounded time (CTest fuzz_NAME, label fuzz):
#   run_fuzz.sh FUZZER SECONDS FINDINGS_DIR SEED_DIR...
# The seeds are read, never written: new inputs go to FINDINGS_DIR/corpus, a crashing, leaking
# or slow input to FINDINGS_DIR/artifacts. On a finding the test fails and prints the input in
# base64, so the CI log alone is enough to reproduce it: save it under
# tests/fuzz/regressions/NAME/ and it becomes part of fuzz_NAME_corpus for good.
set -uo pipefail
fuzzer=$1 seconds=$2 findings=$3
shift 3
rm -rf "$findings"
mkdir -p "$findings/corpus" "$findings/artifacts"
log=$findings/fuzz.log
"$fuzzer" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=3072 -print_final_stats=1 \
  -artifact_prefix="$findings/artifacts/" "$findings/corpus" "$@" >"$log" 2>&1
rc=$?
# The last status line and the final statistics: executions, coverage, corpus size.
grep -E '^#[0-9]+' "$log" | tail -n 1
grep -E '^stat::' "$log"
if [ "$rc" -ne 0 ] || [ -n "$(ls -A "$findings/artifacts")" ]; then
  echo "FUZZ FINDING: $(basename "$fuzzer") exited $rc; its report:" >&2
  grep -v -E '^#[0-9]+' "$log" | tail -n 80 >&2
  for a in "$findings"/artifacts/*; do
    [ -f "$a" ] || continue
    echo "input $a ($(stat -c %s "$a") bytes), base64:" >&2
    head -c 65536 "$a" | base64 -w 100 >&2
  done
  exit 1
fi
echo "$(basename "$fuzzer"): no finding in ${seconds} s"
