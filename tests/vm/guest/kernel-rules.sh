# SPDX-License-Identifier: MIT
# In-guest checks of the real kernel's generic SR-IOV, driver binding and vfio rules, run by
# busybox sh against the emulated NVMe PF. Usage: kernel-rules.sh PF-ADDRESS. Each check prints
# "vmtest: PASS: name" or "vmtest: FAIL: name: why"; "vmtest: FACT: ..." lines record what the
# kernel did where no rule is asserted, for docs/testing.md and the simulator.
pf=$1
P=/sys/bus/pci/devices/$pf
D=/sys/bus/pci/drivers
W=/tests/sysfs-write

pass() { echo "vmtest: PASS: $1"; }
fail() { echo "vmtest: FAIL: $1: $2"; }
fact() { echo "vmtest: FACT: $*"; }
check() { # name expected actual
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected '$2', got '$3'"; fi
}
wr() { $W "$1" "$2"; }
# The kernel's answer to writing VALUE to FILE: OK or the errno name.
expect_write() { # name file value expected
	check "$1" "$4" "$(wr "$2" "$3")"
}
# A file's bytes, newlines shown as \n, so facts show exactly what a read returns.
bytes() { od -An -c "$1" 2>&1 | tr -s ' ' | sed 's/^ //; s/ $//'; }
driver() { # address -> driver name or "none"
	l=$(readlink "/sys/bus/pci/devices/$1/driver") && echo "${l##*/}" || echo none
}
mode() { stat -L -c %a "$1" 2>/dev/null || echo missing; }
# Poll a condition (a shell command) for up to 5 s; no fixed sleeps.
wait_for() {
	i=0
	while [ $i -lt 500 ]; do
		eval "$1" && return 0
		usleep 10000
		i=$((i + 1))
	done
	return 1
}
exists() { [ -e "$1" ] && echo yes || echo no; }

# --- initial state and file modes ---
check "pf: nvme bound at boot" nvme "$(driver $pf)"
check "pf: sriov_totalvfs reads 4" 4 "$(cat $P/sriov_totalvfs)"
check "pf: sriov_numvfs reads 0" 0 "$(cat $P/sriov_numvfs)"
fact "read sriov_numvfs: $(bytes $P/sriov_numvfs)"
fact "read sriov_totalvfs: $(bytes $P/sriov_totalvfs)"
fact "read sriov_drivers_autoprobe: $(bytes $P/sriov_drivers_autoprobe)"
fact "read sriov_offset: $(bytes $P/sriov_offset) sriov_stride: $(bytes $P/sriov_stride) sriov_vf_device: $(bytes $P/sriov_vf_device)"
fact "read driver_override (unset): $(bytes $P/driver_override)"
for f in sriov_numvfs sriov_totalvfs sriov_drivers_autoprobe sriov_offset sriov_stride \
	sriov_vf_device sriov_vf_total_msix driver_override class vendor device config; do
	fact "mode $f: $(mode $P/$f)"
done
for f in bind unbind new_id remove_id; do fact "mode drivers/vfio-pci/$f: $(mode $D/vfio-pci/$f)"; done
fact "mode bus/pci/drivers_probe: $(mode /sys/bus/pci/drivers_probe) drivers_autoprobe: $(mode /sys/bus/pci/drivers_autoprobe) rescan: $(mode /sys/bus/pci/rescan)"
check "pf: sriov_totalvfs is 0444" 444 "$(mode $P/sriov_totalvfs)"
check "pf: sriov_numvfs is 0644" 644 "$(mode $P/sriov_numvfs)"
expect_write "pf: open sriov_totalvfs for write is EACCES" $P/sriov_totalvfs 3 open:EACCES

# --- sriov_numvfs parsing, with nvme (which has sriov_configure) bound ---
expect_write "autoprobe: write 0" $P/sriov_drivers_autoprobe 0 OK
check "autoprobe: reads 0" 0 "$(cat $P/sriov_drivers_autoprobe)"
# kstrtobool: 0/1, y/n, on/off; anything else is EINVAL.
expect_write "autoprobe: '2' is EINVAL" $P/sriov_drivers_autoprobe 2 EINVAL
expect_write "autoprobe: 'abc' is EINVAL" $P/sriov_drivers_autoprobe abc EINVAL
expect_write "autoprobe: 'yes' is accepted" $P/sriov_drivers_autoprobe yes OK
check "autoprobe: 'yes' reads back as 1" 1 "$(cat $P/sriov_drivers_autoprobe)"
wr $P/sriov_drivers_autoprobe 0 >/dev/null
check "autoprobe: still 0 after the odd writes" 0 "$(cat $P/sriov_drivers_autoprobe)"
expect_write "numvfs: 'abc' is EINVAL" $P/sriov_numvfs abc EINVAL
expect_write "numvfs: '-1' is EINVAL" $P/sriov_numvfs -1 EINVAL
expect_write "numvfs: 5 > TotalVFs is ERANGE" $P/sriov_numvfs 5 ERANGE
# Every parse failure is EINVAL, even a u16 overflow; ERANGE only means > TotalVFs.
expect_write "numvfs: 65536 (u16 overflow) is EINVAL" $P/sriov_numvfs 65536 EINVAL
expect_write "numvfs: 65535 is ERANGE" $P/sriov_numvfs 65535 ERANGE
expect_write "numvfs: ' 1' (leading space) is EINVAL" $P/sriov_numvfs ' 1' EINVAL
expect_write "numvfs: '1x' is EINVAL" $P/sriov_numvfs 1x EINVAL
# write(fd, "", 0) never reaches the attribute's store method.
expect_write "numvfs: an empty write succeeds" $P/sriov_numvfs '' OK
expect_write "numvfs: 0 while 0 is a no-op" $P/sriov_numvfs 0 OK
# kstrtou16 with base 0: hex and a trailing newline are numbers too.
r=$(wr $P/sriov_numvfs 0x1)
fact "write sriov_numvfs '0x1': $r, then reads $(cat $P/sriov_numvfs)"
[ "$(cat $P/sriov_numvfs)" = 0 ] || wr $P/sriov_numvfs 0 >/dev/null

# --- no driver: ENOENT ---
expect_write "pf: unbind from nvme" $D/nvme/unbind $pf OK
check "pf: no driver after unbind" none "$(driver $pf)"
expect_write "numvfs: 2 with no PF driver is ENOENT" $P/sriov_numvfs 2 ENOENT
expect_write "numvfs: 5 with no PF driver is ERANGE (range first)" $P/sriov_numvfs 5 ERANGE
expect_write "numvfs: 'abc' with no PF driver is EINVAL" $P/sriov_numvfs abc EINVAL
expect_write "numvfs: 0 while 0 with no PF driver is a no-op" $P/sriov_numvfs 0 OK
expect_write "unbind: device not bound is ENODEV" $D/nvme/unbind $pf ENODEV

# --- binding the PF to pci-pf-stub ---
expect_write "bind: non-matching driver (no id, no override) is ENODEV" $D/pci-pf-stub/bind $pf ENODEV
expect_write "bind: unknown address is ENODEV" $D/pci-pf-stub/bind 0000:7f:1f.7 ENODEV
expect_write "drivers_probe: unknown address is ENODEV" /sys/bus/pci/drivers_probe 0000:7f:1f.7 ENODEV
expect_write "drivers_probe: garbage is ENODEV" /sys/bus/pci/drivers_probe garbage ENODEV
check "override: reads (null) when unset" "(null)" "$(cat $P/driver_override)"
expect_write "override: set pci-pf-stub" $P/driver_override pci-pf-stub OK
check "override: reads back" pci-pf-stub "$(cat $P/driver_override)"
fact "read driver_override (set): $(bytes $P/driver_override)"
expect_write "drivers_probe: PF with override" /sys/bus/pci/drivers_probe $pf OK
check "pf: bound to pci-pf-stub" pci-pf-stub "$(driver $pf)"

# --- enable, EBUSY, same count, links ---
expect_write "numvfs: enable 2 with pci-pf-stub" $P/sriov_numvfs 2 OK
check "numvfs: reads 2" 2 "$(cat $P/sriov_numvfs)"
check "links: virtfn0 and virtfn1 exist, virtfn2 not" "yes yes no" \
	"$(exists $P/virtfn0) $(exists $P/virtfn1) $(exists $P/virtfn2)"
vf0=$(basename "$(readlink $P/virtfn0)")
vf1=$(basename "$(readlink $P/virtfn1)")
V=/sys/bus/pci/devices/$vf0
check "links: VF physfn points at the PF" $pf "$(basename "$(readlink $V/physfn)")"
fact "VFs: $vf0 $vf1; VF0 class $(cat $V/class) device $(cat $V/device); VF has sriov_numvfs: $(exists $V/sriov_numvfs)"
fact "mode VF physfn link target dir exists: $(exists $V/physfn/sriov_numvfs); VF driver_override mode $(mode $V/driver_override)"
# sriov_vf_device prints "%x" (no 0x, no padding) where a VF's own device file prints "0x%04x".
check "pf: sriov_vf_device is the VF's device id in bare hex" "$(printf %x "$(cat $V/device)")" "$(cat $P/sriov_vf_device)"
check "autoprobe 0: new VFs stay unbound" "none none" "$(driver $vf0) $(driver $vf1)"
expect_write "numvfs: new count 3 while 2 is EBUSY" $P/sriov_numvfs 3 EBUSY
expect_write "numvfs: new count 1 while 2 is EBUSY" $P/sriov_numvfs 1 EBUSY
expect_write "numvfs: 5 while 2 is ERANGE" $P/sriov_numvfs 5 ERANGE
expect_write "numvfs: same count 2 is a no-op" $P/sriov_numvfs 2 OK
check "numvfs: still 2, same VF" "2 $vf0" "$(cat $P/sriov_numvfs) $(basename "$(readlink $P/virtfn0)")"
# pci-pf-stub has no remove method: unbinding it leaves the VFs enabled (the kernel only warns
# "driver left SR-IOV enabled after remove"), and then not even 0 can be written.
expect_write "pf: unbind pci-pf-stub while VFs exist" $D/pci-pf-stub/unbind $pf OK
check "pf unbound: VFs stay enabled" "2 yes none" "$(cat $P/sriov_numvfs) $(exists $P/virtfn0) $(driver $pf)"
expect_write "numvfs: 0 with VFs but no PF driver is ENOENT" $P/sriov_numvfs 0 ENOENT
expect_write "numvfs: 2 while 2 with no PF driver is a no-op" $P/sriov_numvfs 2 OK
expect_write "drivers_probe: PF back to pci-pf-stub (newline-terminated address)" /sys/bus/pci/drivers_probe "$pf
" OK
check "pf: pci-pf-stub again, 2 VFs" "pci-pf-stub 2" "$(driver $pf) $(cat $P/sriov_numvfs)"

# --- VF binding to vfio-pci ---
group=$(basename "$(readlink $V/iommu_group)")
check "vf: has an IOMMU group" yes "$( [ -n "$group" ] && echo yes || echo no)"
g1=$(basename "$(readlink /sys/bus/pci/devices/$vf1/iommu_group)")
check "vf: each VF has its own group" yes "$( [ "$group" != "$g1" ] && echo yes || echo no)"
check "vf: driver_override reads (null)" "(null)" "$(cat $V/driver_override)"
expect_write "drivers_probe: VF, autoprobe 0, no override" /sys/bus/pci/drivers_probe $vf0 OK
check "drivers_probe: nothing bound" none "$(driver $vf0)"
expect_write "override: VF set to a driver that does not exist" $V/driver_override nosuchdriver OK
expect_write "drivers_probe: VF, nothing matching, succeeds" /sys/bus/pci/drivers_probe $vf0 OK
check "drivers_probe: still nothing bound" none "$(driver $vf0)"
expect_write "bind: vfio-pci while override names another driver is ENODEV" $D/vfio-pci/bind $vf0 ENODEV
expect_write "override: VF set vfio-pci" $V/driver_override vfio-pci OK
expect_write "drivers_probe: VF with override vfio-pci" /sys/bus/pci/drivers_probe $vf0 OK
check "vf: bound to vfio-pci" vfio-pci "$(driver $vf0)"
check "vf: /dev/vfio/$group appears" yes "$(wait_for "[ -c /dev/vfio/$group ]" && echo yes || echo no)"
check "vf: /dev/vfio/vfio exists" yes "$( [ -c /dev/vfio/vfio ] && echo yes || echo no)"
fact "/dev/vfio: $(ls /dev/vfio | tr '\n' ' ')mode of group node $(mode /dev/vfio/$group)"
expect_write "bind: already bound, same driver is EBUSY" $D/vfio-pci/bind $vf0 EBUSY
expect_write "bind: another driver while bound (override mismatch) is ENODEV" $D/nvme/bind $vf0 ENODEV
expect_write "bind: pci-pf-stub while bound is ENODEV" $D/pci-pf-stub/bind $vf0 ENODEV
expect_write "unbind: from the wrong driver is ENODEV" $D/nvme/unbind $vf0 ENODEV
expect_write "drivers_probe: already bound is a no-op" /sys/bus/pci/drivers_probe $vf0 OK
check "vf: still vfio-pci" vfio-pci "$(driver $vf0)"
expect_write "unbind: vfio-pci" $D/vfio-pci/unbind $vf0 OK
check "unbind: VF has no driver" none "$(driver $vf0)"
check "unbind: /dev/vfio/$group goes away" yes "$(wait_for "[ ! -e /dev/vfio/$group ]" && echo yes || echo no)"
expect_write "unbind: again is ENODEV" $D/vfio-pci/unbind $vf0 ENODEV
check "override: survives unbind" vfio-pci "$(cat $V/driver_override)"
expect_write "bind: vfio-pci/bind with matching override" $D/vfio-pci/bind $vf0 OK
check "bind: VF bound to vfio-pci" vfio-pci "$(driver $vf0)"
expect_write "override: cleared by writing a newline while bound" $V/driver_override "
" OK
check "override: reads (null) after clearing; stays bound" "(null) vfio-pci" "$(cat $V/driver_override) $(driver $vf0)"
wr $V/driver_override vfio-pci >/dev/null
expect_write "override: an empty write succeeds" $V/driver_override '' OK
check "override: an empty write changes nothing" vfio-pci "$(cat $V/driver_override)"
expect_write "unbind: newline-terminated address" $D/vfio-pci/unbind "$vf0
" OK
expect_write "bind: newline-terminated address" $D/vfio-pci/bind "$vf0
" OK

# --- disable while a VF is bound to vfio-pci (not open) ---
check "vf: /dev/vfio/$group is back" yes "$(wait_for "[ -c /dev/vfio/$group ]" && echo yes || echo no)"
expect_write "numvfs: 0 with a VF on vfio-pci (not open) disables" $P/sriov_numvfs 0 OK
check "disable: numvfs reads 0" 0 "$(cat $P/sriov_numvfs)"
check "disable: virtfn links and VF devices vanish" "no no no no" \
	"$(exists $P/virtfn0) $(exists $P/virtfn1) $(exists /sys/bus/pci/devices/$vf0) $(exists /sys/bus/pci/devices/$vf1)"
check "disable: /dev/vfio/$group goes away" yes "$(wait_for "[ ! -e /dev/vfio/$group ]" && echo yes || echo no)"

# --- vfio-pci as the PF driver without enable_sriov ---
wr $D/pci-pf-stub/unbind $pf >/dev/null
wr $P/driver_override vfio-pci >/dev/null
expect_write "pf: drivers_probe with override vfio-pci" /sys/bus/pci/drivers_probe $pf OK
check "pf: bound to vfio-pci" vfio-pci "$(driver $pf)"
expect_write "numvfs: vfio-pci PF without enable_sriov is ENOENT" $P/sriov_numvfs 1 ENOENT
wr $D/vfio-pci/unbind $pf >/dev/null

# --- back to nvme, which has its own sriov_configure ---
expect_write "override: PF cleared" $P/driver_override "
" OK
expect_write "drivers_probe: PF picks nvme by class" /sys/bus/pci/drivers_probe $pf OK
check "pf: nvme again" nvme "$(driver $pf)"
expect_write "numvfs: enable 1 with nvme" $P/sriov_numvfs 1 OK
vf0=$(basename "$(readlink $P/virtfn0)")
check "autoprobe 0: nvme does not grab the VF" none "$(driver $vf0)"

# --- disable while a VFIO user (a VMM) holds the VF open ---
V=/sys/bus/pci/devices/$vf0
wr $V/driver_override vfio-pci >/dev/null
expect_write "drivers_probe: VF of the nvme PF to vfio-pci" /sys/bus/pci/drivers_probe $vf0 OK
group=$(basename "$(readlink $V/iommu_group)")
wait_for "[ -c /dev/vfio/$group ]"
mkfifo /tmp/release
/tests/vfio-hold "$group" $vf0 </tmp/release >/tmp/hold.out 2>&1 &
hold=$!
exec 4>/tmp/release
wait_for 'grep -q "HELD\|ERROR" /tmp/hold.out'
check "vfio: container, group and device open like a VMM's" HELD "$(cat /tmp/hold.out)"
$W $P/sriov_numvfs 0 >/tmp/disable.out &
writer=$!
if wait_for 'grep -q REQUESTED /tmp/hold.out'; then
	pass "vfio: disabling sends the VFIO user a device request"
	# The holder keeps the device until told, so the write cannot have returned yet.
	check "vfio: the sriov_numvfs write blocks while the VF is open" "" "$(cat /tmp/disable.out)"
	echo release >&4
else
	fail "vfio: disabling sends the VFIO user a device request" "no request within 5 s"
	kill $hold
fi
exec 4>&-
wait $writer
check "vfio: the write returns OK once the VF is released" OK "$(cat /tmp/disable.out)"
wait $hold
check "vfio: the holder released the VF" RELEASED "$(tail -n1 /tmp/hold.out)"
check "disable: virtfn0 gone" no "$(exists $P/virtfn0)"
expect_write "autoprobe: restore 1" $P/sriov_drivers_autoprobe 1 OK
