# SPDX-License-Identifier: MIT
# libvirt is loaded only when mxgpud connects: not by --version, --check-config, --once, nor while a local
# libvirtd's socket is missing (waited for with inotify: no wakeups); a missing libvirt is said once and
# everything else works; an empty libvirt_uri turns libvirt off.
source "$(dirname "$0")/../lib.sh"
need_root
sim_start s7150
loaded() { grep -q '/libvirt\.so' /proc/"$DPID"/maps; }
switches() { cat /proc/"$DPID"/task/*/status 2>/dev/null | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'; }
connected() { ctl pool --json | jq -r .connected; }

# 1. The one-shot modes never load libvirt, even with a URI that works.
write_config once <<'C'
udev = no
libvirt_uri = test:///default
[gpu *]
vfs = 2
C
for mode in --version --check-config --once; do
  LD_DEBUG=files "$MXGPUD" --root "$R" --config "$CONF" $mode >"$T/ld.out" 2>&1 || fail "mxgpud $mode: $(tail -n 3 "$T/ld.out")"
  grep -q 'file=libvirt' "$T/ld.out" && fail "mxgpud $mode loaded libvirt"
done
# No libvirt among the libraries the program links.
ldd "$B/mxgpud" | grep -q libvirt && fail "mxgpud links libvirt: $(ldd "$B/mxgpud" | grep libvirt)"

# 2. A local libvirtd that is not running: no wakeups, libvirt not loaded; its socket appearing makes
# the daemon try at once (here a socket nobody listens on: the attempt loads libvirt and is refused).
RUN=$T/run/libvirt
write_config waiting <<C
udev = no
libvirt_uri = qemu:///system?socket=$RUN/libvirt-sock
[gpu *]
vfs = 2
C
daemon_start
# A libvirtd hanging up under libvirt's write() is an EPIPE, not the end of mxgpud: SIGPIPE ignored
# outside systemd too (under valgrind the kernel's view is valgrind's own handlers: not checked).
if [ -z "$VALGRIND" ]; then
  sigign=$(awk '/^SigIgn:/ { print $2 }' /proc/"$DPID"/status)
  (( 0x$sigign & (1 << (13 - 1)) )) || fail "mxgpud does not ignore SIGPIPE (SigIgn $sigign)"
fi
assert_eq "$(connected)" false "connected before libvirtd runs"
loaded && fail "libvirt loaded while no libvirt socket exists"
grep -q "libvirt is not running (no socket in $RUN yet)" "$T/mxgpud.log" || fail "no word on waiting for libvirt: $(cat "$T/mxgpud.log")"
w0=$(switches); sleep 2; w1=$(switches)
assert_eq "$((w1 - w0))" 0 "wakeups in 2 s while waiting for libvirt's socket"
mkdir -p "$RUN"
"$B/tools/unix-bind" "$RUN/libvirt-sock" || fail "unix-bind"
for _ in $(seq 200); do grep -q "cannot connect to libvirt at" "$T/mxgpud.log" && break; sleep 0.05; done
grep -q "cannot connect to libvirt at qemu:///system.*Connection refused" "$T/mxgpud.log" ||
  fail "no connection attempt after the socket appeared: $(tail -n 5 "$T/mxgpud.log")"
loaded || fail "libvirt not loaded for the attempt"
kill "$DPID"; wait "$DPID" 2>/dev/null || true
: >"$T/mxgpud.log"

# 3. libvirt not installed: said once, the VFs are managed all the same, attach says why it cannot.
write_config missing <<'C'
udev = no
libvirt_uri = test:///default
[gpu *]
vfs = 2
C
MXGPU_LIBVIRT_LIBRARY=libvirt-not-installed.so.0 daemon_start
for _ in $(seq 200); do grep -q "libvirt is not installed" "$T/mxgpud.log" && break; sleep 0.05; done
assert_eq "$(grep -c "libvirt is not installed" "$T/mxgpud.log")" 1 "lines saying libvirt is missing"
grep -q "VF pools for libvirt domains are not available; everything else works" "$T/mxgpud.log" || fail "$(cat "$T/mxgpud.log")"
assert_eq "$(jqs '[.pfs[0].vfs[] | select(.driver == "vfio-pci")] | length')" 2 "VFs on vfio-pci without libvirt"
assert_eq "$(connected)" false "connected without libvirt"
rc=0; err=$(ctl attach vm1 2>&1) || rc=$?
[ $rc -eq 1 ] && [[ $err == *"libvirt is not installed"* ]] || fail "attach without libvirt: exit $rc: $err"
loaded && fail "a libvirt library is mapped"
kill "$DPID"; wait "$DPID" 2>/dev/null || true

# 4. libvirt_uri empty: libvirt off, never loaded.
write_config off <<'C'
udev = no
libvirt_uri =
[gpu *]
vfs = 2
C
daemon_start
rc=0; err=$(ctl attach vm1 2>&1) || rc=$?
[ $rc -eq 1 ] && [[ $err == *"libvirt is off in the config"* ]] || fail "attach with libvirt off: exit $rc: $err"
loaded && fail "libvirt loaded with libvirt_uri empty"
echo "libvirt loaded only to connect; waiting for its socket costs no wakeups; missing or off: said, the rest works"
