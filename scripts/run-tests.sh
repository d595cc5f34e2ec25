#!/bin/bash
# SPDX-License-Identifier: MIT
# Run test suites (unit, contract, integration, ...) and close with one "tests: N passed, N failed" line.
# Unit tests are the cmocka binaries in $BUILD/tests, fuzz the harnesses in $BUILD/fuzz over their saved
# inputs; other suites are tests/<suite>/*.sh.
# A test that exits 77 is skipped and must say why on its last line.
set -uo pipefail
BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
export BUILD MXGPU_SRC=$here
# The tests set what they need; nothing of the caller's session may steer them: a developer's MXGPU_*
# settings, JOURNAL_STREAM (under systemd-run), or a locale that translates bash's own messages or
# writes EPOCHREALTIME with a decimal comma.
unset MXGPU_ROOT MXGPU_SOCKET MXGPU_LOG_LEVEL MXGPU_LIBVIRT_LIBRARY JOURNAL_STREAM
export LC_ALL=C
pass=0; fail=0; skip=0; failed=()
only=${TESTS:-}   # TESTS=pattern runs only tests whose name contains it

run() { # name, command...
  local name=$1; shift
  [ -n "$only" ] && [[ $name != *$only* ]] && return
  local log rc start; log=$(mktemp); start=${EPOCHREALTIME/./}
  "$@" >"$log" 2>&1; rc=$?
  local d=$(( (${EPOCHREALTIME/./} - start) / 100000 )) t; t="$((d / 10)).$((d % 10))"
  if [ $rc -eq 0 ]; then
    pass=$((pass + 1)); echo "PASS: $name (${t}s)"
  elif [ $rc -eq 77 ]; then
    skip=$((skip + 1)); echo "SKIP: $name: $(tail -n1 "$log")"
  else
    fail=$((fail + 1)); failed+=("$name"); echo "FAIL: $name (exit $rc)"; tail -n 80 "$log" | sed 's/^/    /'
  fi
  rm -f "$log"
}

# MXGPU_VALGRIND=1: unit tests and fuzz harnesses under memcheck here; the other suites wrap the programs (tests/lib.sh).
export MXGPU_VALGRIND=${MXGPU_VALGRIND:-}
source "$here/tests/valgrind.sh"
vg=()
[ "$VALGRIND" ] && vg=(valgrind -q "${VG_OPTS[@]}" --error-exitcode=99)

shopt -s nullglob
for suite in "$@"; do
  case $suite in
  unit)
    for t in "$BUILD"/tests/test-*; do [ -x "$t" ] && run "unit/$(basename "$t")" ${vg[@]+"${vg[@]}"} "$t"; done ;;
  fuzz)
    # Each harness over its saved inputs (tests/fuzz/corpus/NAME): the seeds and every input that
    # once found a bug. make fuzz searches for new ones.
    for t in "$BUILD"/fuzz/fuzz-*; do
      [ -x "$t" ] || continue
      n=$(basename "$t"); run "fuzz/${n#fuzz-}" ${vg[@]+"${vg[@]}"} "$t" "$here/tests/fuzz/corpus/${n#fuzz-}"
    done ;;
  *)
    for t in "$here"/tests/"$suite"/*.sh; do run "$suite/$(basename "$t" .sh)" bash "$t"; done ;;
  esac
done
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "tests: $pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
