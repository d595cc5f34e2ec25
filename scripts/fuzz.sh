#!/bin/bash
# SPDX-License-Identifier: MIT
# make fuzz: every libFuzzer harness in $BUILD/fuzz for FUZZ_SECONDS, starting from its saved inputs
# (tests/fuzz/corpus/NAME); new inputs collect in $BUILD/corpus/NAME. Stops at the first crash, leak,
# sanitizer report or failed check, and says how to replay and keep the input.
set -uo pipefail
BUILD=${BUILD:-build/libfuzzer}
S=${FUZZ_SECONDS:-60}
here=$(cd "$(dirname "$0")/.." && pwd)
found=0
for bin in "$BUILD"/fuzz/fuzz-*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin"); name=${name#fuzz-}
  seeds=$here/tests/fuzz/corpus/$name work=$BUILD/corpus/$name crashes=$BUILD/crashes
  mkdir -p "$work" "$crashes"
  log=$BUILD/fuzz-$name.log
  # -timeout: an input that takes 10 s is a hang; -rss_limit_mb: one that needs 2 GiB is a bug too.
  "$bin" -max_total_time="$S" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$crashes/$name-" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1)
  if [ $rc -ne 0 ]; then
    found=1
    art=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    echo "FAIL: fuzz/$name (exit $rc) after ${execs:-?} inputs"
    grep -E "ERROR:|runtime error|SUMMARY|abort|deadly signal" "$log" | head -n 8 | sed 's/^/    /'
    if [ -n "$art" ]; then
      echo "    input: $art"
      echo "    replay: $BUILD/fuzz/fuzz-$name $art (or build/fuzz/fuzz-$name, without libFuzzer)"
      echo "    once fixed, keep it: cp $art tests/fuzz/corpus/$name/"
    fi
    echo "    log: $log"
    break
  fi
  echo "PASS: fuzz/$name ($S s, ${execs:-?} inputs, ${cov:-cov: ?} edges, $(ls "$work" | wc -l) inputs kept in $work)"
done
exit $found
