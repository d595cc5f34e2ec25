# SPDX-License-Identifier: MIT
# A generic PF with more VFs than one bus holds: 256 VFs (the last on the bus after the PF's) come up
# on vfio-pci; more than the daemon manages (256) is refused in plain words, in the config and on a
# PF where someone else enabled them, and nothing is changed.
source "$(dirname "$0")/../lib.sh"
need_root
printf '[pf 0000:05:00.0]\nvendor = 0x1b36\ndevice = 0x0010\ntotal_vfs = 300\nlayout = none\ndriver = nvme\n' >"$T/wide.ini"
sim_start "$T/wide.ini"
PF=$R/sys/bus/pci/devices/0000:05:00.0

write_config many <<'C'
[device 0000:05:00.0]
vfs = 256
pf_driver = keep
C
mxgpud_once >"$T/many.log" 2>&1 || fail "256 VFs: $(cat "$T/many.log")"
assert_eq "$(jqs '[.pfs[].vfs[] | select(.driver == "vfio-pci")] | length')" 256 "VFs on vfio-pci"
assert_eq "$(basename "$(readlink "$PF/virtfn255")")" 0000:06:00.0 "the last VF's address"
assert_eq "$(jqs '.pfs[].vfs[] | select(.address == "0000:06:00.0") | .driver')" vfio-pci "the VF on the next bus"
n=$(jq "[.pfs[] | select(.address == \"0000:05:00.0\") | .vfs[]] | length" "$T/state/state.json"); [ "$n" = 256 ] ||
  fail "state.json holds $n VFs of 0000:05:00.0, not 256"

# the pool VMs draw from holds all 256 (it is built from the state's VFs, which kept only 16 before)
write_config pool <<'C'
udev = no
libvirt_uri =
[device 0000:05:00.0]
vfs = 256
pf_driver = keep
C
daemon_start
for _ in $(seq 100); do
  [ "$(ctl --json list | jq -r '.pfs[0].state')" = ready ] && break
  sleep 0.05
done
assert_eq "$(ctl --json pool | jq '[.pools[].vfs[]] | length')" 256 "VFs in the pool"
assert_eq "$(ctl --json pool | jq -r '.pools[].vfs[] | select(.address == "0000:06:00.0") | .state')" free \
  "the VF on the next bus, in the pool"
kill "$DPID"; wait "$DPID" 2>/dev/null || true

# more than 256: the config is refused with file:line, nothing changes
before=$(status)
write_config too-many <<'C'
[device 0000:05:00.0]
vfs = 257
pf_driver = keep
C
rc=0; mxgpud_once >"$T/too-many.log" 2>&1 || rc=$?
assert_eq "$rc" 2 "vfs = 257: exit status"
grep -q "too-many.conf:5: vfs = 257: 0000:05:00.0: mxgpud manages at most 256 VFs of one PF (this one has 300): use 0 to 256" \
  "$T/too-many.log" || fail "vfs = 257: $(cat "$T/too-many.log")"
[ "$(status)" = "$before" ] || fail "vfs = 257 changed the host"

# 300 VFs enabled by hand: the daemon cannot tell whether VFs past 256 are in use, so it leaves them
echo 0 >"$PF/sriov_numvfs"
echo 300 >"$PF/sriov_numvfs"
before=$(status)
write_config fewer <<'C'
[device 0000:05:00.0]
vfs = 4
pf_driver = keep
C
rc=0; mxgpud_once >"$T/fewer.log" 2>&1 || rc=$?
assert_eq "$rc" 1 "300 VFs by hand: exit status"
grep -q "0000:05:00.0: .*the PF has 300 VFs, more than mxgpud manages (256).*echo 0 > sriov_numvfs" "$T/fewer.log" ||
  fail "300 VFs by hand: $(cat "$T/fewer.log")"
[ "$(status)" = "$before" ] || fail "the PF with 300 VFs was changed"
echo "256 VFs of one PF on vfio-pci; 257 refused; 300 enabled by hand left alone"
