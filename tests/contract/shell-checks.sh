#!/bin/bash
# SPDX-License-Identifier: MIT
# Contract: what a user sees from a shell (echo, ls, lspci) on a simulated S7150 host.
set -euo pipefail
. "$(dirname "$0")/lib/sim.sh"
sim_start s7150
PF=$ROOT/sys/bus/pci/devices/0000:03:00.0

echo 0 > "$PF/sriov_drivers_autoprobe"
echo 4 > "$PF/sriov_numvfs"
for i in 0 1 2 3; do [ -L "$PF/virtfn$i" ] || fail "virtfn$i missing after echo 4"; done
[ ! -e "$PF/virtfn4" ] || fail "virtfn4 exists after echo 4"
[ "$(cat "$PF/sriov_numvfs")" = 4 ] || fail "sriov_numvfs is not 4"
[ "$(readlink "$PF/virtfn0")" = ../0000:03:02.0 ] || fail "virtfn0 -> $(readlink "$PF/virtfn0")"
expect_write_error 2 "$PF/sriov_numvfs" "Device or resource busy"
expect_write_error 99 "$PF/sriov_numvfs" "Numerical result out of range"
expect_write_error abc "$PF/sriov_numvfs" "Invalid argument"
expect_write_error 1 "$PF/sriov_totalvfs" "Permission denied"

# libvirt's way to hand a VF to vfio-pci
VF=$ROOT/sys/bus/pci/devices/0000:03:02.0
echo vfio-pci > "$VF/driver_override"
echo 0000:03:02.0 > "$ROOT/sys/bus/pci/drivers_probe"
[ "$(readlink "$VF/driver")" = ../../../../bus/pci/drivers/vfio-pci ] || fail "driver link: $(readlink "$VF/driver" || true)"
group=$(basename "$(readlink "$VF/iommu_group")")
[ -e "$ROOT/dev/vfio/$group" ] || fail "/dev/vfio/$group missing"
[ -e "$ROOT/dev/vfio/vfio" ] || fail "/dev/vfio/vfio missing"
[ -L "$ROOT/sys/bus/pci/drivers/vfio-pci/0000:03:02.0" ] || fail "driver dir has no link to the VF"
[ -L "$ROOT/sys/kernel/iommu_groups/$group/devices/0000:03:02.0" ] || fail "iommu group dir has no link to the VF"
"$SIM" status --root "$ROOT" --json | grep -q "\"vfio\":\"/dev/vfio/$group\"" || fail "status does not show /dev/vfio/$group"
"$SIM" status --root "$ROOT" | grep -q "0000:03:02.0" || fail "human status lacks the VF"

# lspci decodes the tree, SR-IOV capability included
out=$(lspci -A linux-sysfs -O sysfs.path="$ROOT/sys/bus/pci" -nnvvv -s 03:00.0 2>/dev/null)
grep -q "Single Root I/O Virtualization (SR-IOV)" <<<"$out" || fail "lspci: no SR-IOV capability"
grep -q "Initial VFs: 16, Total VFs: 16, Number of VFs: 4" <<<"$out" || fail "lspci: VF counts"
grep -q "VF offset: 16, stride: 1, Device ID: 692f" <<<"$out" || fail "lspci: VF offset/device"
grep -q "IOVCtl:	Enable+" <<<"$out" || fail "lspci: VF Enable not set"
grep -q "Kernel driver in use: pci-pf-stub" <<<"$out" || fail "lspci: PF driver"
grep -q "Vendor Specific Information: ID=0002" <<<"$out" || fail "lspci: no GPU-IOV capability"
n=$(lspci -A linux-sysfs -O sysfs.path="$ROOT/sys/bus/pci" -n 2>/dev/null | grep -c "1002:692f")
[ "$n" = 4 ] || fail "lspci lists $n VFs, expected 4"
lspci -A linux-sysfs -O sysfs.path="$ROOT/sys/bus/pci" -nnvvv -s 00:02.0 2>/dev/null | grep -q "ARIFwd+" || fail "root port: ARI forwarding"

echo 0 > "$PF/sriov_numvfs"
[ ! -e "$ROOT/dev/vfio/$group" ] || fail "/dev/vfio/$group left after disable"
[ ! -e "$PF/virtfn0" ] || fail "virtfn0 left after disable"

# load and faults through the CLI
echo 2 > "$PF/sriov_numvfs"
"$SIM" load --root "$ROOT" 0000:03:00.0/1=busy all=idle
"$SIM" fault --root "$ROOT" write 0000:03:00.0 sriov_numvfs EIO 1
expect_write_error 0 "$PF/sriov_numvfs" "Input/output error"
echo 0 > "$PF/sriov_numvfs"
"$SIM" fault --root "$ROOT" vf-missing 0000:03:00.0 1
echo 3 > "$PF/sriov_numvfs"
[ -e "$PF/virtfn0" ] && [ ! -e "$PF/virtfn1" ] && [ -e "$PF/virtfn2" ] || fail "vf-missing: VF 1 appeared"
"$SIM" fault --root "$ROOT" clear
echo 0 > "$PF/sriov_numvfs"
if "$SIM" fault --root "$ROOT" write 0000:03:00.0 sriov_numvfs ENOTANERRNO 2>/dev/null; then fail "bad errno accepted"; fi
"$SIM" fault --root "$ROOT" remove 0000:03:00.0
[ ! -e "$PF" ] || fail "surprise removal left the PF"
"$SIM" latency --root "$ROOT" vf_enable=1ms,bind=0
if "$SIM" latency --root "$ROOT" warp=1ms 2>/dev/null; then fail "unknown latency op accepted"; fi
sim_stop
