#!/bin/bash
# SPDX-License-Identifier: MIT
# Contract: a read through a file opened before its device went away fails with ENODEV (kernfs
# does the same), and the simulator keeps answering afterwards: the failed read left no lock held.
set -euo pipefail
. "$(dirname "$0")/lib/sim.sh"
sim_start s7150
P=$ROOT/sys/bus/pci/devices/0000:03:00.0
echo 0 > "$P/sriov_drivers_autoprobe"
echo 2 > "$P/sriov_numvfs"
exec 3< "$ROOT/sys/bus/pci/devices/0000:03:02.0/config"
exec 4> "$ROOT/sys/bus/pci/devices/0000:03:02.1/driver_override"
echo 0 > "$P/sriov_numvfs"
err=$( { read -r -N 1 -u 3 _; } 2>&1 ) && fail "read of a removed VF's config succeeded"
[[ $err == *"No such device"* ]] || fail "read of a removed VF's config: '$err', want ENODEV"
err=$( { echo vfio-pci >&4; } 2>&1 ) && fail "write to a removed VF's driver_override succeeded"
[[ $err == *"No such device"* ]] || fail "write to a removed VF's driver_override: '$err', want ENODEV"
exec 3<&- 4>&-
# both failures must have released the model lock
[ "$(timeout 10 cat "$P/sriov_totalvfs")" = 16 ] || fail "the simulator stopped answering after the failed reads"
timeout 10 bash -c "echo 1 > '$P/sriov_numvfs'" || fail "the simulator stopped answering writes after the failed reads"
echo "removed device: ENODEV through open files, simulator still answering"
