#!/bin/bash
# SPDX-License-Identifier: MIT
# Inside the systemd guest of bench/vm-bench.sh (the image of make check-vm: udev, libvirtd): bring up
# every VF of the SR-IOV NVMe PF and bind it to vfio-pci with `virsh nodedev-detach` per VF, with the
# floor and mxgpud --once interleaved in the same boot, each from the same start (no VFs, autoprobe 1,
# udev settled, libvirt without VF node devices). Prints "vmbench: NAME MS" per run to ttyS1,
# "vmbench: DONE" at the end, then powers the guest off.
set -u
export PATH=/usr/sbin:/usr/bin:/sbin:/bin LC_ALL=C
dir=/root/vmtest
results=/dev/ttyS1
out() { echo "vmbench: $*" | tee -a $results; }
finish() { out DONE; sync; systemctl poweroff; exit 0; }
error() { out "error: $*"; finish; }
# stamp VAR: the time in us into VAR, with no subshell ($(...) forks, which costs 1-3 ms on these
# machines and fell inside the timed window)
stamp() { printf -v "$1" %s "${EPOCHREALTIME/./}"; }
# wait_for CONDITION [seconds, default 60]: polls every 0.05 s
wait_for() {
  local i
  for ((i = 0; i < ${2:-60} * 20; i++)); do eval "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done
  return 1
}

reps=$(cat $dir/reps)
udevadm settle
pf=
for d in /sys/bus/pci/devices/*; do
  [ "$(cat "$d/class")" = 0x010802 ] && [ -e "$d/sriov_totalvfs" ] && { pf=${d##*/}; break; }
done
[ -n "$pf" ] || error "no NVMe PF with SR-IOV found"
sys=/sys/bus/pci/devices/$pf
n=$(cat "$sys/sriov_totalvfs")
wait_for '[ -e $sys/driver ]' || error "$pf has no driver (nvme) after 60 s"
modprobe vfio-pci || error "modprobe vfio-pci"
systemctl start libvirtd || error "systemctl start libvirtd"
# The first call waits for the node-device driver's enumeration of the bus.
virsh -q nodedev-list --cap pci >/dev/null || error "virsh nodedev-list"
sed "s/@PF@/$pf/; s/@N@/$n/" $dir/mxgpu.conf.in >$dir/mxgpu.conf
missing=$(ldd $dir/mxgpud | grep 'not found')
[ -z "$missing" ] || error "mxgpud: $missing"
out "PF $pf, $n VFs, kernel $(uname -r), $(virsh -v | sed 's/^/libvirt /'), $(systemctl --version | head -n1)"

pci_nodes() { virsh -q nodedev-list --cap pci | grep -c .; }
base=$(pci_nodes)
# libvirt_knows NAME...: every named node device is in libvirt's list (one virsh process).
libvirt_knows() {
  local -A have=()
  local l
  while read -r l; do [ -n "$l" ] && have[$l]=1; done < <(virsh -q nodedev-list --cap pci)
  for l in "$@"; do [ -n "${have[$l]:-}" ] || return 1; done
}
start_state() {
  echo 0 >"$sys/sriov_numvfs" && echo 1 >"$sys/sriov_drivers_autoprobe" && rm -rf /run/mxgpu || return 1
  udevadm settle && wait_for '[ "$(pci_nodes)" = "$base" ]'
}
on_vfio() {
  local k=0 l
  for l in "$sys"/virtfn*; do [ "$(basename "$(readlink "$l/driver")")" = vfio-pci ] && k=$((k + 1)); done
  echo $k
}
run_floor() { $dir/floor "$pf"; }
run_mxgpud() { $dir/mxgpud --config $dir/mxgpu.conf --once; }
# What an admin using libvirt does: enable the VFs, then `virsh nodedev-detach` each (libvirt binds it
# to vfio-pci). A VF's node device exists only once libvirt has handled its udev event: wait for all.
run_virsh() {
  local names=() i v t0 t1
  echo 0 >"$sys/sriov_drivers_autoprobe" && echo "$n" >"$sys/sriov_numvfs" || return 1
  for ((i = 0; i < n; i++)); do v=$(readlink "$sys/virtfn$i"); v=${v##*/}; names+=("pci_${v//[:.]/_}"); done
  stamp t0
  for ((i = 0; i < 1200; i++)); do libvirt_knows "${names[@]}" && break; sleep 0.05; done
  stamp t1
  echo "wait $(( (t1 - t0) / 1000 ))" >/tmp/virsh.wait
  for v in "${names[@]}"; do virsh -q nodedev-detach "$v" || return 1; done
}

for ((rep = 0; rep < reps; rep++)); do
  for c in floor mxgpud virsh; do
    start_state || error "cannot reset $pf to no VFs"
    stamp t0
    run_$c >/tmp/$c.log 2>&1
    rc=$?
    stamp t1
    got=$(on_vfio)
    if [ $rc -ne 0 ] || [ "$got" != "$n" ]; then
      error "$c: exit $rc, $got of $n VFs on vfio-pci: $(tail -n 2 /tmp/$c.log | tr '\n' ' ')"
    fi
    out "$c $(( (t1 - t0) / 1000 ))"
    [ $c = virsh ] && out "virsh-$(cat /tmp/virsh.wait)"
  done
done
start_state
finish
