# SPDX-License-Identifier: MIT
# Tear-down is the reverse of bring-up: before the VFs go, the scheduler stops and their framebuffer
# entries are cleared, under the state file's tearing-down mark; a failed write of 0 to sriov_numvfs
# is named as such and leaves the VFs as they were (degraded, not failed).
source "$(dirname "$0")/../lib.sh"
need_root

# 4 VFs, then none (Tonga: no command stops its scheduler, ACTIVE_FUNCTIONS is cleared).
sim_start s7150 realistic
write_config down <<'C'
[gpu *]
vfs = 4
C
mxgpud_once >"$T/up.log" 2>&1 || fail "bring-up: $(cat "$T/up.log")"
assert_eq "$(jqs '.pfs[0].gpuiov.scheduler.active_functions')" 0x0000000f "scheduler programmed"
sed -i 's/^vfs = 4/vfs = 0/' "$CONF"
mxgpud_once >"$T/down.log" 2>&1 &
pid=$!
phase=
while kill -0 "$pid" 2>/dev/null; do   # the kernel's disable sleeps a second: the mark is there meanwhile
  phase=$(jq -r '.pfs[0].phase' "$T/state/state.json" 2>/dev/null || true)
  [ "$phase" = tearing-down ] && break
  sleep 0.01
done
wait "$pid" || fail "tear-down: $(cat "$T/down.log")"
assert_eq "$phase" tearing-down "state file during the tear-down"
grep -n "scheduler: stop\|framebuffer: clear\|sriov_numvfs 4 -> 0" "$T/down.log" | cut -d: -f1 | tr '\n' ' ' | grep -qx "1 2 3 " ||
  fail "tear-down order: $(cat "$T/down.log")"
assert_eq "$(jqs '.pfs[0].numvfs')" 0 "VFs disabled"
assert_eq "$(jqs '.pfs[0].gpuiov.scheduler.active_functions')" 0x00000000 "no active functions"
assert_eq "$(jqs '[.pfs[0].gpuiov.vfs[].fb.size_mib] | unique | join(",")')" 0 "framebuffer entries cleared"
assert_eq "$(jq -r '.pfs[0].phase' "$T/state/state.json")" applied "state after the tear-down"
mxgpud_once >"$T/again.log" 2>&1 || fail "again: $(cat "$T/again.log")"
! grep -q "scheduler\|framebuffer\|sriov_numvfs" "$T/again.log" || fail "a second run changed something: $(cat "$T/again.log")"

# MI300X: its schedulers are stopped as well (DISABLE_AUTO_HW_SCHED).
sim_start mi300x
write_config mi <<'C'
[gpu *]
vfs = 8
C
mxgpud_once >"$T/mi-up.log" 2>&1 || fail "MI300X bring-up: $(cat "$T/mi-up.log")"
sed -i 's/^vfs = 8/vfs = 0/' "$CONF"
mxgpud_once >"$T/mi-down.log" 2>&1 || fail "MI300X tear-down: $(cat "$T/mi-down.log")"
assert_eq "$(jqs '[.pfs[0].gpuiov.schedulers[] | "\(.running) \(.active_functions)"] | unique | join(",")')" \
  "false 0x00000000" "MI300X schedulers stopped"
assert_eq "$(jqs '[.pfs[0].gpuiov.vfs[].fb.size_mib] | unique | join(",")')" 0 "MI300X framebuffer entries cleared"

# 4 -> 6 with the write of 0 refused: that write is named, and the 4 VFs stay usable as they were.
sim_start s7150
write_config busy <<'C'
[gpu *]
vfs = 4
C
mxgpud_once >"$T/busy-up.log" 2>&1 || fail "bring-up: $(cat "$T/busy-up.log")"
before=$(jqs -c '.pfs[0].gpuiov | [.scheduler.active_functions, [.vfs[].fb]]')
"$SIM" fault --root "$R" write 0000:03:00.0 sriov_numvfs EBUSY 1
sed -i 's/^vfs = 4/vfs = 6/' "$CONF"
rc=0; mxgpud_once >"$T/busy.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status"
grep -q "0000:03:00.0: degraded: cannot disable the 4 VFs to change their count to 6 (writing 0 to sriov_numvfs failed: Device or resource busy" "$T/busy.log" ||
  fail "reason: $(cat "$T/busy.log")"
! grep -q "cannot set sriov_numvfs to 6" "$T/busy.log" || fail "blames the write of 6: $(cat "$T/busy.log")"
assert_eq "$(jqs '.pfs[0] | "\(.numvfs) \([.vfs[].driver] | unique | join(","))"')" "4 vfio-pci" "VFs kept"
assert_eq "$(jqs -c '.pfs[0].gpuiov | [.scheduler.active_functions, [.vfs[].fb]]')" "$before" "registers as they were"
# The state file records what the VFs kept, not the layout for 6 that was never applied: the pool
# VMs draw from is built from it.
kept_state() {
  jq -c '.pfs[0] | [.num_vfs, [.vfs[] | [.index, .fb.offset_mib, .fb.size_mib, .bound_by_us]], .scheduler]' "$T/state/state.json"
}
kept_sim() {
  jqs -c '.pfs[0] | [.numvfs, [.gpuiov.vfs[:4][] | [.index, .fb.offset_mib, .fb.size_mib, true]], .gpuiov.scheduler.mode]'
}
assert_eq "$(kept_state)" "$(kept_sim)" "state file after the failed 4 -> 6"

# The same with a state file an older mxgpud wrote: liquid as the S7150's mode (sched_mode 2, no
# "scheduler" key), which the card does not run. The mode is taken as unknown, and the VFs' scheduler
# is given back in the mode the card runs.
jq '.pfs[0] |= (del(.scheduler) | .sched_mode = 2)' "$T/state/state.json" >"$T/state.old" && mv "$T/state.old" "$T/state/state.json"
"$SIM" fault --root "$R" write 0000:03:00.0 sriov_numvfs EBUSY 1
rc=0; mxgpud_once >"$T/busy-old.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status (older state file)"
grep -q "0000:03:00.0: degraded: cannot disable the 4 VFs to change their count to 6 (writing 0 to sriov_numvfs failed: Device or resource busy.*); the 4 VFs are kept as they were" "$T/busy-old.log" ||
  fail "reason (older state file): $(cat "$T/busy-old.log")"
assert_eq "$(jqs -c '.pfs[0].gpuiov | [.scheduler.active_functions, [.vfs[].fb]]')" "$before" "registers as they were (older state file)"
assert_eq "$(jqs '.pfs[0].gpuiov.scheduler | "\(.running) \(.mode)"')" "true solid" "scheduler running solid (older state file)"

# 4 -> 0 with the write of 0 refused: the same, though the count asked for is the 0 that failed. The
# registers stopped and cleared before it are given back, and the PF is degraded, not failed.
"$SIM" fault --root "$R" write 0000:03:00.0 sriov_numvfs EBUSY 1
sed -i 's/^vfs = 6/vfs = 0/' "$CONF"
rc=0; mxgpud_once >"$T/busy0.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status (4 -> 0)"
grep -q "scheduler: stop" "$T/busy0.log" && grep -q "framebuffer: clear 4 VF entries" "$T/busy0.log" ||
  fail "4 -> 0 did not stop and clear first: $(cat "$T/busy0.log")"
grep -q "0000:03:00.0: degraded: cannot disable the 4 VFs (writing 0 to sriov_numvfs failed: Device or resource busy.*); the 4 VFs are kept as they were" "$T/busy0.log" ||
  fail "reason (4 -> 0): $(cat "$T/busy0.log")"
! grep -q "cannot set sriov_numvfs to 0\|already enabled" "$T/busy0.log" || fail "blames a write of 0 as a count (4 -> 0): $(cat "$T/busy0.log")"
assert_eq "$(jqs '.pfs[0] | "\(.numvfs) \([.vfs[].driver] | unique | join(","))"')" "4 vfio-pci" "VFs kept (4 -> 0)"
assert_eq "$(jqs -c '.pfs[0].gpuiov | [.scheduler.active_functions, [.vfs[].fb]]')" "$before" "registers as they were (4 -> 0)"
assert_eq "$(jq -r '.pfs[0].phase' "$T/state/state.json")" applied "state after the failed disable (4 -> 0)"
assert_eq "$(kept_state)" "$(kept_sim)" "state file after the failed disable (4 -> 0)"
# the fault spent, the tear-down completes
mxgpud_once >"$T/busy0-again.log" 2>&1 || fail "4 -> 0 again: $(cat "$T/busy0-again.log")"
assert_eq "$(jqs '.pfs[0] | "\(.numvfs) \(.gpuiov.scheduler.active_functions)"')" "0 0x00000000" "torn down at the next apply"
echo "tear-down in reverse order under its mark; a failed disable names its write and keeps the VFs"
