#!/bin/bash
# SPDX-License-Identifier: MIT
# Contract: start refuses a second server, stop cleans up after kill -9, and a normal user can run the simulator.
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

# a normal user (fusermount3 mounts for it)
[ "$(id -u)" = 0 ] || { echo "skip: the non-root check switches to nobody and needs root"; exit 0; }
command -v setpriv >/dev/null || { echo "skip: no setpriv"; exit 77; }
user_root=$(mktemp -d /tmp/mxgpu-sim-user.XXXXXX)
chown nobody:nogroup "$user_root"
SIM_DIRS+=("$user_root")
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
if ! as_nobody test -x "$SIM"; then echo "skip: nobody cannot execute $SIM (its folder is private)"; exit 77; fi
if ! as_nobody "$SIM" start --host s7150 --root "$user_root" --latency zero 2>"$user_root.err"; then
  cat "$user_root.err"; rm -f "$user_root.err"
  echo "skip: fusermount3 does not let nobody mount here"; exit 77
fi
rm -f "$user_root.err"
P=$user_root/sys/bus/pci/devices/0000:03:00.0
as_nobody sh -c "echo 0 > $P/sriov_drivers_autoprobe && echo 2 > $P/sriov_numvfs" || fail "nobody could not enable VFs in its own simulator"
[ -L "$P/virtfn1" ] || fail "virtfn1 missing (non-root)"
as_nobody "$SIM" status --root "$user_root" --json | grep -q '"numvfs":2' || fail "status (non-root)"
as_nobody "$SIM" stop --root "$user_root" || fail "stop (non-root)"
! is_mounted "$user_root/sys" || fail "sys still mounted (non-root)"
