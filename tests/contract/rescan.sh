#!/bin/bash
# SPDX-License-Identifier: MIT
# Contract (simulator only): /sys/bus/pci/rescan brings back PFs removed by their remove attribute or by a
# surprise removal, fresh (0 VFs, config space and card at reset) under their bridge, with the host
# file's hotplug_driver, and announces them with "add" in the kernel's order.
set -euo pipefail
. "$(dirname "$0")/lib/sim.sh"

# cfg16 FILE OFFSET: a 16-bit little-endian word of a config file
cfg16() { printf '%d' "0x$(od -An -tx2 -j "$2" -N2 "$1" | tr -d ' ')"; }
drv() { local l; l=$(readlink "$1/driver" 2>/dev/null) || { echo none; return; }; basename "$l"; }
listing() { (cd "$ROOT/sys" && find bus/pci devices | sort); }   # group numbers may change: lowest free
SRIOV=0x100   # the SR-IOV capability's offset in the simulator's config space
check_fresh_pf() { # DIR DRIVER TOTALVFS
  local d=$1
  [ -d "$d" ] || fail "$d did not come back"
  [ "$(cat "$d/sriov_numvfs")" = 0 ] || fail "$d: sriov_numvfs $(cat "$d/sriov_numvfs") after rescan"
  [ "$(cat "$d/sriov_totalvfs")" = "$3" ] || fail "$d: sriov_totalvfs"
  [ "$(cat "$d/sriov_drivers_autoprobe")" = 1 ] || fail "$d: autoprobe not back at 1"
  [ "$(drv "$d")" = "$2" ] || fail "$d: driver $(drv "$d"), expected $2"
  [ -L "$d/iommu_group" ] || fail "$d: no IOMMU group"
  [ "$(cfg16 "$d/config" $SRIOV)" = 16 ] || fail "$d: no SR-IOV capability at $SRIOV"
  [ "$(cfg16 "$d/config" $((SRIOV + 0x10)))" = 0 ] || fail "$d: NumVFs in config is not 0"
  (( ($(cfg16 "$d/config" $((SRIOV + 8))) & 1) == 0 )) || fail "$d: VF Enable still set"
  ls "$d"/virtfn* >/dev/null 2>&1 && fail "$d: VF links after rescan"
  return 0
}

# --- remove by attribute and by surprise removal; rescan brings both back ---
sim_start s7150x2+nvme
bus=$ROOT/sys/bus/pci
pf=0000:03:00.0 nvme=0000:07:00.0
tree=$ROOT/sys/devices/pci0000:00/0000:00:02.0/0000:01:00.0/0000:02:00.0
card0=$("$SIM" status --root "$ROOT" --json | jq -c '.pfs[0].gpuiov')
res0=$(cat "$bus/devices/$pf/resource")
before=$(listing)
[ "$(stat -c %a "$bus/rescan")" = 200 ] || fail "rescan is not mode 0200"
if cat "$bus/rescan" 2>/dev/null; then fail "rescan is readable"; fi

echo 0 > "$bus/devices/$pf/sriov_drivers_autoprobe"
echo 2 > "$bus/devices/$pf/sriov_numvfs"
[ -e "$bus/devices/0000:03:02.1" ] || fail "VFs were not enabled"
echo 1 > "$bus/devices/$pf/remove"
"$SIM" fault --root "$ROOT" remove $nvme
for a in $pf 0000:03:02.0 0000:03:02.1 $nvme; do
  [ ! -e "$bus/devices/$a" ] || fail "$a still in devices/ after removal"
done
[ ! -e "$tree/$pf" ] || fail "$pf still below its bridge"
[ ! -e "$bus/drivers/pci-pf-stub/$pf" ] || fail "$pf still listed by pci-pf-stub"
[ ! -e "$bus/drivers/nvme/$nvme" ] || fail "$nvme still listed by nvme"

expect_write_error abc "$bus/rescan" "Invalid argument"
expect_write_error -1 "$bus/rescan" "Invalid argument"
echo 0 > "$bus/rescan"
[ ! -e "$bus/devices/$pf" ] || fail "rescan 0 brought $pf back"

echo 1 > "$bus/rescan"
check_fresh_pf "$tree/$pf" pci-pf-stub 16
[ -L "$bus/devices/$pf" ] || fail "no devices/$pf link"
check_fresh_pf "$ROOT/sys/devices/pci0000:00/0000:00:03.0/$nvme" nvme 8
[ ! -e "$bus/devices/0000:03:02.0" ] || fail "a VF came back without sriov_numvfs"
[ "$(cat "$bus/devices/$pf/resource")" = "$res0" ] || fail "$pf: resources differ from the firmware's"
[ "$("$SIM" status --root "$ROOT" --json | jq -c '.pfs[0].gpuiov')" = "$card0" ] || fail "$pf: the card is not at reset"
[ "$(listing)" = "$before" ] || { diff <(echo "$before") <(listing) || true; fail "the tree differs from the one at start"; }
echo 2 > "$bus/devices/$pf/sriov_numvfs" || fail "SR-IOV on the rescanned PF"
echo 0 > "$bus/devices/$pf/sriov_numvfs"

# nothing missing: nothing changes
st=$("$SIM" status --root "$ROOT" --json)
"$SIM" rescan --root "$ROOT"
[ "$("$SIM" status --root "$ROOT" --json)" = "$st" ] || fail "a rescan with nothing missing changed the host"
[ "$(listing)" = "$before" ] || fail "a rescan with nothing missing changed the tree"

# a removed bridge comes back with everything below it
echo 1 > "$ROOT/sys/devices/pci0000:00/0000:00:02.0/remove"
[ ! -e "$bus/devices/0000:01:00.0" ] && [ ! -e "$bus/devices/0000:04:00.0" ] || fail "the root port's subtree stayed"
echo 1 > "$bus/rescan"
for b in 0000:00:02.0 0000:01:00.0 0000:02:00.0 0000:02:01.0; do
  [ "$(drv "$bus/devices/$b")" = pcieport ] || fail "bridge $b: driver $(drv "$bus/devices/$b")"
done
check_fresh_pf "$tree/$pf" pci-pf-stub 16
check_fresh_pf "$ROOT/sys/devices/pci0000:00/0000:00:02.0/0000:01:00.0/0000:02:01.0/0000:04:00.0" pci-pf-stub 16
[ "$(listing)" = "$before" ] || fail "the tree differs after the bridge came back"

# a VF removed alone stays away: rescan does not find VFs (only sriov_numvfs makes them)
echo 2 > "$bus/devices/$pf/sriov_numvfs"
echo 1 > "$bus/devices/0000:03:02.1/remove"
echo 1 > "$bus/rescan"
[ ! -e "$bus/devices/0000:03:02.1" ] || fail "rescan brought a VF back"
sim_stop

# --- hotplug_driver in a host file ---
hd=$(mktemp -d /tmp/mxgpu-rescan.XXXXXX); SIM_DIRS+=("$hd"); hf=$hd/host.ini
cat > "$hf" <<'EOF'
[host]
hotplug_driver = probe
[preset s7150]
[preset mi300x]
hotplug_driver = same
[pf 0000:21:00.0]
model = nvme
driver = nvme
hotplug_driver = none
[pf 0000:22:00.0]
model = nvme
driver = none
hotplug_driver = pci-pf-stub
EOF
sim_start "$hf"
bus=$ROOT/sys/bus/pci
[ "$(drv "$bus/devices/0000:03:00.0")" = pci-pf-stub ] || fail "the s7150 starts on pci-pf-stub"
for a in 0000:03:00.0 0000:07:00.0 0000:21:00.0 0000:22:00.0; do echo 1 > "$bus/devices/$a/remove"; done
echo 1 > "$bus/rescan"
[ "$(drv "$bus/devices/0000:03:00.0")" = amdgpu ] || fail "probe: the hot-added GPU did not get amdgpu"
[ "$(drv "$bus/devices/0000:07:00.0")" = pci-pf-stub ] || fail "same: the MI300X did not get its driver = back"
[ "$(drv "$bus/devices/0000:21:00.0")" = none ] || fail "none: the NVMe PF got a driver"
[ "$(drv "$bus/devices/0000:22:00.0")" = pci-pf-stub ] || fail "pci-pf-stub: not bound"
sim_stop
printf '[host]\nhotplug_driver = pcieport\n[preset s7150]\n' > "$hf"
if out=$("$SIM" start --host "$hf" --root "$ROOT" 2>&1); then fail "hotplug_driver = pcieport accepted"; fi
[[ $out == *"$hf:2: [host] hotplug_driver = pcieport: expected same, probe, none"* ]] || fail "unclear error: $out"

# --- uevents: a bridge path and its PFs are announced bus by bus, each add before its bind ---
[ "$(id -u)" = 0 ] || { echo "skip: uevents need root for unshare --net --mount"; exit 77; }
unshare --pid --fork --mount --net true 2>/dev/null || { echo "skip: cannot create namespaces here"; exit 77; }
mon=$here/$BUILD/tools/uevent-monitor
[ -x "$mon" ] || fail "missing $mon: run make"
work=$(mktemp -d /tmp/mxgpu-sim-uev.XXXXXX); SIM_DIRS+=("$work")
unshare --pid --fork --mount --mount-proc bash -c '
  set -euo pipefail
  sim=$1 mon=$2 work=$3
  mount -t tmpfs tmpfs /run && mkdir -p /run/udev && touch /run/udev/control
  rc=0   # not the last command: bash would exec it, and PID 1 must stay in the host netns
  unshare --net bash -c "
    set -euo pipefail
    \"$sim\" start --host s7150x2 --root \"$work\" --latency zero --uevents
    echo 1 > \"$work/sys/devices/pci0000:00/0000:00:02.0/remove\"
    coproc MON { \"$mon\" 12 5; }
    exec 3<&\${MON[0]}   # bash unsets MON once the monitor exits, which may be before the cat
    read -r line <&3; [ \"\$line\" = ready ]
    echo 1 > \"$work/sys/bus/pci/rescan\"
    cat <&3 > \"$work/events\"
    \"$sim\" stop --root \"$work\"
  " || rc=$?
  exit $rc
' bash "$SIM" "$mon" "$work" || { cat "$work/events" 2>/dev/null; fail "the uevent run failed"; }
rp=/devices/pci0000:00/0000:00:02.0 up=/devices/pci0000:00/0000:00:02.0/0000:01:00.0
d0=$up/0000:02:00.0 d1=$up/0000:02:01.0
expected="add pci $rp
bind pci $rp
add pci $up
bind pci $up
add pci $d0
bind pci $d0
add pci $d1
bind pci $d1
add pci $d0/0000:03:00.0
bind pci $d0/0000:03:00.0
add pci $d1/0000:04:00.0
bind pci $d1/0000:04:00.0"
got=$(cat "$work/events")
if [ "$got" != "$expected" ]; then
  diff <(echo "$expected") <(echo "$got") || true
  fail "rescan uevents differ from the kernel's order"
fi
