# SPDX-License-Identifier: MIT
# What mxgpud refuses before its first write: bad path arguments, a control socket it cannot serve,
# a second mxgpud (or --once) on the same state folder, and a host without a PCI bus (not blamed on
# the config). Each refusal leaves the hardware as it was.
source "$(dirname "$0")/../lib.sh"
need_root
sim_start s7150x2

write_config guards <<C
[gpu 0000:03:00.0]
vfs = 2
C
numvfs() { jqs '.pfs[0].numvfs'; }

# Bad paths: exit 2, the option named, nothing written.
for args in "--socket=" "--socket rel.sock" "--state-dir=" "--state-dir state" "--config=" "--config-dir="; do
  rc=0; "$MXGPUD" --root "$R" --config "$CONF" $args >"$T/args.log" 2>&1 || rc=$?
  assert_eq "$rc" 2 "mxgpud $args: exit status"
  opt=${args%%[= ]*}
  grep -q -- "mxgpud: $opt '.*': give an\? " "$T/args.log" || fail "mxgpud $args: $(cat "$T/args.log")"
done
rc=0; "$MXGPUD" --root "$T/no-such-host" --config "$CONF" >"$T/root.log" 2>&1 || rc=$?
assert_eq "$rc" 2 "a missing --root: exit status"
grep -q -- "--root $T/no-such-host: no such directory" "$T/root.log" || fail "a missing --root: $(cat "$T/root.log")"
assert_eq "$(numvfs)" 0 "after refused arguments: VFs"

# A socket path that cannot be served (a regular file is there) fails before the first cycle.
touch "$T/not-a-socket"
rc=0; "$MXGPUD" --root "$R" --config "$CONF" --socket "$T/not-a-socket" >"$T/sock.log" 2>&1 || rc=$?
assert_eq "$rc" 3 "unusable socket: exit status"
grep -q "not-a-socket exists and is not a socket" "$T/sock.log" || fail "unusable socket: $(cat "$T/sock.log")"
assert_eq "$(numvfs)" 0 "after an unusable socket: VFs"

# One mxgpud per state folder: a second daemon or --once would program the same PFs at once.
daemon_start
assert_eq "$(numvfs)" 2 "the daemon's VFs"
write_config guards <<C
[gpu 0000:03:00.0]
vfs = 4
C
rc=0; "$MXGPUD" --root "$R" --config "$CONF" --socket "$T/second.sock" >"$T/second.log" 2>&1 || rc=$?
assert_eq "$rc" 3 "second daemon: exit status"
grep -q "another mxgpud (pid $DPID) is running with the state folder $T/state" "$T/second.log" ||
  fail "second daemon: $(cat "$T/second.log")"
rc=0; mxgpud_once >"$T/once.log" 2>&1 || rc=$?
assert_eq "$rc" 3 "--once beside the daemon: exit status"
grep -q "another mxgpud (pid $DPID)" "$T/once.log" || fail "--once beside the daemon: $(cat "$T/once.log")"
assert_eq "$(numvfs)" 2 "after the refused second daemon and --once: VFs"
[ -S "$SOCK" ] || fail "the refused daemon removed the running daemon's socket"
ctl ping >/dev/null || fail "the running daemon no longer answers"
# --check-config only reads: it runs beside the daemon.
"$MXGPUD" --root "$R" --config "$CONF" --check-config >"$T/check.log" 2>&1 || fail "check beside the daemon: $(cat "$T/check.log")"

# The lock dies with the process: after a SIGKILL the next run goes ahead.
kill -9 "$DPID"
wait "$DPID" 2>/dev/null || true
mxgpud_once >"$T/after.log" 2>&1 || fail "--once after the daemon was killed: $(cat "$T/after.log")"
assert_eq "$(numvfs)" 4 "after the kill: VFs"

# The config's log_level is used; MXGPU_LOG_LEVEL and --log-level are stronger.
write_config loglevel <<C
[daemon]
log_level = debug
[gpu 0000:03:00.0]
vfs = 4
C
mxgpud_once >"$T/debug.log" 2>&1 || fail "log_level = debug: $(cat "$T/debug.log")"
grep -q "cycle of 2 PF(s) in" "$T/debug.log" || fail "log_level = debug: no debug lines: $(cat "$T/debug.log")"
MXGPU_LOG_LEVEL=warning mxgpud_once >"$T/env.log" 2>&1 || fail "MXGPU_LOG_LEVEL: $(cat "$T/env.log")"
[ ! -s "$T/env.log" ] || fail "MXGPU_LOG_LEVEL=warning over log_level = debug: $(cat "$T/env.log")"
mxgpud_once --log-level notice >"$T/opt.log" 2>&1 || fail "--log-level: $(cat "$T/opt.log")"

grep -q "observed in" "$T/opt.log" && fail "--log-level notice over log_level = debug: $(cat "$T/opt.log")"

# No PCI bus below the root: the platform's problem (exit 3), not the config's.
mkdir -p "$T/empty"
rc=0; "$MXGPUD" --root "$T/empty" --config "$CONF" --check-config >"$T/nobus.log" 2>&1 || rc=$?
assert_eq "$rc" 3 "no PCI bus: --check-config exit status"
grep -q "the config has problems" "$T/nobus.log" && fail "no PCI bus blamed on the config: $(cat "$T/nobus.log")"
grep -q "no PCI bus: $T/empty/sys/bus/pci/devices does not exist (is --root a simulated host?)" "$T/nobus.log" &&
  grep -q "cannot check the config against the hardware" "$T/nobus.log" || fail "no PCI bus: $(cat "$T/nobus.log")"
echo "bad paths, an unusable socket, a second mxgpud and a missing bus refused before any write"
