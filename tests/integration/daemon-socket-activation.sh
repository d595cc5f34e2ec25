# SPDX-License-Identifier: MIT
# Socket activation (mxgpud.socket): started by the first connection to a socket it did not create,
# mxgpud answers that connection on the socket it was handed and leaves the socket as it found it.
# systemd-socket-activate plays systemd: it listens, and on the first connection execs mxgpud with
# the listening socket as fd 3 (LISTEN_FDS=1, LISTEN_PID).
source "$(dirname "$0")/../lib.sh"
need_root
command -v systemd-socket-activate >/dev/null || skip "no systemd-socket-activate (Debian package systemd)"

sim_start s7150
write_config activation <<'C'
[gpu *]
vfs = 2
C
SOCK=$T/activated.sock
systemd-socket-activate -l "$SOCK" "$MXGPUD" --root "$R" --config "$CONF" --socket "$SOCK" >>"$T/mxgpud.log" 2>&1 &
APID=$!
PIDS+=("$APID")
for _ in $(seq 200); do [ -S "$SOCK" ] && break; sleep 0.05; done
[ -S "$SOCK" ] || fail "systemd-socket-activate did not create $SOCK"
inode=$(stat -c %i "$SOCK")
proc_is "$APID" mxgpud && fail "mxgpud ran before any connection"
assert_eq "$(jqs '.pfs[0].numvfs')" 0 "VFs before the first connection"

# The first connection starts it and is answered by it.
"$MXGPUCTL" --socket "$SOCK" ping >/dev/null || fail "no answer to the connection that started mxgpud: $(tail -n 5 "$T/mxgpud.log")"
proc_is "$APID" mxgpud || fail "the process behind the socket is not mxgpud: $(readlink "/proc/$APID/exe")"
assert_eq "$(stat -c %i "$SOCK")" "$inode" "the socket's inode (mxgpud must use the socket it was handed, not make its own)"
assert_eq "$("$MXGPUCTL" --socket "$SOCK" list --json | jq '[.pfs[0].vfs[] | select(.driver == "vfio-pci")] | length')" 2 \
  "VFs on vfio-pci, as the daemon lists them"
assert_eq "$(jqs '[.pfs[0].vfs[] | select(.driver == "vfio-pci")] | length')" 2 "VFs on vfio-pci in the simulator"
kill "$APID"; wait "$APID" || true
echo "socket activation: started by its first connection, answered on the socket it was handed"
