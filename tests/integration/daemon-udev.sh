# SPDX-License-Identifier: MIT
# mxgpud follows the kernel's uevents: a PF that goes away is forgotten, a VF taken from vfio-pci
# behind its back is reported, a PF that (re)appears is configured. The simulator sends udev-format
# uevents only inside private namespaces, so the test re-runs itself in them.
if [ -z "${MXGPU_UDEV_NS:-}" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "skip: needs root for namespaces"; exit 77; }
  unshare --pid --fork --mount --net true 2>/dev/null || { echo "skip: cannot create namespaces here"; exit 77; }
  # PID 1 of the new PID namespace stays in the host's netns, so the simulator can tell it is not
  # there; libudev listens only when /run/udev/control exists.
  exec unshare --pid --fork --mount --mount-proc bash -c '
    mount -t tmpfs tmpfs /run && mkdir -p /run/udev && touch /run/udev/control
    rc=0; MXGPU_UDEV_NS=1 unshare --net bash "$0" || rc=$?; exit $rc' "$0"
fi
source "$(dirname "$0")/../lib.sh"
export SYSTEMD_DEVICE_VERIFY_SYSFS=0

R=$T/host
mkdir -p "$R"
"$SIM" start --host s7150x2 --root "$R" --latency zero --uevents || fail "simulator with --uevents"
ROOTS+=("$R")
write_config udev <<'C'
[gpu *]
vfs = 2
C
daemon_start
wait_for() { # SECONDS CONDITION...
  local n=$(( $1 * 20 )); shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.05; done
  return 1
}
pf_state() { ctl list --json | jq -r ".pfs[] | select(.address == \"$1\") | \"\(.state): \(.reason)\""; }
assert_eq "$(pf_state 0000:03:00.0) $(pf_state 0000:04:00.0)" "ready: null ready: null" "initial states"
c=$(cycles)

# A VF leaves vfio-pci behind our back: reported, its PF degraded.
vf=$(jqs '.pfs[1].vfs[1].address')
echo "$vf" > "$R/sys/bus/pci/drivers/vfio-pci/unbind"
wait_for 5 bash -c "[[ \"\$($MXGPUCTL --socket $SOCK list --json | jq -r '.pfs[1].state')\" == degraded ]]" ||
  fail "unbinding $vf was not noticed: $(pf_state 0000:04:00.0)"
[[ $(pf_state 0000:04:00.0) == *"$vf"*"left vfio-pci"* ]] || fail "reason: $(pf_state 0000:04:00.0)"
grep -q "$vf left vfio-pci behind mxgpud's back" "$T/mxgpud.log" || fail "not logged"
# List answers from the daemon's last look at the PF; the uevent made it look again.
assert_eq "$(ctl list --json | jq -r ".pfs[1].vfs[] | select(.address == \"$vf\") | .driver")" null "driver of $vf in list after the unbind"
assert_eq "$(ctl --json show "$vf" | jq -r .vf.vfio_group)" null "vfio_group of $vf in show after the unbind"
assert_eq "$(cycles)" "$c" "the daemon's own VF events must not trigger cycles"
# An apply binds that VF alone; the others were bound before, so the verification lists the PF's VFs
# itself (a bring-up judges from what its bind jobs read) and finds all of them on vfio-pci.
ctl apply >/dev/null || fail "apply after the unbind"
assert_eq "$(pf_state 0000:04:00.0)" "ready: null" "state after re-binding $vf"
assert_eq "$(jqs '[.pfs[1].vfs[].driver] | unique | join(",")')" vfio-pci "drivers of 0000:04:00.0's VFs after the apply"
assert_eq "$(ctl --json show "$vf" | jq -r '.vf.vfio_group != null')" true "vfio_group of $vf after the apply"

# A PF goes away (surprise removal): forgotten, the state file drops it.
"$SIM" fault --root "$R" remove 0000:03:00.0
wait_for 5 bash -c "[[ \"\$($MXGPUCTL --socket $SOCK list --json | jq -r '.pfs[0].state')\" == gone ]]" ||
  fail "removal not noticed: $(pf_state 0000:03:00.0)"
wait_for 5 bash -c "! jq -e '.pfs[] | select(.address == \"0000:03:00.0\")' $T/state/state.json >/dev/null" ||
  fail "the state file still has the removed PF"
kill -0 "$DPID" || fail "mxgpud died"

# The PF comes back (rescan): configured without anyone asking.
echo 1 > "$R/sys/bus/pci/rescan"
wait_for 10 bash -c "[[ \"\$($SIM status --root $R --json | jq -r '.pfs[] | select(.address == \"0000:03:00.0\") | [.numvfs, (.vfs[].driver)] | join(\",\")')\" == 2,vfio-pci,vfio-pci ]]" ||
  fail "the re-added PF was not configured: $(pf_state 0000:03:00.0); $(tail -5 "$T/mxgpud.log")"
assert_eq "$(pf_state 0000:03:00.0)" "ready: null" "re-added PF"
echo "hotplug: removal, foreign rebind and re-add handled"
