#!/bin/bash
# SPDX-License-Identifier: MIT
# Contract: INI host files build the hosts they describe, and bad ones fail with file:line, key and value.
set -euo pipefail
. "$(dirname "$0")/lib/sim.sh"
hosts=$here/tests/hosts

# no Above 4G decoding: the fourth VF does not fit
sim_start "$hosts/no-above-4g.ini"
PF=$ROOT/sys/bus/pci/devices/0000:03:00.0
echo 0 > "$PF/sriov_drivers_autoprobe"
expect_write_error 4 "$PF/sriov_numvfs" "Cannot allocate memory"
[ "$(cat "$PF/sriov_numvfs")" = 0 ] || fail "numvfs changed after ENOMEM"
echo 3 > "$PF/sriov_numvfs"
sim_stop

# no IOMMU: no groups, no /dev/vfio, vfio-pci refuses with EINVAL
sim_start "$hosts/no-iommu.ini"
PF=$ROOT/sys/bus/pci/devices/0000:03:00.0
[ ! -e "$PF/iommu_group" ] || fail "iommu_group link with iommu = no"
[ -z "$(ls "$ROOT/sys/kernel/iommu_groups")" ] || fail "iommu groups with iommu = no"
[ ! -e "$ROOT/dev/vfio/vfio" ] || fail "/dev/vfio/vfio with iommu = no"
out=$(MXGPU_ROOT=$ROOT MXGPU_TEST_PF=0000:03:00.0 MXGPU_TEST_FILTER=vfio_needs_iommu_group "$CONTRACT" 2>&1) || true
grep -q "PASSED  \] 1 test" <<<"$out" || { echo "$out"; fail "vfio_needs_iommu_group"; }
sim_stop

# firmware without SR-IOV and ARI forwarding
sim_start "$hosts/firmware-limits.ini"
PF=$ROOT/sys/bus/pci/devices/0000:03:00.0
[ -e "$PF/vendor" ] || fail "PF missing"
[ ! -e "$PF/sriov_totalvfs" ] || fail "sriov_totalvfs with sriov = no"
out=$(lspci -A linux-sysfs -O sysfs.path="$ROOT/sys/bus/pci" -vvv 2>/dev/null)
! grep -q "SR-IOV" <<<"$out" || fail "SR-IOV capability with sriov = no"
grep -q "ARIFwd-" <<<"$out" || fail "ARI forwarding enabled with ari = no"
sim_stop

# GIM bound at start enabled every VF itself; amdgpu has no sriov_configure
sim_start "$hosts/gim-host.ini"
for pf in 0000:03:00.0 0000:04:00.0; do
  [ "$(cat "$ROOT/sys/bus/pci/devices/$pf/sriov_numvfs")" = 16 ] || fail "$pf: gim did not enable 16 VFs"
  [ "$(basename "$(readlink "$ROOT/sys/bus/pci/devices/$pf/driver")")" = gim ] || fail "$pf not on gim"
done
MI=$ROOT/sys/bus/pci/devices/0000:07:00.0
[ "$(basename "$(readlink "$MI/driver")")" = amdgpu ] || fail "mi300x not on amdgpu"
[ "$(cat "$MI/numa_node")" = 1 ] || fail "numa_node"
expect_write_error 1 "$MI/sriov_numvfs" "No such file or directory"
sim_stop

# explicit addresses and ids
sim_start "$hosts/custom.ini"
[ "$(cat "$ROOT/sys/bus/pci/devices/0000:05:00.0/class")" = 0x010802 ] || fail "nvme class"
[ "$(cat "$ROOT/sys/bus/pci/devices/0000:41:00.0/sriov_totalvfs")" = 12 ] || fail "v710 totalvfs"
[ "$(cat "$ROOT/sys/module/vfio_pci/parameters/enable_sriov")" = Y ] || fail "vfio_enable_sriov"
MXGPU_ROOT=$ROOT MXGPU_TEST_PF=0000:41:00.0 "$CONTRACT" >/dev/null 2>&1 || fail "contract on the V710 of custom.ini"
MXGPU_ROOT=$ROOT MXGPU_TEST_PF=0000:05:00.0 "$CONTRACT" >/dev/null 2>&1 || fail "contract on the NVMe of custom.ini"
sim_stop

# VFs past the PF's bus: 256 VFs of 0000:02:00.0 end on bus 03 (routing IDs run on, as on NICs with 256
# VFs); the root port's bus range covers them, and the preset's board (buses 01-04 otherwise) goes past them
wide=$(mktemp -d)
SIM_DIRS+=("$wide")
printf '[pf 0000:02:00.0]\nvendor = 0x1b36\ndevice = 0x0010\ntotal_vfs = 256\ndriver = nvme\n[preset nvme]\n' >"$wide/h.ini"
sim_start "$wide/h.ini"
PF=$ROOT/sys/bus/pci/devices/0000:02:00.0
echo 0 > "$PF/sriov_drivers_autoprobe"
echo 256 > "$PF/sriov_numvfs"
[ "$(basename "$(readlink "$PF/virtfn254")")" = 0000:02:1f.7 ] || fail "virtfn254: $(readlink "$PF/virtfn254")"
[ "$(basename "$(readlink "$PF/virtfn255")")" = 0000:03:00.0 ] || fail "virtfn255: $(readlink "$PF/virtfn255")"
[ "$(basename "$(readlink "$ROOT/sys/bus/pci/devices/0000:03:00.0/physfn")")" = 0000:02:00.0 ] || fail "physfn of 03:00.0"
out=$(lspci -A linux-sysfs -O sysfs.path="$ROOT/sys/bus/pci" -s 00:02.0 -vv 2>/dev/null)
grep -q "secondary=02, subordinate=03" <<<"$out" || fail "root port bus range: $(grep Bus: <<<"$out")"
[ -e "$ROOT/sys/bus/pci/devices/0000:07:00.0/sriov_totalvfs" ] || fail "the preset is not on bus 07 (past the VFs' buses)"
echo 0 > "$PF/sriov_numvfs"
[ ! -e "$ROOT/sys/bus/pci/devices/0000:03:00.0" ] || fail "03:00.0 left after disable"
sim_stop

# errors name file:line, key, value and what is allowed
bad=$(mktemp -d)
SIM_DIRS+=("$bad")
check_error() { # content, expected message part...
  printf '%s\n' "$1" > "$bad/h.ini"
  local out
  if out=$("$SIM" start --host "$bad/h.ini" --root "$bad" 2>&1); then fail "accepted: $1"; fi
  shift
  for want in "$@"; do [[ $out == *"$want"* ]] || fail "error '$out' lacks '$want'"; done
}
check_error $'[host]\niommu = maybe' "h.ini:2" "iommu = maybe" "yes or no"
check_error $'[host]\nmmio_room = lots' "h.ini:2" "mmio_room = lots" "size"
check_error $'[preset s7150]\ndriver = radeon' "h.ini:2" "driver = radeon" "pci-pf-stub"
check_error $'[preset s9999]' "h.ini:1" "unknown preset 's9999'"
check_error $'[pf 0000:05:00.0]\nvendor = 0x1b36\ndevice = 0x10\nbar0 = 3K' "h.ini:4" "bar0 = 3K" "power of two"
check_error $'[pf nowhere]' "h.ini:1" "not a PCI address"
check_error $'[pf 0000:05:00.0]\ncolour = blue' "h.ini:2" "colour" "unknown key"
check_error $'[host]\n' "no [pf ADDRESS] or [preset NAME]"
check_error $'[pf 0000:05:00.0]\nlayout = tonga\nvendor = 0x1002\ndevice = 0x6929' "needs memory"
check_error $'[pf 0000:05:00.0]\nvendor = 0x1b36\ndevice = 0x10\ntotal_vfs = 70000' "h.ini:4" "total_vfs = 70000" "0-65535"
check_error $'[pf 0000:fe:00.0]\nvendor = 0x1b36\ndevice = 0x10\ntotal_vfs = 600' "h.ini:1" "runs past bus ff"
check_error $'[pf 0000:05:00.0]\nvendor = 0x1b36\ndevice = 0x10\ntotal_vfs = 300\n[pf 0000:06:00.0]\nvendor = 0x1b36\ndevice = 0x10' \
  "PF 0000:05:00.0 and PF 0000:06:00.0" "buses 05-06 and 06-06 overlap"
check_error $'[preset nvme]\ntotal_vfs = 600' "PF 0000:03:00.0" "600 VFs" "past the buses of its slot (01-04)"
# said once: the background start's parent reports what the simulator could not do
printf '[host]\nari = sometimes\n' >"$bad/h.ini"
n=$("$SIM" start --host "$bad/h.ini" --root "$bad" 2>&1 | grep -c "ari = sometimes" || true)
[ "$n" = 1 ] || fail "the start error was printed $n times"
if out=$("$SIM" start --host "s7150+banana" --root "$bad" 2>&1); then fail "bad preset accepted"; fi
[[ $out == *"unknown preset 'banana'"* ]] || fail "preset error: $out"
if out=$("$SIM" start --host s7150 --root "$bad" --latency fast 2>&1); then fail "bad latency accepted"; fi
[[ $out == *"latency 'fast'"* ]] || fail "latency error: $out"
! is_mounted "$bad/sys" || fail "a failed start left a mount"
