#!/bin/bash
# SPDX-License-Identifier: MIT
# Contract: start refuses a second server, stop cleans up after kill -9, and the root can be used again.
set -euo pipefail
. "$(dirname "$0")/lib/sim.sh"

sim_start s7150
if "$SIM" start --host s7150 --root "$ROOT" 2>/dev/null; then fail "a second simulator started on the same root"; fi
pid=$(cat "$ROOT/mxgpu-sim.pid")
kill -9 "$pid"
while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
is_mounted "$ROOT/sys" || fail "no stale mount to clean up after kill -9"
"$SIM" stop --root "$ROOT" || fail "stop after kill -9"
! is_mounted "$ROOT/sys" || fail "sys still mounted"
! is_mounted "$ROOT/dev" || fail "dev still mounted"
[ ! -e "$ROOT/mxgpu-sim.sock" ] || fail "stale socket left"
# and the root can be used again
"$SIM" start --host nvme --root "$ROOT" --latency zero
[ -e "$ROOT/sys/bus/pci/devices/0000:03:00.0/sriov_totalvfs" ] || fail "restart"
sim_stop
if "$SIM" stop --root "$ROOT" 2>/dev/null; then fail "stop without a simulator succeeded"; fi

