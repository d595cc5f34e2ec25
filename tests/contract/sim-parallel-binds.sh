#!/bin/bash
# SPDX-License-Identifier: MIT
# Contract (simulator only): binds of different devices through the one drivers_probe file run at the
# same time, as on kernfs (which serialises writes per open file, not per file). FUSE would otherwise
# take the file's inode lock for each write and queue them.
set -euo pipefail
. "$(dirname "$0")/lib/sim.sh"
sim_start s7150
"$SIM" latency --root "$ROOT" zero,bind=2s
S=$ROOT/sys/bus/pci
P=$S/devices/0000:03:00.0
echo 0 > "$P/sriov_drivers_autoprobe"
echo 4 > "$P/sriov_numvfs"
for i in 0 1 2 3; do echo vfio-pci > "$S/devices/0000:03:02.$i/driver_override"; done
# dd conv=notrunc opens without O_TRUNC, as programs write sysfs (a truncate takes the inode lock).
probe() { printf '%s' "$1" | dd of="$S/drivers_probe" conv=notrunc status=none; }
t0=$SECONDS
for i in 0 1 2 3; do probe "0000:03:02.$i" & done
wait
took=$((SECONDS - t0))
for i in 0 1 2 3; do
  [ "$(basename "$(readlink "$S/devices/0000:03:02.$i/driver")")" = vfio-pci ] || fail "VF $i not on vfio-pci"
done
# Four 2 s binds one after another take at least 8 s; together they take about 2 s.
[ "$took" -lt 7 ] || fail "4 concurrent binds took ${took} s: drivers_probe writes were serialised"
echo "4 concurrent 2 s binds done in ${took} s"
