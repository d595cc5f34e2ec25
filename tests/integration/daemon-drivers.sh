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
# gim's VFs went to amdgpu (autoprobe was on): taking them needs the config's consent.
write_config gim <<'C'
[gpu s7150]
pf_driver = gim
vfs = 16
take_over_host_driver = yes

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

grep -q "warning: 0000:03:00.0 vf[0-9]*: .*taking it from the host driver amdgpu" "$T/gim.log" || fail "VF take-over not warned: $(cat "$T/gim.log")"

# Allowed to take over: amdgpu is unbound and pci-pf-stub takes the PF.
cat >>"$CONF" <<'C'
take_over_host_driver = yes
C
mxgpud_once >"$T/take.log" 2>&1 || fail "take-over: $(cat "$T/take.log")"
assert_eq "$(jqs '.pfs[] | select(.address == "0000:07:00.0") | "\(.driver) \(.numvfs)"')" "pci-pf-stub 8" "MI300X taken over"

# The default pf_driver (pci-pf-stub) over gim: refused with the advice doctor gives, nothing touched
# (unbinding gim would remove its VFs); with take_over_host_driver the VFs are made again from 0.
write_config gim-default <<'C'
[gpu s7150]
vfs = 16
C
rc=0; mxgpud_once >"$T/gim-default.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status with gim and the default pf_driver"
grep -q "0000:03:00.0: config not applied: gim owns the PF .*pf_driver = gim.*take_over_host_driver" "$T/gim-default.log" ||
  fail "gim refusal: $(cat "$T/gim-default.log")"
assert_eq "$(jqs '.pfs[] | select(.address == "0000:03:00.0") | "\(.driver) \(.numvfs)"')" "gim 16" "gim left alone"
"$MXGPUCTL" --root "$R" --socket "$T/nothing.sock" doctor --json >"$T/doc.json" || true
jq -r '.checks[] | select(.check == "pf-driver" and .device == "0000:03:00.0") | .message' "$T/doc.json" |
  grep -q "pf_driver = gim" || fail "doctor's advice differs: $(cat "$T/doc.json")"
"$SIM" fault --root "$R" clear   # the tripwires: now mxgpud owns SR-IOV
cat >>"$CONF" <<'C'
take_over_host_driver = yes
C
# with vfs = 0 the plan says the VFs go with gim, and writes no count (no "sriov_numvfs 0 -> 0")
sed 's/^vfs = 16/vfs = 0/' "$CONF" >"$T/gim-zero.conf"
"$MXGPUD" --root "$R" --config "$T/gim-zero.conf" --check-config >"$T/gim-zero.log" 2>&1 ||
  fail "--check-config, gim with vfs = 0: $(cat "$T/gim-zero.log")"
grep -q "bind the PF to pci-pf-stub (now: gim; 16 VFs removed with gim)" "$T/gim-zero.log" ||
  fail "plan, gim with vfs = 0: $(cat "$T/gim-zero.log")"
! grep -q "sriov_numvfs" "$T/gim-zero.log" || fail "a count planned with vfs = 0: $(cat "$T/gim-zero.log")"
mxgpud_once >"$T/gim-take.log" 2>&1 || fail "taking the PF from gim: $(cat "$T/gim-take.log")"
grep -q "warning: 0000:03:00.0: bind the PF to pci-pf-stub (now: gim; 16 VFs removed with gim)" "$T/gim-take.log" ||
  fail "PF take-over not warned: $(cat "$T/gim-take.log")"
grep -q "0000:03:00.0: sriov_numvfs 0 -> 16" "$T/gim-take.log" || fail "count not planned from 0: $(cat "$T/gim-take.log")"
assert_eq "$(jqs '.pfs[] | select(.address == "0000:03:00.0") | "\(.driver) \(.numvfs) \([.vfs[].driver] | unique | join(","))"')" \
  "pci-pf-stub 16 vfio-pci" "taken from gim"

# VFs a host driver holds (autoprobe was on when they were made): neither their framebuffer nor their
# driver is changed without take_over_host_driver; with it, each take-over is a warning naming amdgpu.
sim_start s7150
echo 4 >"$R/sys/bus/pci/devices/0000:03:00.0/sriov_numvfs"
write_config held <<'C'
[gpu *]
vfs = 4
C
rc=0; mxgpud_once >"$T/held.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status with VFs on amdgpu"
grep -q "config not applied: the framebuffer of a VF changes only while no host driver holds it; held: 0000:03:02.0 (vf 0, amdgpu)" "$T/held.log" ||
  fail "held VFs: $(cat "$T/held.log")"
assert_eq "$(jqs '[.pfs[0].vfs[].driver] | unique | join(",")')" amdgpu "VFs left on amdgpu"
assert_eq "$(jqs '.pfs[0].gpuiov.scheduler.active_functions')" 0x00000000 "scheduler untouched"
cat >>"$CONF" <<'C'
take_over_host_driver = yes
C
mxgpud_once >"$T/held-take.log" 2>&1 || fail "taking the VFs: $(cat "$T/held-take.log")"
assert_eq "$(grep -c "warning: 0000:03:00.0: take VF [0-3] from the host driver amdgpu" "$T/held-take.log")" 4 "take-overs warned"
assert_eq "$(jqs '[.pfs[0].vfs[].driver] | unique | join(",")')" vfio-pci "VFs taken"

# No IOMMU: vfio-pci cannot bind; the reason says how to fix it.
sim_start "$HOSTS/no-iommu.ini"
write_config iommu <<'C'
[gpu *]
vfs = 2
C
rc=0; mxgpud_once >"$T/iommu.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status without IOMMU"
grep -q "failed: 0 of 2 VFs on vfio-pci; .*IOMMU" "$T/iommu.log" || fail "IOMMU reason: $(cat "$T/iommu.log")"

# No room for the VF BARs (no Above 4G decoding): three VFs fit, a fourth is refused in plain words
# before anything is touched (the kernel would say ENOMEM only after removing the three), by
# --check-config too.
sim_start "$HOSTS/no-above-4g.ini"
write_config mmio <<'C'
[gpu *]
vfs = 3
C
mxgpud_once >"$T/mmio3.log" 2>&1 || fail "3 VFs without Above 4G decoding: $(cat "$T/mmio3.log")"
sed -i 's/^vfs = 3/vfs = 4/' "$CONF"
rc=0; "$MXGPUD" --root "$R" --config "$CONF" --check-config >"$T/mmio-check.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "--check-config exit status without MMIO room"
grep -q "0000:03:00.0: cannot apply: .*4 VFs do not fit .*room for 3 VFs.*Above 4G decoding" "$T/mmio-check.log" ||
  fail "--check-config MMIO reason: $(cat "$T/mmio-check.log")"
! grep -q "config OK" "$T/mmio-check.log" || fail "--check-config says OK: $(cat "$T/mmio-check.log")"
rc=0; mxgpud_once >"$T/mmio.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status without MMIO room"
grep -q "0000:03:00.0: config not applied: 4 VFs do not fit .*Above 4G decoding.*at most 3 VFs" "$T/mmio.log" ||
  fail "MMIO reason: $(cat "$T/mmio.log")"
! grep -q "sriov_numvfs" "$T/mmio.log" || fail "sriov_numvfs written: $(cat "$T/mmio.log")"
assert_eq "$(jqs '.pfs[0] | "\(.numvfs) \([.vfs[].driver] | join(","))"')" "3 vfio-pci,vfio-pci,vfio-pci" "the three VFs kept"
echo "host drivers and platform faults handled with their reasons"
