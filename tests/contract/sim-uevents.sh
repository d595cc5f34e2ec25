#!/bin/bash
# SPDX-License-Identifier: MIT
# Contract: with --uevents the simulator sends the kernel's uevents in the kernel's order (testing.md),
# in private namespaces, and refuses --uevents in the host's own network namespace.
set -euo pipefail
. "$(dirname "$0")/lib/sim.sh"
mon=$here/$BUILD/tools/uevent-monitor
[ -x "$mon" ] || fail "missing $mon: run make"

# in the host's network namespace the simulator must refuse
d=$(mktemp -d /tmp/mxgpu-sim-test.XXXXXX); SIM_DIRS+=("$d")
if out=$("$SIM" start --host s7150 --root "$d" --uevents 2>&1); then fail "--uevents accepted in the host netns"; fi
[[ $out == *"unshare --net"* ]] || fail "refusal does not say what to do: $out"

[ "$(id -u)" = 0 ] || { echo "skip: needs root for unshare --net --mount"; exit 77; }
unshare --pid --fork --mount --net true 2>/dev/null || { echo "skip: cannot create namespaces here"; exit 77; }
work=$(mktemp -d /tmp/mxgpu-sim-uev.XXXXXX); SIM_DIRS+=("$work")
# PID 1 of the new PID namespace stays in the host netns; the sim and the monitor share a new one.
unshare --pid --fork --mount --mount-proc bash -c '
  set -euo pipefail
  sim=$1 mon=$2 work=$3
  mount -t tmpfs tmpfs /run && mkdir -p /run/udev && touch /run/udev/control
  rc=0
  unshare --net bash -c "
    set -euo pipefail
    \"$sim\" start --host s7150 --root \"$work\" --latency zero --uevents
    P=\"$work/sys/bus/pci/devices/0000:03:00.0\"
    echo 0 > \$P/sriov_drivers_autoprobe
    coproc MON { \"$mon\" 13 5; }
    # bash unsets MON once the monitor exits: keep our own copy of its output fd
    exec {monfd}<&\${MON[0]}
    read -r line <&\$monfd; [ \"\$line\" = ready ]
    echo 2 > \$P/sriov_numvfs
    echo vfio-pci > \"$work/sys/bus/pci/devices/0000:03:02.0/driver_override\"
    echo 0000:03:02.0 > \"$work/sys/bus/pci/drivers_probe\"
    echo 0 > \$P/sriov_numvfs
    cat <&\$monfd > \"$work/events\"
    \"$sim\" stop --root \"$work\"
  " || rc=$?
  exit $rc
' bash "$SIM" "$mon" "$work" || { cat "$work/events" 2>/dev/null; fail "the uevent run failed"; }

pf=/devices/pci0000:00/0000:00:02.0/0000:03:00.0
vf1=/devices/pci0000:00/0000:00:02.0/0000:03:02.0
vf2=/devices/pci0000:00/0000:00:02.0/0000:03:02.1
expected="add pci $vf1
change pci $vf1
add pci $vf2
change pci $vf2
change pci $pf
add vfio /devices/virtual/vfio/2
add vfio-dev $vf1/vfio-dev/vfio0
bind pci $vf1
remove vfio-dev $vf1/vfio-dev/vfio0
remove vfio /devices/virtual/vfio/2
unbind pci $vf1
remove pci $vf1
remove pci $vf2"
got=$(cat "$work/events")
if [ "$got" != "$expected" ]; then
  diff <(echo "$expected") <(echo "$got") || true
  fail "uevents differ from the kernel's order"
fi
