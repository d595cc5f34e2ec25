# SPDX-License-Identifier: MIT
# Who holds the PF: amdgpu is refused unless the config allows taking it over; with gim, mxgpud reads
# the VFs gim enabled and never writes sriov_numvfs behind it; platform faults read in plain words.
source "$(dirname "$0")/../lib.sh"
need_root
HOSTS=$SRC/tests/hosts

# gim-host.ini: gim owns the S7150x2 PFs (all VFs enabled), amdgpu holds the MI300X.
sim_start "$HOSTS/gim-host.ini"
"$SIM" fault --root "$R" write 0000:03:00.0 sriov_numvfs EIO 100   # tripwires: never written
"$SIM" fault --root "$R" write 0000:04:00.0 sriov_numvfs EIO 100
write_config gim <<'C'
[gpu s7150]
pf_driver = gim
vfs = 16

[gpu mi300x]
vfs = 8
C
rc=0; mxgpud_once >"$T/gim.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status with amdgpu on the MI300X"
grep -q "0000:07:00.0: .*amdgpu owns the PF.*take_over_host_driver" "$T/gim.log" || fail "amdgpu refusal: $(cat "$T/gim.log")"
assert_eq "$(jqs '.pfs[] | select(.address == "0000:07:00.0") | .driver')" amdgpu "MI300X left with amdgpu"
for pf in 0000:03:00.0 0000:04:00.0; do
  assert_eq "$(jqs ".pfs[] | select(.address == \"$pf\") | \"\(.driver) \(.numvfs)\"")" "gim 16" "$pf under gim"
  assert_eq "$(jqs ".pfs[] | select(.address == \"$pf\") | [.vfs[].driver] | unique | join(\",\")")" vfio-pci "$pf VFs bound"
done
grep -q "0000:03:00.0: ready" "$T/gim.log" || fail "gim PF not ready: $(cat "$T/gim.log")"

# Allowed to take over: amdgpu is unbound and pci-pf-stub takes the PF.
cat >>"$CONF" <<'C'
take_over_host_driver = yes
C
mxgpud_once >"$T/take.log" 2>&1 || fail "take-over: $(cat "$T/take.log")"
assert_eq "$(jqs '.pfs[] | select(.address == "0000:07:00.0") | "\(.driver) \(.numvfs)"')" "pci-pf-stub 8" "MI300X taken over"

# No IOMMU: vfio-pci cannot bind; the reason says how to fix it.
sim_start "$HOSTS/no-iommu.ini"
write_config iommu <<'C'
[gpu *]
vfs = 2
C
rc=0; mxgpud_once >"$T/iommu.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status without IOMMU"
grep -q "failed: 0 of 2 VFs on vfio-pci; .*IOMMU" "$T/iommu.log" || fail "IOMMU reason: $(cat "$T/iommu.log")"

# No room for the VF BARs (no Above 4G decoding): ENOMEM in plain words.
sim_start "$HOSTS/no-above-4g.ini"
write_config mmio <<'C'
[gpu *]
vfs = 4
C
rc=0; mxgpud_once >"$T/mmio.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status without MMIO room"
grep -q "Above 4G decoding" "$T/mmio.log" || fail "MMIO reason: $(cat "$T/mmio.log")"
echo "host drivers and platform faults handled with their reasons"
