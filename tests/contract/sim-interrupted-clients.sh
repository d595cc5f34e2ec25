#!/bin/bash
# SPDX-License-Identifier: MIT
# Contract: clients hit by signals in the middle of their requests (the kernel then sends the
# simulator FUSE_INTERRUPT) leave it answering every later request; under make check-valgrind its
# exit shows that nothing leaked (libfuse 3.14 keeps an interrupt whose request was already answered
# on a list nothing frees, so the simulator answers interrupts itself: src/sim/fuseio.c).
set -euo pipefail
. "$(dirname "$0")/lib/sim.sh"
sim_start s7150
P=$ROOT/sys/bus/pci/devices/0000:03:00.0
[ "$(cat "$P/sriov_totalvfs")" = 16 ] || fail "sriov_totalvfs before the signals"
# Readers with a handler for USR1: a signal that lands while a read waits for the simulator makes
# the kernel send an interrupt for it; the handler returns and the read goes on.
reader() {
  trap : USR1
  : >"$ROOT/r$1.ready" # a subshell starts with USR1 fatal: no signal before this
  local end=$((SECONDS + 2)) n=0 v
  while [ $SECONDS -lt $end ]; do
    if read -r v <"$P/sriov_totalvfs" && [ "$v" != 16 ]; then echo "bad $v"; fi
    n=$((n + 1))
  done
  echo "reads $n"
}
reader 1 >"$ROOT/r1.out" 2>&1 & r1=$!
reader 2 >"$ROOT/r2.out" 2>&1 & r2=$!
for _ in $(seq 200); do [ -e "$ROOT/r1.ready" ] && [ -e "$ROOT/r2.ready" ] && break; sleep 0.05; done
[ -e "$ROOT/r1.ready" ] && [ -e "$ROOT/r2.ready" ] || fail "the readers did not start"
signals=0
while kill -0 $r1 2>/dev/null || kill -0 $r2 2>/dev/null; do
  kill -USR1 $r1 $r2 2>/dev/null || true
  signals=$((signals + 1))
done
wait $r1 $r2 || fail "a reader failed: $(cat "$ROOT"/r?.out)"
grep -q bad "$ROOT"/r?.out && fail "a read returned the wrong value: $(cat "$ROOT"/r?.out)"
grep -q reads "$ROOT/r1.out" && grep -q reads "$ROOT/r2.out" || fail "a reader did not finish: $(cat "$ROOT"/r?.out)"
# still answering reads and writes, each within bounds
[ "$(timeout 10 cat "$P/sriov_totalvfs")" = 16 ] || fail "the simulator stopped answering after the signals"
timeout 10 bash -c "echo 0 > '$P/sriov_drivers_autoprobe'; echo 2 > '$P/sriov_numvfs'" || fail "writes after the signals"
[ -e "$ROOT/sys/bus/pci/devices/0000:03:02.1" ] || fail "VFs not enabled after the signals"
sim_stop
echo "interrupted clients: $signals signals to 2 readers ($(cat "$ROOT"/r?.out | tr '\n' ' ')), simulator still answering"
