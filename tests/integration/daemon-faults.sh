# SPDX-License-Identifier: MIT
# Faults injected by the simulator leave mxgpud running, that PF degraded or failed with its
# reason, and the other PFs ready.
source "$(dirname "$0")/../lib.sh"
need_root

pf_state() { ctl list --json | jq -r ".pfs[] | select(.address == \"$1\") | \"\(.state): \(.reason)\""; }

# run_case NAME FAULT... : fresh host, fault armed, daemon applies; sets S3 and S4 (the two PFs' states)
run_case() {
  local name=$1; shift
  sim_start s7150x2
  write_config "$name" <<'C'
[gpu *]
vfs = 4
C
  "$SIM" fault --root "$R" "$@" || fail "$name: cannot arm fault $*"
  daemon_start
  S3=$(pf_state 0000:03:00.0) S4=$(pf_state 0000:04:00.0)
  kill -0 "$DPID" || fail "$name: mxgpud died"
  [[ $S4 == "ready: null" ]] || fail "$name: the other PF is not ready: $S4"
  assert_eq "$(jqs '.pfs[1].numvfs')" 4 "$name: other PF's VFs"
  assert_eq "$(jqs '[.pfs[1].vfs[].driver] | join(",")')" "vfio-pci,vfio-pci,vfio-pci,vfio-pci" "$name: other PF's binding"
}

run_case eio write 0000:03:00.0 sriov_numvfs EIO 1
[[ $S3 == failed:*sriov_numvfs*"Input/output error"* ]] || fail "EIO on sriov_numvfs: $S3"
# The fault is spent: an apply now converges.
ctl apply >/dev/null || fail "apply after EIO"
assert_eq "$(pf_state 0000:03:00.0)" "ready: null" "after apply"
kill "$DPID"; wait "$DPID" || true # its socket must be gone before the next daemon starts

run_case ebusy write 0000:03:00.0 sriov_drivers_autoprobe EBUSY 1
[[ $S3 == failed:*autoprobe*"busy"* ]] || fail "EBUSY on autoprobe: $S3"
kill "$DPID"; wait "$DPID" || true # its socket must be gone before the next daemon starts

# A config-space write the kernel fails names the register, not a card status.
run_case config-eio write 0000:03:00.0 config EIO 1
[[ $S3 == failed:*"framebuffer partition"*"cannot write TOTAL_FB_CONSUMED"*"Input/output error"* ]] ||
  fail "EIO on config: $S3"
[[ $S3 != *"status 0x00"* ]] || fail "EIO on config reported as a card status: $S3"
kill "$DPID"; wait "$DPID" || true # its socket must be gone before the next daemon starts

run_case hang cmd-hang 0000:03:00.0 1
[[ $S3 == failed:*0x0e*hang* ]] || fail "command hang: $S3"
kill "$DPID"; wait "$DPID" || true # its socket must be gone before the next daemon starts

run_case stuck cmd-stuck 0000:03:00.0 1
[[ $S3 == failed:*"did not complete in 2000 ms"*"the card is hung"* ]] || fail "stuck command: $S3"
# The command is still in flight at the next apply: nothing more is sent and the PF is not ready.
ctl apply >/dev/null 2>&1 || true
S3=$(pf_state 0000:03:00.0)
[[ $S3 == degraded:*"EXECUTE still set"*"reset the card"* ]] || fail "stuck command at the next apply: $S3"
kill "$DPID"; wait "$DPID" || true # its socket must be gone before the next daemon starts

run_case missing vf-missing 0000:03:00.0 2
[[ $S3 == degraded:*"VF 2 is missing"* ]] || fail "missing VF: $S3"
kill "$DPID"; wait "$DPID" || true # its socket must be gone before the next daemon starts

# A command that fails part-way through the tear-down's scheduler stop (MI300X, 8 -> 1 VFs; 50 ms a
# command, the fault armed once a block has stopped): the blocks stopped so far run again, and the 8 VFs
# stay degraded as they were, not failed with half the card stopped. A card left with EXECUTE set gets
# no more commands: then the PF is failed and the reason says the card needs a reset.
# teardown_fault NAME FAULT: sets LOG (the apply's output)
teardown_fault() {
  sim_start mi300x
  write_config "$1" <<'C'
[gpu *]
vfs = 8
C
  mxgpud_once >"$T/$1-up.log" 2>&1 || fail "$1: bring-up: $(cat "$T/$1-up.log")"
  BEFORE=$(jqs -c '.pfs[0].gpuiov | [[.schedulers[] | "\(.running) \(.active_functions)"], [.vfs[].fb]]')
  "$SIM" latency --root "$R" cmd=50ms
  sed -i 's/^vfs = 8/vfs = 1/' "$CONF"
  LOG=$T/$1.log
  mxgpud_once >"$LOG" 2>&1 &
  local pid=$! stopped=0
  while kill -0 "$pid" 2>/dev/null; do   # until a block stops; bounded by the daemon's own run
    stopped=$(jqs '[.pfs[0].gpuiov.schedulers[] | select(.running == false)] | length')
    [ "$stopped" -gt 0 ] && break
    sleep 0.01
  done
  "$SIM" fault --root "$R" "$2" 0000:03:00.0 1
  "$SIM" latency --root "$R" cmd=0
  local rc=0; wait "$pid" || rc=$?
  [ "$stopped" -gt 0 ] || fail "$1: no scheduler block stopped: $(cat "$LOG")"
  assert_eq "$rc" 1 "$1: exit status"
  ! grep -q "sriov_numvfs" "$LOG" || fail "$1: sriov_numvfs written: $(cat "$LOG")"
  assert_eq "$(jqs '.pfs[0] | "\(.numvfs) \([.vfs[].driver] | unique | join(","))"')" "8 vfio-pci" "$1: VFs"
}
teardown_fault stop-hang cmd-hang
grep -q "0000:03:00.0: degraded: cannot stop the scheduler: command DISABLE_AUTO_HW_SCHED on scheduler block [0-9]* .*failed: the card reported status 0x0e (graphics engine hang); the 8 VFs are kept as they were" "$LOG" ||
  fail "stop-hang: reason: $(cat "$LOG")"
assert_eq "$(jqs -c '.pfs[0].gpuiov | [[.schedulers[] | "\(.running) \(.active_functions)"], [.vfs[].fb]]')" "$BEFORE" \
  "stop-hang: every block running as before"
teardown_fault stop-stuck cmd-stuck
grep -q "0000:03:00.0: failed: cannot stop the scheduler: command DISABLE_AUTO_HW_SCHED on scheduler block [0-9]* .*did not complete in 500 ms (EXECUTE still set): the card is hung; the 8 VFs are still there, but their scheduler could not be restored: the card takes no more commands; reset the card (reboot the host)" "$LOG" ||
  fail "stop-stuck: reason: $(cat "$LOG")"
# the next apply sends nothing either
rc=0; mxgpud_once >"$T/stop-stuck-again.log" 2>&1 || rc=$?
grep -q "0000:03:00.0: config not applied: command DISABLE_AUTO_HW_SCHED .*never completed.*reset the card" "$T/stop-stuck-again.log" ||
  fail "stop-stuck: next apply: $(cat "$T/stop-stuck-again.log")"

# One VF removed on its own (echo 1 > remove): the VFs after it are still listed, and those already
# on vfio-pci are not bound again.
sim_start s7150
write_config hole <<'C'
[gpu *]
vfs = 4
C
mxgpud_once >"$T/hole1.log" 2>&1 || fail "first apply: $(cat "$T/hole1.log")"
echo 1 >"$R/sys/bus/pci/devices/0000:03:02.1/remove"
rc=0; mxgpud_once --log-level debug >"$T/hole.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "exit status with a VF missing"
grep -q "degraded: 3 of 4 VFs appeared (VF 1 is missing)" "$T/hole.log" || fail "VF hole: $(cat "$T/hole.log")"
! grep -q "bind .*vfio-pci" "$T/hole.log" || fail "VFs bound again: $(cat "$T/hole.log")"
assert_eq "$(jq -r '[.pfs[0].vfs[].index] | join(",")' "$T/state/state.json")" "0,2,3" "VFs recorded"

# A PF removed in the middle of an apply: gone, not failed, with no reason made up from the VFs that
# vanished with it. The removal is triggered by what the simulator shows, not by a clock, so it lands
# inside the step however slow mxgpud runs (valgrind): while the kernel makes the VFs (a 2 s enable;
# mxgpud has just turned autoprobe off), and while they are bound (300 ms per bind, 8 at once).
# remove_when FILTER: remove the PF once the jq FILTER over its status is true.
remove_when() {
  for _ in $(seq 3000); do [ "$(jqs ".pfs[0] | $1")" = true ] && break; sleep 0.01; done
  "$SIM" fault --root "$R" remove 0000:03:00.0
}
for step in enable bind; do
  if [ $step = enable ]; then sim_start s7150 "zero,vf_enable=2s"; when='.autoprobe == false'
  else sim_start s7150 "zero,bind=300ms"; when='.numvfs == 16'; fi
  write_config "vanish-$step" <<'C'
[gpu *]
vfs = 16
C
  remove_when "$when" &
  rc=0; mxgpud_once >"$T/vanish-$step.log" 2>&1 || rc=$?
  wait
  assert_eq "$rc" 1 "exit status when the PF left during the $step"
  grep -q "0000:03:00.0: gone: the PF was removed from the bus during the apply" "$T/vanish-$step.log" ||
    fail "gone ($step): $(cat "$T/vanish-$step.log")"
  ! grep -q "failed\|cannot bind\|No such device" "$T/vanish-$step.log" || fail "made-up reasons ($step): $(cat "$T/vanish-$step.log")"
  assert_eq "$(jq -r '[.pfs[] | select(.address == "0000:03:00.0")] | length' "$T/state/state.json")" 0 "gone PF kept in the state ($step)"
  "$SIM" stop --root "$R"
done

# Surprise removal while the daemon runs: it stays up and keeps serving the other PF.
sim_start s7150x2
write_config removal <<'C'
[gpu *]
vfs = 4
C
daemon_start
c=$(cycles)
"$SIM" fault --root "$R" remove 0000:03:00.0
kill -HUP "$DPID"
for _ in $(seq 100); do [ "$(cycles)" -gt "$c" ] && break; sleep 0.05; done
kill -0 "$DPID" || fail "mxgpud died after a PF was removed"
assert_eq "$(ctl list --json | jq -r '[.pfs[].address] | join(",")')" "0000:04:00.0" "PFs after removal"
assert_eq "$(pf_state 0000:04:00.0)" "ready: null" "remaining PF"
echo "faults stay with their PF; mxgpud keeps running"
