# SPDX-License-Identifier: MIT
# Sourced by the VM test runners: turn a guest's result lines and QEMU's exit into the closing line.

# vm_report SUITE RC RESULTS_LOG CONSOLE_LOG QEMU_LOG TIMEOUT_S LOG_NOTE [FILTER]
# Prints the guest's "vmtest:" lines (without those matching FILTER, a grep -E pattern), a failure
# for a guest that timed out, crashed or stopped early, and "SUITE: N passed, N failed".
# Returns 0 when nothing failed.
vm_report() {
  local suite=$1 rc=$2 results=$3 console=$4 qemu_log=$5 timeout_s=$6 note=$7 filter=${8:-}
  if [ -n "$filter" ]; then
    grep -a '^vmtest: ' "$results" 2>/dev/null | grep -avE "$filter" | tr -d '\r'
  else
    grep -a '^vmtest: ' "$results" 2>/dev/null | tr -d '\r'
  fi
  local pass nfail done_marker problem=
  pass=$(grep -ac '^vmtest: PASS: ' "$results" 2>/dev/null)
  nfail=$(grep -ac '^vmtest: FAIL: ' "$results" 2>/dev/null)
  done_marker=$(grep -ac '^vmtest: DONE' "$results" 2>/dev/null)
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    problem="guest timed out after ${timeout_s}s"
  elif [ "$rc" -ne 0 ]; then
    problem="qemu failed with exit $rc: $(tail -n 3 "$qemu_log")"
  elif [ "${done_marker:-0}" -eq 0 ]; then
    problem="guest stopped before its DONE marker"
  elif [ "${pass:-0}" -eq 0 ]; then
    problem="no test passed"
  fi
  if [ -n "$problem" ]; then
    nfail=$((nfail + 1))
    echo "$suite: FAIL: $problem; last console lines ($console):"
    tail -n 30 "$console" 2>/dev/null | sed 's/^/    /'
  fi
  echo "$suite: $note"
  echo "$suite: ${pass:-0} passed, ${nfail:-0} failed"
  [ "${nfail:-0}" -eq 0 ]
}
