#!/bin/bash
# SPDX-License-Identifier: MIT
# The boot test inside the Debian 12 guest, one phase per boot (the phase survives reboots in
# /var/lib/mxgpu-vmtest): 1. install the package on the fresh system and check the service;
# write a config for the two SR-IOV NVMe PFs; reboot. 2. after boot: mxgpud READY before
# libvirtd, VFs on vfio-pci with their /dev/vfio nodes, libvirt's node devices, mxgpuctl;
# then a config change + reload applies only the difference; the control socket enabled; reboot.
# 3. the same layout came back, the daemon on the socket systemd listens on (and started by it
# after a stop); purge removes the package cleanly. Lines "vmtest: PASS|FAIL|FACT: ..." go to ttyS1.
set -uo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C SYSTEMD_PAGER= SYSTEMD_COLORS=0
results=/dev/ttyS1
dir=/root/vmtest
statedir=/var/lib/mxgpu-vmtest
dropin=/etc/mxgpu/mxgpu.conf.d/50-vmtest.conf
mkdir -p $statedir
phase=$(cat $statedir/phase 2>/dev/null || echo install)

out() { echo "vmtest: $*" | tee -a $results; }
pass() { out "PASS: $1"; }
failed() { out "FAIL: $*"; }
check() { # name expected actual
  if [ "$2" = "$3" ]; then pass "$1"; else failed "$1: expected '$2', got '$3'"; fi
}
check_true() { # name command... (quiet)
  if "${@:2}" >/dev/null 2>&1; then pass "$1"; else failed "$1: '${*:2}' is false"; fi
}
wait_for() { # condition [seconds, default 30]: polls every 0.1 s
  local i n=$((${2:-30} * 10))
  for ((i = 0; i < n; i++)); do eval "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  return 1
}
finish() { out DONE; sync; systemctl poweroff; exit 0; }
next_boot() { echo "$1" >$statedir/phase; sync; out "rebooting into phase $1"; systemctl reboot; exit 0; }

# The two emulated SR-IOV NVMe PFs, by address: A keeps its driver (nvme), B gets pci-pf-stub.
pfs=()
for d in /sys/bus/pci/devices/*; do
  [ "$(cat "$d/class")" = 0x010802 ] && [ -e "$d/sriov_totalvfs" ] && pfs+=("${d##*/}")
done
A=${pfs[0]:-none} B=${pfs[1]:-none}
sysdev() { echo /sys/bus/pci/devices/$1; }
driver_of() { basename "$(readlink "$(sysdev "$1")/driver" 2>/dev/null)" 2>/dev/null || echo none; }
vfs_of() { # PF -> its VFs' addresses, in index order
  local i=0
  while [ -e "$(sysdev "$1")/virtfn$i" ]; do basename "$(readlink "$(sysdev "$1")/virtfn$i")"; i=$((i + 1)); done
}

write_config() { # vfs of A, vfs of B
  mkdir -p "${dropin%/*}"
  cat >$dropin <<EOC
# Written by the boot test: the emulated NVMe PFs as generic SR-IOV devices.
[device $A]
vfs = $1
pf_driver = keep
pool = nvme-a

[device $B]
vfs = $2
pf_driver = pci-pf-stub
pool = nvme-b
EOC
}

# Service state, ordering before libvirtd, every VF and its /dev/vfio node, libvirt, mxgpuctl.
check_all() { # label, vfs of A, vfs of B
  local label=$1 pf n drv vf group name i want
  check "$label: mxgpud active" "active running" "$(systemctl show -P ActiveState mxgpud) $(systemctl show -P SubState mxgpud)"
  local status
  status=$(systemctl show -P StatusText mxgpud)
  out "FACT: $label: mxgpud status '$status'"
  [ -n "$status" ] && pass "$label: mxgpud sent a STATUS" || failed "$label: mxgpud sent no STATUS"
  check "$label: mxgpu-ready.target active" active "$(systemctl is-active mxgpu-ready.target)"
  # Type=notify: ActiveEnter is the READY=1; libvirtd must not have begun starting before it.
  local ready lv
  ready=$(systemctl show -P ActiveEnterTimestampMonotonic mxgpud)
  lv=$(systemctl show -P InactiveExitTimestampMonotonic libvirtd)
  out "FACT: $label: mxgpud ready at ${ready}us, libvirtd started at ${lv}us (monotonic)"
  if [ "${ready:-0}" -gt 0 ] && [ "${lv:-0}" -gt 0 ] && [ "$ready" -le "$lv" ]; then
    pass "$label: mxgpud READY before libvirtd starts"
  else
    failed "$label: mxgpud READY before libvirtd starts: ready ${ready}us, libvirtd ${lv}us"
  fi
  check "$label: libvirtd active" active "$(systemctl is-active libvirtd)"

  local json
  json=$(mxgpuctl list --json 2>&1)
  for pf in $A $B; do
    if [ "$pf" = "$A" ]; then n=$2 drv=nvme; else n=$3 drv=pci-pf-stub; fi
    check "$label: $pf sriov_numvfs" "$n" "$(cat "$(sysdev $pf)/sriov_numvfs")"
    check "$label: $pf autoprobe off" 0 "$(cat "$(sysdev $pf)/sriov_drivers_autoprobe")"
    check "$label: $pf driver" "$drv" "$(driver_of $pf)"
    local vfs=() got=()
    mapfile -t vfs < <(vfs_of $pf)
    check "$label: $pf VFs in sysfs" "$n" "${#vfs[@]}"
    for vf in "${vfs[@]}"; do
      check "$label: $vf on vfio-pci" vfio-pci "$(driver_of $vf)"
      group=$(basename "$(readlink "$(sysdev $vf)/iommu_group")")
      if [ -c /dev/vfio/$group ]; then
        check "$label: $vf /dev/vfio/$group group and mode (udev rule)" "kvm 660" "$(stat -c '%G %a' /dev/vfio/$group)"
      else
        failed "$label: $vf: no /dev/vfio/$group"
      fi
      name=pci_${vf//[:.]/_}
      if wait_for "virsh -q nodedev-list --cap pci | grep -qx $name" 10; then
        pass "$label: libvirt lists $name"
        want='<name>vfio-pci</name>'
        virsh nodedev-dumpxml $name | grep -A1 '<driver>' | grep -qF "$want" &&
          pass "$label: libvirt sees $name on vfio-pci" ||
          failed "$label: libvirt sees $name on vfio-pci: $(virsh nodedev-dumpxml $name | grep -A1 '<driver>' | tr -d '\n ')"
      else
        failed "$label: libvirt lists $name: not in $(virsh -q nodedev-list --cap pci | tr '\n' ' ')"
      fi
    done
    got=$(jq -r ".pfs[] | select(.address == \"$pf\") | \"\(.state) \(.driver) \(.num_vfs) \([.vfs[].address] | join(\",\")) \([.vfs[].driver] | unique | join(\",\"))\"" <<<"$json" 2>&1)
    want="ready $drv $n $(IFS=,; echo "${vfs[*]}") $([ "$n" -gt 0 ] && echo vfio-pci)"
    check "$label: mxgpuctl list --json agrees on $pf" "$want" "$got"
  done
  # The daemon's own account of this boot, for whoever reads results.log.
  journalctl -b -q -u mxgpud --no-pager -o short-monotonic | sed "s/^/vmtest: INFO: $label: /" >>$results
}

case $phase in
install)
  out "PHASE install (kernel $(uname -r), systemd $(systemctl --version | head -n1 | cut -d' ' -f2))"
  check "two SR-IOV NVMe PFs" 2 "${#pfs[@]}"
  out "FACT: PF A $A ($(driver_of $A)), PF B $B ($(driver_of $B))"
  check_true "mxgpud not installed before" test ! -e /usr/sbin/mxgpud
  if dpkg -i $dir/mxgpu.deb >/tmp/dpkg.log 2>&1; then pass "dpkg -i mxgpu.deb"; else
    failed "dpkg -i mxgpu.deb: $(tail -n 5 /tmp/dpkg.log | tr '\n' ' ')"; fi
  check "mxgpud.service enabled" enabled "$(systemctl is-enabled mxgpud.service)"
  check "mxgpud.socket not enabled (optional)" disabled "$(systemctl is-enabled mxgpud.socket)"
  check "mxgpud started by the package" active "$(systemctl is-active mxgpud.service)"
  systemctl status mxgpud --no-pager >/tmp/status.log 2>&1
  check "systemctl status mxgpud exit" 0 "$?"
  sed 's/^/vmtest: INFO: /' /tmp/status.log >>$results
  check "no warnings in mxgpud's journal" "" "$(journalctl -b -q -u mxgpud -p warning --no-pager)"
  # Priorities reach the journal (JOURNAL_STREAM names stderr): a refused --root is stored at "err",
  # with neither the "<3>" prefix nor the "error: " word left in the message.
  systemd-run -q -G --wait -u mxgpu-logcheck /usr/sbin/mxgpud --root /nonexistent --once >/dev/null 2>&1
  wait_for '[ -n "$(journalctl -b -q -u mxgpu-logcheck -o cat --no-pager)" ]' 5
  check "mxgpud's error stored at priority err" "--root /nonexistent: no such directory" \
    "$(journalctl -b -q -u mxgpu-logcheck -p err -o cat --no-pager)"
  check_true "vfio-pci loaded (modules-load.d)" test -d /sys/module/vfio_pci
  check_true "pci-pf-stub loaded (modules-load.d)" test -d /sys/module/pci_pf_stub
  check "systemd-analyze verify of the units" "" "$(systemd-analyze verify --man=no mxgpud.service mxgpud.socket mxgpu-ready.target 2>&1)"
  out "FACT: $(systemd-analyze security mxgpud.service --no-pager 2>&1 | grep -i 'overall exposure')"
  systemd-analyze security mxgpud.service --no-pager 2>&1 | sed 's/^/vmtest: INFO: /' >>$results
  write_config 2 1
  next_boot boot2
  ;;
boot2)
  out "PHASE boot2: first boot with the package and a config"
  out "FACT: boot2: system $(timeout 120 systemctl is-system-running --wait), failed units: $(systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')"
  check_all boot2 2 1
  # Reload: B 1 -> 2 VFs; A untouched (no uevent for any of its functions).
  before_a=$(vfs_of $A | tr '\n' ' ')
  udevadm monitor --kernel --subsystem-match=pci >/tmp/uevents.log 2>&1 &
  mon=$!
  wait_for "grep -q 'monitor will print' /tmp/uevents.log" 5
  write_config 2 2
  systemctl reload mxgpud >/tmp/reload.log 2>&1
  check "systemctl reload mxgpud exit" 0 "$?"
  wait_for "[ \$(cat $(sysdev $B)/sriov_numvfs) = 2 ] && [ -e $(sysdev $B)/virtfn1/driver ]" 10
  sleep 0.5 # uevents of the apply reach the monitor after the sysfs writes return
  kill $mon
  out "FACT: reload: $(grep -c '^KERNEL' /tmp/uevents.log) kernel uevents, $(grep -c "^KERNEL.*$A\|^KERNEL.*${A%.0}" /tmp/uevents.log) of them under PF A"
  check "reload: no uevent for PF A or its VFs" "" "$(grep "^KERNEL" /tmp/uevents.log | grep -F "${A%.0}" | head -n 3)"
  check "reload: PF A's VFs unchanged" "$before_a" "$(vfs_of $A | tr '\n' ' ')"
  grep -q "^KERNEL.*add .*${B%.0}" /tmp/uevents.log && pass "reload: PF B's VFs re-created" ||
    failed "reload: PF B's VFs re-created: no add uevent under $B"
  check_all reload 2 2
  # The optional control socket, enabled for the next boot: systemd listens, mxgpud takes it over.
  systemctl enable mxgpud.socket >/tmp/enable.log 2>&1
  check "systemctl enable mxgpud.socket exit" 0 "$?"
  next_boot boot3
  ;;
boot3)
  out "PHASE boot3: reboot after the reload"
  out "FACT: boot3: system $(timeout 120 systemctl is-system-running --wait), failed units: $(systemctl --failed --no-legend --plain | awk '{print $1}' | tr '\n' ' ')"
  check_all boot3 2 2
  # Socket activation at boot: the socket unit is active and the daemon answers on it; stopped, the
  # daemon is started again by the next connection (systemd keeps listening meanwhile).
  check "boot3: mxgpud.socket active" active "$(systemctl is-active mxgpud.socket)"
  before_list=$(mxgpuctl list --json | jq -c '[.pfs[] | {address, num_vfs, vfs: [.vfs[] | {address, driver}]}]')
  systemctl stop mxgpud.service
  check "boot3: mxgpud stopped, its socket still listening" "inactive active" \
    "$(systemctl is-active mxgpud.service) $(systemctl is-active mxgpud.socket)"
  check_true "boot3: mxgpuctl ping starts mxgpud through the socket" timeout 60 mxgpuctl ping
  check "boot3: mxgpud active again" active "$(systemctl is-active mxgpud.service)"
  check "boot3: mxgpud.service is triggered by mxgpud.socket" "mxgpud.socket" "$(systemctl show -P TriggeredBy mxgpud.service)"
  check "boot3: the restarted daemon lists the same VFs" "$before_list" \
    "$(mxgpuctl list --json | jq -c '[.pfs[] | {address, num_vfs, vfs: [.vfs[] | {address, driver}]}]')"
  if dpkg --purge mxgpu >/tmp/dpkg.log 2>&1; then pass "dpkg --purge mxgpu"; else
    failed "dpkg --purge mxgpu: $(tail -n 5 /tmp/dpkg.log | tr '\n' ' ')"; fi
  check "purge: service and socket gone" "inactive inactive" \
    "$(systemctl is-active mxgpud.service) $(systemctl is-active mxgpud.socket)"
  check "purge: files left" "" "$(ls -d /var/lib/mxgpu /etc/mxgpu /run/mxgpu /lib/systemd/system/mxgpud.service /usr/sbin/mxgpud /lib/udev/rules.d/60-mxgpu.rules 2>/dev/null)"
  check "purge: dpkg forgot the package" "" "$(dpkg-query -W -f='${Status}' mxgpu 2>/dev/null)"
  check "purge: VFs stay (no VM loses its device)" 2 "$(cat "$(sysdev $A)/sriov_numvfs")"
  finish
  ;;
*)
  failed "unknown phase '$phase'"
  finish
  ;;
esac
