#!/bin/bash
# SPDX-License-Identifier: MIT
# The real libvirtd 9.0 in throwaway namespaces against the simulator: libvirtd started after mxgpud (no
# wakeups meanwhile), VFs published in its node device list, attach/detach in the domain XML, undefine
# returns the VF (reset), 20 concurrent attaches for 8 VFs, kill -9 of mxgpud and of libvirtd lose no
# assignment, a hostdev removed by hand is noticed.
# Nothing touches the host's /sys, /dev, /run, /var, /etc/libvirt or network: a PID namespace whose
# end kills everything started here, a private mount namespace, a private network namespace.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
B=${BUILD:-build}
[[ $B == /* ]] || B=$SRC/$B
stage=${1:-outer}

fail() { echo "FAIL: $*" >&2; exit 1; }

if [ "$stage" = outer ]; then
  [ "$(id -u)" = 0 ] || { echo "skip: needs root (namespaces and a private libvirtd)"; exit 77; }
  command -v libvirtd >/dev/null && command -v virsh >/dev/null ||
    { echo "skip: libvirtd/virsh not installed (make deps installs libvirt-daemon-system, libvirt-clients)"; exit 77; }
  [ -x /usr/bin/qemu-system-x86_64 ] || { echo "skip: qemu-system-x86 is not installed (libvirt's QEMU driver needs it)"; exit 77; }
  unshare --pid --fork --mount --net true 2>/dev/null || { echo "skip: cannot create namespaces here"; exit 77; }
  W=$(mktemp -d /tmp/mxgpu-libvirt.XXXXXX)
  trap '[ "${MXGPU_KEEP:-}" ] || rm -rf "$W"' EXIT
  rc=0
  # When PID 1 of this namespace ends, the kernel kills the simulator, libvirtd and mxgpud in it.
  unshare --pid --fork --mount --mount-proc --propagation private "$0" pidns "$W" || rc=$?
  if [ $rc -ne 0 ]; then
    for f in "$W"/*.log; do [ -f "$f" ] && { echo "--- $f"; tail -n 25 "$f"; }; done
  fi
  exit $rc
fi

W=$2
if [ "$stage" = pidns ]; then
  # Private /run, /var, /etc/libvirt and /dev for libvirtd; the host's stay as they are.
  mkdir -p "$W/etc-libvirt"
  cat > "$W/etc-libvirt/qemu.conf" <<'CONF'
user = "root"
group = "root"
security_driver = "none"
cgroup_controllers = []
namespaces = []
CONF
  printf 'unix_sock_group = "root"\nauth_unix_rw = "none"\n' > "$W/etc-libvirt/libvirtd.conf"
  mount -t tmpfs tmpfs /run
  mkdir -p /run/udev && touch /run/udev/control   # so libudev listens to udev's (not the kernel's) events
  mount -t tmpfs tmpfs /var
  mkdir -p /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /var/tmp && ln -s /run /var/run
  mount -t tmpfs tmpfs /etc/libvirt
  cp "$W"/etc-libvirt/*.conf /etc/libvirt/
  # passwd with libvirt-qemu, in case this host's has none
  cp /etc/passwd "$W/passwd"
  grep -q '^libvirt-qemu:' "$W/passwd" || echo 'libvirt-qemu:x:64055:64055:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin' >> "$W/passwd"
  mount --bind "$W/passwd" /etc/passwd
  mount -t tmpfs -o mode=755 tmpfs /dev
  for n in null:1:3 zero:1:5 full:1:7 random:1:8 urandom:1:9 tty:5:0 fuse:10:229; do
    IFS=: read -r name maj min <<<"$n"; mknod -m 666 "/dev/$name" c "$maj" "$min"
  done
  ln -s /proc/self/fd /dev/fd && ln -s fd/0 /dev/stdin && ln -s fd/1 /dev/stdout && ln -s fd/2 /dev/stderr
  mkdir -p /dev/pts /dev/shm /dev/vfio && mount -t tmpfs tmpfs /dev/shm
  touch /dev/vfio/vfio   # a stand-in: libvirt only checks that VFIO is there
  # PID 1 stays in the host's network namespace (the simulator checks that its own is another one).
  unshare --net "$0" netns "$W"
  exit $?
fi

# --- in the private network namespace ---
SIM=$B/mxgpu-sim MXGPUD=$B/mxgpud MXGPUCTL=$B/mxgpuctl
# make check-valgrind: mxgpud (libvirt's client library in it) and mxgpuctl under memcheck.
source "$SRC/tests/valgrind.sh"
[ "$VALGRIND" ] && MXGPUD=$(vg_wrap "$W/vg" "$MXGPUD") MXGPUCTL=$(vg_wrap "$W/vg" "$MXGPUCTL")
R=$W/host SOCK=$W/mxgpud.sock
source "$SRC/tests/idl.sh" # Attach's and Detach's replies against the IDL (the other methods: protocol-schema.sh)
ip link set lo up
mkdir -p "$R"
"$SIM" start --host s7150 --root "$R" --latency zero --uevents || fail "mxgpu-sim start"
# libvirtd sees the simulated PCI tree as /sys (this mount namespace only).
for d in bus/pci devices/pci0000:00 kernel/iommu_groups; do mount --bind "$R/sys/$d" "/sys/$d"; done

export SYSTEMD_DEVICE_VERIFY_SYSFS=0
LIBVIRTD_PID=
libvirtd_start() {
  LIBVIRT_LOG_OUTPUTS="3:file:$W/libvirtd.log" libvirtd >>"$W/libvirtd.out.log" 2>&1 &
  LIBVIRTD_PID=$!
  for _ in $(seq 600); do
    virsh -c qemu:///system version >/dev/null 2>&1 && return 0
    kill -0 "$LIBVIRTD_PID" 2>/dev/null || fail "libvirtd exited: $(tail -n 5 "$W/libvirtd.out.log")"
    sleep 0.05
  done
  fail "libvirtd did not answer"
}
V() { virsh -q -c qemu:///system "$@"; }

cat > "$W/mxgpu.conf" <<CONF
[daemon]
state_dir = $W/state
libvirt_uri = qemu:///system
udev = no

[gpu *]
vfs = 8
pool = gold
CONF
MXGPUD_PID=
mxgpud_start() {
  "$MXGPUD" --root "$R" --config "$W/mxgpu.conf" --socket "$SOCK" >>"$W/mxgpud.log" 2>&1 &
  MXGPUD_PID=$!
  for _ in $(seq 600); do
    "$MXGPUCTL" --socket "$SOCK" ping >/dev/null 2>&1 && return 0
    kill -0 "$MXGPUD_PID" 2>/dev/null || fail "mxgpud exited: $(tail -n 5 "$W/mxgpud.log")"
    sleep 0.05
  done
  fail "mxgpud did not answer"
}
ctl() { "$MXGPUCTL" --socket "$SOCK" "$@"; }
pool_json() { ctl pool --json; }
# wait_for JQ-CONDITION MESSAGE: poll the pool until the condition holds
wait_for() {
  for _ in $(seq 600); do
    [ "$(pool_json | jq -r "$1")" = true ] && return 0
    sleep 0.05
  done
  fail "$2 (pool: $(pool_json | jq -c .))"
}
vf_resets() { "$SIM" status --root "$R" --json | jq -r --arg a "$1" '.pfs[0].vfs[] | select(.address == $a) | .resets'; }
hostdevs() { V dumpxml --inactive "$1" | grep -c "<hostdev" || true; }
has_hostdev() { # DOMAIN VF: is the VF's address a hostdev source in the domain's definition?
  local bus=${2:5:2} slot=${2:8:2} fn=${2:11:1}
  V dumpxml --inactive "$1" | tr -d '\n' | grep -Eq "<hostdev[^>]*managed='no'[^>]*>[[:space:]]*<source>[[:space:]]*<address domain='0x0000' bus='0x$bus' slot='0x$slot' function='0x$fn'/>"
}
define() {
  V define /dev/stdin >/dev/null <<XML || fail "virsh define $1"
<domain type='qemu'><name>$1</name><memory unit='MiB'>128</memory>
<os><type arch='x86_64' machine='q35'>hvm</type></os></domain>
XML
}

step() { echo "== $*" >&2; }
step 0 libvirtd after mxgpud
# 0. libvirtd starts after mxgpud: meanwhile mxgpud has not loaded libvirt and makes no wakeups (it
# watches /run with inotify, no retry timer); it connects when libvirtd's socket appears.
mxgpud_start
[ "$(pool_json | jq -r .connected)" = false ] || fail "connected before libvirtd runs"
grep -q '/libvirt\.so' /proc/"$MXGPUD_PID"/maps && fail "mxgpud loaded libvirt before libvirtd runs"
switches() { cat /proc/"$MXGPUD_PID"/task/*/status | awk '/ctxt_switches/ { s += $2 } END { print s + 0 }'; }
w0=$(switches); sleep 2; w1=$(switches)
[ "$((w1 - w0))" = 0 ] || fail "mxgpud woke up $((w1 - w0)) times in 2 s while waiting for libvirtd"
libvirtd_start
wait_for '.connected' "mxgpud did not connect to the libvirtd started after it"
step 1 publication
# 1. Publication: 8 VFs on vfio-pci, in libvirt's node device list, in pool gold.
wait_for '.connected and (.pools[0].vfs | length) == 8 and ([.pools[0].vfs[] | select(.published)] | length) == 8' \
  "the 8 VFs were not published to libvirt"
[ "$(pool_json | jq -r '.pools[0].name + " " + (.pools[0].free | tostring)')" = "gold 8" ] || fail "pool gold does not have 8 free VFs"
V nodedev-list --cap pci | grep -q '^pci_0000_03_02_7$' || fail "virsh nodedev-list lacks the last VF"
V nodedev-dumpxml pci_0000_03_02_0 | grep -q "<name>vfio-pci</name>" || fail "libvirt does not see VF 0 on vfio-pci"

step 2 attach
# 2. Attach: the hostdev is in the domain's XML; List shows the VM.
define vm1
out=$(ctl attach vm1 --pool gold --memory-min 512M --json) || fail "attach vm1: $out"
idl_check "$SOCK" Attach <<<"$(jq -c . <<<"$out")"
vf=$(jq -r .vf <<<"$out")
[ "$(jq -r .config <<<"$out")" = true ] || fail "attach to a stopped domain did not change its definition"
has_hostdev vm1 "$vf" || fail "virsh dumpxml vm1 lacks the hostdev of $vf: $(V dumpxml --inactive vm1)"
[ "$(ctl list --json | jq -r --arg a "$vf" '.pfs[].vfs[] | select(.address == $a) | .vm')" = vm1 ] || fail "List does not show vm1 on $vf"
[ "$(pool_json | jq -r --arg a "$vf" '.pools[0].vfs[] | select(.address == $a) | .domain')" = vm1 ] || fail "pool does not show vm1"
# An assigned VF is in use even while its domain is shut off: no count change, no resize.
rc=0; err=$(ctl set-vfs 0000:03:00.0 1 2>&1) || rc=$?
[ $rc -eq 6 ] && [[ $err == *"$vf"*"VM vm1"* ]] || fail "set-vfs with a VF assigned to vm1: exit $rc: $err"
rc=0; err=$(ctl resize "$vf" --memory 256M 2>&1) || rc=$?
[ $rc -eq 6 ] && [[ $err == *"VM vm1"* ]] || fail "resize of a VF assigned to vm1: exit $rc: $err"

step 3 detach
# 3. Detach: gone from the XML, the VF reset before it is free again. Its framebuffer is not cleared:
# the S7150 (Tonga layout) has no CLEAR_VF_STATE, GIM8's command; mxgpud says so (docs/gpuiov.md).
before=$(vf_resets "$vf")
out=$(ctl detach vm1 --json) || fail "detach vm1: $out"
idl_check "$SOCK" Detach <<<"$(jq -c . <<<"$out")"
[ "$(jq -r '.vfs | join(",")' <<<"$out")" = "$vf" ] || fail "detach vm1 returned $(jq -c .vfs <<<"$out"), not $vf"
has_hostdev vm1 "$vf" && fail "the hostdev of $vf is still in vm1 after detach"
[ "$(vf_resets "$vf")" -gt "$before" ] || fail "VF $vf was not reset on its return (resets $before -> $(vf_resets "$vf"))"
grep -q "vf[0-9]*: $vf: the framebuffer of the VF returned to the pool is left uncleared: the Tonga layout has no command" \
  "$W/mxgpud.log" || fail "no warning that $vf's framebuffer was left uncleared: $(tail -n 5 "$W/mxgpud.log")"
ctl detach vm1 >/dev/null 2>&1 && fail "a second detach of vm1 succeeded"

step 4 undefine
# 4. Undefine returns the VF to the pool, reset.
vf=$(ctl attach vm1 --json | jq -r .vf)
before=$(vf_resets "$vf")
V undefine vm1 >/dev/null
wait_for "[.pools[0].vfs[] | select(.address == \"$vf\" and .state == \"free\")] | length == 1" "undefine did not return $vf"
[ "$(vf_resets "$vf")" -gt "$before" ] || fail "VF $vf was not reset after undefine"

step 5 concurrent
# 5. 20 concurrent attach requests for 8 free VFs: exactly 8 succeed with distinct VFs, 12 get NoSpace (exit 7).
for i in $(seq 20); do define "c$i"; done
jobs=()
for i in $(seq 20); do
  ( rc=0; ctl attach "c$i" --pool gold --json >"$W/att.$i.out" 2>"$W/att.$i.err" || rc=$?; echo $rc >"$W/att.$i.rc" ) &
  jobs+=($!)
done
wait "${jobs[@]}"   # not a bare wait: libvirtd and mxgpud are jobs of this shell too
ok=0 full=0
for i in $(seq 20); do
  rc=$(cat "$W/att.$i.rc")
  if [ "$rc" = 0 ]; then ok=$((ok + 1)); jq -r .vf "$W/att.$i.out" >>"$W/att.vfs"
  elif [ "$rc" = 7 ] && grep -q "pool exhausted" "$W/att.$i.err"; then full=$((full + 1))
  else fail "attach c$i: exit $rc: $(cat "$W/att.$i.err")"; fi
done
[ "$ok" = 8 ] && [ "$full" = 12 ] || fail "concurrent attaches: $ok succeeded, $full exhausted (want 8 and 12)"
[ "$(sort -u "$W/att.vfs" | wc -l)" = 8 ] || fail "two domains got the same VF: $(sort "$W/att.vfs" | tr '\n' ' ')"
n_hd=0; for i in $(seq 20); do n_hd=$((n_hd + $(hostdevs "c$i"))); done
[ "$n_hd" = 8 ] || fail "the domains' XML hold $n_hd hostdevs, want 8"
assigned() { pool_json | jq -r '[.pools[0].vfs[] | select(.domain) | .address + "=" + .domain] | sort | join(" ")'; }
want=$(assigned)

step 6 kill mxgpud
# 6. kill -9 mxgpud, restart: no assignment lost.
kill -9 "$MXGPUD_PID"; wait "$MXGPUD_PID" 2>/dev/null || true
mxgpud_start
wait_for '.connected' "mxgpud did not reconnect after its restart"
[ "$(assigned)" = "$want" ] || fail "assignments after the mxgpud restart: $(assigned), want $want"

step 7 kill libvirtd
# 7. kill -9 libvirtd, restart: mxgpud reconnects, no assignment lost, the XML still has them.
kill -9 "$LIBVIRTD_PID"; wait "$LIBVIRTD_PID" 2>/dev/null || true
wait_for '.connected == false' "mxgpud did not notice that libvirtd died"
libvirtd_start
wait_for '.connected' "mxgpud did not reconnect to the restarted libvirtd"
[ "$(assigned)" = "$want" ] || fail "assignments after the libvirtd restart: $(assigned), want $want"
ctl attach c1 --pool gold >/dev/null 2>&1 && fail "an attach succeeded with the pool exhausted after restarts"

step 8 by hand
# 8. Hostdevs removed and added by hand (virsh, with mxgpud down: libvirt sends no event for a change
# of a stopped domain's definition) are noticed at start, reported, and the pool follows them.
dom=$(pool_json | jq -r '[.pools[0].vfs[] | select(.domain)][0].domain')
vf=$(pool_json | jq -r '[.pools[0].vfs[] | select(.domain)][0].address')
# Without the guest-side address libvirt gave it in $dom: another domain may use that slot already.
V dumpxml --inactive "$dom" | tr -d '\n' | grep -o "<hostdev.*</hostdev>" |
  sed -E 's#(</source>.*)<address type=.pci.[^>]*/>#\1#' > "$W/hd.xml"
kill -9 "$MXGPUD_PID"; wait "$MXGPUD_PID" 2>/dev/null || true
V detach-device "$dom" "$W/hd.xml" --config >/dev/null || fail "virsh detach-device by hand"
mxgpud_start
wait_for "[.pools[0].vfs[] | select(.address == \"$vf\" and .state == \"free\")] | length == 1" \
  "the hostdev removed by hand from $dom did not return $vf"
grep -q "$vf: hostdev removed by hand from domain $dom" "$W/mxgpud.log" || fail "the removal by hand was not reported"
kill -9 "$MXGPUD_PID"; wait "$MXGPUD_PID" 2>/dev/null || true
V attach-device c20 "$W/hd.xml" --config >/dev/null || fail "virsh attach-device by hand"
mxgpud_start
wait_for "[.pools[0].vfs[] | select(.address == \"$vf\" and .domain == \"c20\")] | length == 1" \
  "the hostdev added by hand to c20 was not recorded"
grep -q "$vf: hostdev added by hand to domain c20" "$W/mxgpud.log" || fail "the addition by hand was not reported"

if [ "$VALGRIND" ]; then
  vg_stop "$MXGPUD_PID"
  vg_report "$W/vg" || fail "valgrind found errors in mxgpud or mxgpuctl"
fi
echo "ok: libvirtd after mxgpud without wakeups, publication, attach/detach, undefine, 8 of 20 concurrent attaches, restarts of mxgpud and libvirtd, removal by hand"
