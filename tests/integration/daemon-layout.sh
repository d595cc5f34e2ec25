# SPDX-License-Identifier: MIT
# mxgpud lays out framebuffer, time slices and vfio binding exactly as hardware.md's rules say,
# checked in the simulator's own view (never only through the daemon's).
source "$(dirname "$0")/../lib.sh"
need_root

# 1. The default config on an S7150: 16 VFs x 480 MiB from 272 MiB, as a real S7150 shows.
sim_start s7150
write_config default <<'CONF'
[gpu *]
CONF
mxgpud_once >"$T/once.log" 2>&1 || fail "mxgpud --once: $(cat "$T/once.log")"
assert_eq "$(jqs '.pfs[0].numvfs')" 16 "S7150 default VF count"
assert_eq "$(jqs '.pfs[0].autoprobe')" false "autoprobe"
for i in $(seq 0 15); do
  assert_eq "$(jqs ".pfs[0].vfs[$i].fb | \"\(.offset_mib) \(.size_mib)\"")" "$((272 + 480 * i)) 480" "S7150 VF$i framebuffer"
  assert_eq "$(jqs ".pfs[0].vfs[$i].driver")" vfio-pci "VF$i driver"
  node=$(jqs ".pfs[0].vfs[$i].vfio")
  [ -e "$R$node" ] || fail "VF$i: $R$node missing"
  assert_eq "$(jqs ".pfs[0].vfs[$i].time_quantum_ms")" 6 "VF$i quantum"
  assert_near "$(jqs ".pfs[0].vfs[$i].share")" 0.0625 0.02 "VF$i share under full load"
done
assert_eq "$(jqs '.pfs[0].gpuiov | "\(.pf_reserve_mib) \(.context.offset_mib) \(.context.size_mib)"')" "256 256 8" "PF reserve and context"
assert_eq "$(jqs '.pfs[0].gpuiov.scheduler | "\(.mode) \(.running)"')" "solid true" "scheduler"

# 2. Mixed sizes and slices on an S7150x2: only the named PF changes shape.
sim_start s7150x2
write_config mixed <<'CONF'
[gpu *]
vfs = 4
vf_memory = auto
time_slice = 6ms
scheduler = solid

[vf 0000:03:00.0 2]
vf_memory = 4G
time_slice = 12ms

[gpu 0000:04:00.0]
vfs = 3
vf_memory = 2G
CONF
mxgpud_once >"$T/once.log" 2>&1 || fail "mxgpud --once: $(cat "$T/once.log")"
# 8192 - 272 - 4096 = 3824 for three auto VFs: 1274 -> 1264 (16 MiB steps).
expect="272 1264,1536 1264,2800 4096,6896 1264"
got=$(jqs '[.pfs[0].vfs[] | "\(.fb.offset_mib) \(.fb.size_mib)"] | join(",")')
assert_eq "$got" "$expect" "0000:03:00.0 layout"
got=$(jqs '[.pfs[0].vfs[] | .time_quantum_ms] | join(",")' )
assert_eq "$got" "6,6,12,6" "0000:03:00.0 quanta"
for i in 0 1 3; do assert_near "$(jqs ".pfs[0].vfs[$i].share")" 0.2 0.02 "VF$i share"; done
assert_near "$(jqs '.pfs[0].vfs[2].share')" 0.4 0.02 "VF2 share (12 of 30 ms)"
got=$(jqs '[.pfs[1].vfs[] | "\(.fb.offset_mib) \(.fb.size_mib)"] | join(",")')
assert_eq "$got" "272 2048,2320 2048,4368 2048" "0000:04:00.0 layout"
# Tonga's block runs solid (it takes no mode command): an idle VF keeps its slot.
assert_eq "$(jqs '.pfs[1].gpuiov.scheduler.mode')" solid "0000:04:00.0 mode"
"$SIM" load --root "$R" 0000:04:00.0/1=idle
assert_near "$(jqs '.pfs[1].vfs[0].share')" 0.333 0.02 "solid share with one VF idle"
assert_near "$(jqs '.pfs[1].vfs[1].share')" 0 0.001 "idle VF share"

# 2b. V710 runs the hardware policies too: liquid gives an idle VF's time to the busy ones.
sim_start v710
write_config liquid <<'CONF'
[gpu *]
vfs = 3
scheduler = liquid
CONF
mxgpud_once >"$T/once.log" 2>&1 || fail "mxgpud --once: $(cat "$T/once.log")"
assert_eq "$(jqs '[.pfs[0].gpuiov.schedulers[].mode] | unique | join(",")')" liquid "V710 mode on every block"
"$SIM" load --root "$R" 0000:03:00.0/1=idle
assert_near "$(jqs '.pfs[0].vfs[0].share')" 0.5 0.02 "liquid share with one VF idle"
assert_near "$(jqs '.pfs[0].vfs[1].share')" 0 0.001 "idle VF share"

# 3. A mixed host: Tonga, MI300 and a generic NVMe PF.
sim_start s7150x2+mi300x+nvme
write_config host <<'CONF'
[gpu s7150]
vfs = 2

[gpu mi300x]
vfs = 8
time_slice = 10ms

[vf 0000:07:00.0 7]
time_slice = 30ms

[device 0000:0b:00.0]
vfs = 3
pf_driver = keep
CONF
mxgpud_once >"$T/once.log" 2>&1 || fail "mxgpud --once: $(cat "$T/once.log")"
# MI300X: 196608 MiB, reserve 256, VFs from 272: (196608 - 272) / 8 = 24542 -> 24528.
for i in $(seq 0 7); do
  assert_eq "$(jqs ".pfs[2].vfs[$i].fb | \"\(.offset_mib) \(.size_mib)\"")" "$((272 + 24528 * i)) 24528" "MI300X VF$i"
done
# MI300X runs only the software policies: round_robin by default, on every block.
assert_eq "$(jqs '[.pfs[2].gpuiov.schedulers[] | "\(.mode) \(.running)"] | unique | join(",")')" "round_robin true" \
  "MI300X policy"
assert_near "$(jqs '.pfs[2].vfs[0].share')" 0.1 0.02 "MI300X VF0 share (10 of 100 ms)"
assert_near "$(jqs '.pfs[2].vfs[7].share')" 0.3 0.02 "MI300X VF7 share (30 of 100 ms)"
assert_eq "$(jqs '.pfs[0].numvfs') $(jqs '.pfs[1].numvfs')" "2 2" "S7150x2 VF counts"
assert_eq "$(jqs '.pfs[3].numvfs')" 3 "NVMe VF count"
assert_eq "$(jqs '.pfs[3].driver')" nvme "NVMe PF keeps its driver"
assert_eq "$(jqs '[.pfs[3].vfs[] | .driver] | join(",")')" "vfio-pci,vfio-pci,vfio-pci" "NVMe VFs on vfio-pci"

# 4. A second run changes nothing (idempotent): no action is logged.
mxgpud_once >"$T/again.log" 2>&1 || fail "second --once"
if grep -E "sriov_numvfs|framebuffer|scheduler|bind " "$T/again.log"; then fail "second run changed something"; fi
echo "layouts, quanta, shares and binding as specified"
