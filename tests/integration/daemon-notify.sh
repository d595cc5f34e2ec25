# SPDX-License-Identifier: MIT
# sd_notify: READY=1 only once every configured PF is final, a STATUS= summary, watchdog pings.
source "$(dirname "$0")/../lib.sh"
need_root
sim_start s7150x2 "vf_enable=30ms,bind=2ms,cmd=1ms"
write_config notify <<'C'
[gpu 0000:03:00.0]
vfs = 4
[gpu 0000:04:00.0]
vfs = 2
C
"$SIM" fault --root "$R" cmd-hang 0000:04:00.0 1
"$B/tools/notify-listen" "$T/notify" >"$T/notify.out" &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$T/notify" ] && break; sleep 0.02; done
NOTIFY_SOCKET=$T/notify WATCHDOG_USEC=200000 daemon_start
for _ in $(seq 100); do grep -q "READY=1" "$T/notify.out" && break; sleep 0.05; done
ready=$(grep -m1 "READY=1" "$T/notify.out") || fail "no READY=1: $(cat "$T/notify.out")"
[[ $ready == *"STATUS=2 managed PFs, 1 ready, 1 failed"* ]] || fail "READY line: $ready"
# READY=1 came after the apply: both PFs were final then (the hardware agrees).
assert_eq "$(jqs '.pfs[0].numvfs') $(jqs '[.pfs[0].vfs[].driver] | unique | join(",")')" "4 vfio-pci" "PF ready at READY=1"
grep -q "WATCHDOG=1" "$T/notify.out" || { sleep 0.3; grep -q "WATCHDOG=1" "$T/notify.out"; } || fail "no watchdog ping"
kill -TERM "$DPID"; wait "$DPID" || true
grep -q "STOPPING=1" "$T/notify.out" || fail "no STOPPING=1"
echo "READY after every PF was final; STATUS, WATCHDOG, STOPPING sent"
