#!/bin/bash
# SPDX-License-Identifier: MIT
# Contract: a normal user runs the simulator (libfuse mounts through fusermount3) and the kernel's
# permission checks apply to it as to root.
set -euo pipefail
. "$(dirname "$0")/lib/sim.sh"
# a normal user (fusermount3 mounts for it)
[ "$(id -u)" = 0 ] || { echo "skip: the check switches to nobody and needs root to do so"; exit 77; }
command -v setpriv >/dev/null || { echo "skip: no setpriv"; exit 77; }
if ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -r /dev/fuse -a -w /dev/fuse && [ -z "${MXGPU_FUSE_NS:-}" ]; then
  # Debian makes /dev/fuse 0666; machines that keep it root-only get, for this test only, a 0666
  # node of the same device in a private mount namespace (the host's node is not touched).
  majmin=$(stat -c '%t %T' /dev/fuse)
  exec unshare --mount env MXGPU_FUSE_NS=1 bash -c '
    set -e; d=$(mktemp -d /tmp/mxgpu-fusedev.XXXXXX); mount -t tmpfs tmpfs "$d"
    mknod "$d/fuse" c $((0x${1% *})) $((0x${1#* })); chmod 666 "$d/fuse"; mount --bind "$d/fuse" /dev/fuse
    rc=0; bash "$0" || rc=$?; umount /dev/fuse "$d"; rmdir "$d"; exit $rc' "$0" "$majmin"
fi
user_root=$(mktemp -d /tmp/mxgpu-sim-user.XXXXXX)
chown nobody:nogroup "$user_root"
SIM_DIRS+=("$user_root")
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
# Root's simulator: others may look, and the mode bits decide what they may write. The simulator
# checks those itself (its sys mount has no default_permissions, see src/sim/fs.c).
sim_start s7150
P=$ROOT/sys/bus/pci/devices/0000:03:00.0
[ "$(as_nobody cat "$P/vendor")" = 0x1002 ] || fail "nobody cannot read vendor in root's simulator"
! as_nobody sh -c "echo 2 > $P/sriov_numvfs" 2>/dev/null || fail "nobody could write sriov_numvfs (0644) in root's simulator"
! as_nobody sh -c "echo 1 > $P/remove" 2>/dev/null || fail "nobody could write remove (0200) in root's simulator"
! as_nobody cat "$ROOT/sys/bus/pci/drivers_probe" 2>/dev/null || fail "nobody could read drivers_probe (0200)"
[ "$(cat "$P/sriov_numvfs")" = 0 ] && [ -e "$P" ] || fail "a refused write changed root's simulator"
sim_stop
if ! as_nobody test -x "$SIM"; then echo "skip: nobody cannot execute $SIM (its folder is private)"; exit 77; fi
as_nobody test -r /dev/fuse -a -w /dev/fuse || { echo "skip: /dev/fuse is $(stat -c %A /dev/fuse) even in a private namespace"; exit 77; }
if ! as_nobody "$SIM" start --host s7150 --root "$user_root" --latency zero 2>"$user_root.err"; then
  cat "$user_root.err"; rm -f "$user_root.err"
  echo "skip: fusermount3 does not let nobody mount here"; exit 77
fi
rm -f "$user_root.err"
P=$user_root/sys/bus/pci/devices/0000:03:00.0
as_nobody sh -c "echo 0 > $P/sriov_drivers_autoprobe && echo 2 > $P/sriov_numvfs" || fail "nobody could not enable VFs in its own simulator"
# FUSE hides a user's mount from everyone else, root included: look as nobody
as_nobody test -L "$P/virtfn1" || fail "virtfn1 missing (non-root)"
as_nobody "$SIM" status --root "$user_root" --json | grep -q '"numvfs":2' || fail "status (non-root)"
as_nobody "$SIM" stop --root "$user_root" || fail "stop (non-root)"
! is_mounted "$user_root/sys" || fail "sys still mounted (non-root)"
echo "a normal user ran its own simulator through fusermount3"
