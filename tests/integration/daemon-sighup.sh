# SPDX-License-Identifier: MIT
# SIGHUP after a config change applies only the difference: the unchanged PF is not written at all
# (tripwire faults on its attributes prove it), and the changed PF gets only what changed.
source "$(dirname "$0")/../lib.sh"
need_root
sim_start s7150x2
write_config hup <<'C'
[gpu *]
vfs = 4
time_slice = 6ms
C
daemon_start
assert_eq "$(jqs '.pfs[0].numvfs') $(jqs '.pfs[1].numvfs')" "4 4" "initial VF counts"
unchanged_before=$(jqs '.pfs[1]')

# Tripwires: any write to the unchanged PF's SR-IOV attributes or its VFs' binding would fail.
"$SIM" fault --root "$R" write 0000:04:00.0 sriov_numvfs EIO 100
"$SIM" fault --root "$R" write 0000:04:00.0 sriov_drivers_autoprobe EIO 100
for a in $(jqs '.pfs[1].vfs[].address'); do "$SIM" fault --root "$R" write "$a" driver_override EIO 100; done
# ...and on the changed PF, writes that a time-slice change must not make.
"$SIM" fault --root "$R" write 0000:03:00.0 sriov_numvfs EIO 100
for a in $(jqs '.pfs[0].vfs[].address'); do "$SIM" fault --root "$R" write "$a" driver_override EIO 100; done
vf0_before=$(jqs '.pfs[0].vfs[0].fb')

cat >>"$CONF" <<'C'

[vf 0000:03:00.0 1]
time_slice = 12ms
C
c=$(cycles)
: >"$T/mxgpud.log"
kill -HUP "$DPID"
for _ in $(seq 100); do [ "$(cycles)" -gt "$c" ] && break; sleep 0.05; done
[ "$(cycles)" -gt "$c" ] || fail "no cycle after SIGHUP"

assert_eq "$(ctl list --json | jq -r '[.pfs[].state] | join(",")')" "ready,ready" "states after reload"
assert_eq "$(jqs '[.pfs[0].vfs[].time_quantum_ms] | join(",")')" "6,12,6,6" "new quanta"
assert_near "$(jqs '.pfs[0].vfs[1].share')" 0.4 0.02 "VF1 share after reload"
assert_eq "$(jqs '.pfs[0].vfs[0].fb')" "$vf0_before" "VF0 framebuffer untouched"
[ "$(jqs '.pfs[1]')" = "$unchanged_before" ] || fail "the unchanged PF changed"
# The log names only the scheduler change, on the changed PF.
grep -q "0000:03:00.0: scheduler" "$T/mxgpud.log" || fail "no scheduler action logged: $(cat "$T/mxgpud.log")"
if grep -E "0000:04:00.0: (sriov|framebuffer|scheduler|bind)|0000:03:00.0: (sriov|framebuffer|bind)" "$T/mxgpud.log"; then
  fail "more than the difference was applied"
fi

# An invalid config on SIGHUP keeps the old one and changes nothing.
before=$(status)
echo "vf_memory = 1M" >>"$CONF"
c=$(cycles)
kill -HUP "$DPID"
for _ in $(seq 100); do grep -q "keeping the previous config" "$T/mxgpud.log" && break; sleep 0.05; done
grep -q "hup.conf:[0-9]*: vf_memory = 1M" "$T/mxgpud.log" || fail "invalid reload not reported with file:line"
[ "$(status)" = "$before" ] || fail "an invalid reload changed the host"
kill -0 "$DPID" || fail "mxgpud exited on an invalid reload"

# SIGTERM leaves the VFs in place.
kill -TERM "$DPID"
wait "$DPID" || fail "mxgpud exit status after SIGTERM"
[ "$(status)" = "$before" ] || fail "SIGTERM changed the host"
echo "SIGHUP applied only the difference"
