#!/bin/bash
# SPDX-License-Identifier: MIT
# Contract: a uevent sent with sim_uevent_send reaches a libudev monitor, in private namespaces.
set -euo pipefail
BUILD=${BUILD:-build}
here=$(cd "$(dirname "$0")/../.." && pwd)
tool=$here/$BUILD/tools/uevent-roundtrip

[ -x "$tool" ] || { echo "missing $tool: run make"; exit 1; }
if [ "$(id -u)" -ne 0 ]; then
  echo "skip: needs root (unshare --net --mount)"; exit 77
fi
if ! unshare --pid --fork --mount --net true 2>/dev/null; then
  echo "skip: cannot create PID, mount and network namespaces here"; exit 77
fi
# The tool runs in a fresh network namespace whose PID 1 (the bash below) stays in this one, so
# sim_uevent_open can prove it is not in PID 1's namespace. A tmpfs /run with /run/udev/control
# makes libudev believe udevd runs (it subscribes only then), only inside this mount namespace.
unshare --pid --fork --mount --mount-proc bash -c '
  set -e
  mount -t tmpfs tmpfs /run
  mkdir -p /run/udev && touch /run/udev/control
  # Not the last command, so bash cannot exec it in place of PID 1.
  rc=0; SYSTEMD_DEVICE_VERIFY_SYSFS=0 unshare --net "$1" || rc=$?
  exit $rc
' bash "$tool"
