#!/bin/bash
# SPDX-License-Identifier: MIT
# Inside the benchmark guest (bench/vm-init): bring up every VF of the emulated SR-IOV NVMe PF and
# bind it to vfio-pci with each contender, timed with the guest's clock, from the same starting
# state each time (no VFs, autoprobe 1). Prints "vmbench: NAME MS" per run, "vmbench: DONE" at the end.
set -u
reps=$(cat /bench/reps)
pf=
for d in /sys/bus/pci/devices/*; do
  [ "$(cat "$d/class")" = 0x010802 ] && [ -e "$d/sriov_totalvfs" ] && { pf=${d##*/}; break; }
done
[ -n "$pf" ] || { echo "vmbench: error: no NVMe PF with SR-IOV found"; exit 1; }
sys=/sys/bus/pci/devices/$pf
n=$(cat "$sys/sriov_totalvfs")
echo "vmbench: PF $pf, $n VFs, kernel $(uname -r)"
sed "s/@PF@/$pf/; s/@N@/$n/" /bench/mxgpu.conf.in >/bench/mxgpu.conf

us_now() { local t=${EPOCHREALTIME/./}; echo "${t#0}"; }
start_state() {
  echo 0 >"$sys/sriov_numvfs" && echo 1 >"$sys/sriov_drivers_autoprobe" && rm -rf /run/mxgpu /etc/driverctl.d
}
on_vfio() {
  local k=0 l
  for l in "$sys"/virtfn*; do [ "$(basename "$(readlink "$l/driver")")" = vfio-pci ] && k=$((k + 1)); done
  echo $k
}
run_floor() { /bench/floor "$pf"; }
run_mxgpud() { /bench/mxgpud --config /bench/mxgpu.conf --once; }
run_shell() { /bin/bash /bench/shell-bringup.sh /; }
run_driverctl() { BINDER=driverctl /bin/bash /bench/shell-bringup.sh /; }

for ((rep = 0; rep < reps; rep++)); do
  for c in floor mxgpud shell driverctl; do
    start_state || { echo "vmbench: error: cannot reset $pf"; continue; }
    t0=$(us_now)
    run_$c >/tmp/$c.log 2>&1
    rc=$?
    t1=$(us_now)
    got=$(on_vfio)
    if [ $rc -ne 0 ] || [ "$got" != "$n" ]; then
      echo "vmbench: error: $c: exit $rc, $got of $n VFs on vfio-pci: $(tail -n 2 /tmp/$c.log | tr '\n' ' ')"
    else
      echo "vmbench: $c $(( (t1 - t0) / 1000 ))"
    fi
  done
done
# What mxgpud's figure includes before any sysfs work: exec and dynamic linking (libvirt and its
# dependencies) of a process that only prints its version.
for ((rep = 0; rep < reps; rep++)); do
  t0=$(us_now); /bench/mxgpud --version >/dev/null; t1=$(us_now)
  echo "vmbench: start $(( (t1 - t0) / 1000 ))"
done
start_state
echo "vmbench: DONE"
