#!/bin/bash
# SPDX-License-Identifier: MIT
# Inside the benchmark guest (bench/vm-init): bring up every VF of every emulated SR-IOV NVMe PF (one
# or several) and bind it to vfio-pci with each contender, timed with the guest's clock, from the same
# starting state each time (no VFs, autoprobe 1, on every PF). Prints "vmbench: NAME MS" per run,
# "vmbench: DONE" at the end.
set -u
reps=$(cat /bench/reps)
pfs=()
for d in /sys/bus/pci/devices/*; do
  [ "$(cat "$d/class")" = 0x010802 ] && [ -e "$d/sriov_totalvfs" ] && pfs+=("${d##*/}")
done
[ ${#pfs[@]} -gt 0 ] || { echo "vmbench: error: no NVMe PF with SR-IOV found"; exit 1; }
# mxgpud's config: the template's [daemon] section once, then its [device] section for each PF.
n=0
{
  sed '/^\[device /,$d' /bench/mxgpu.conf.in
  for pf in "${pfs[@]}"; do
    k=$(cat "/sys/bus/pci/devices/$pf/sriov_totalvfs")
    n=$((n + k))
    sed -n '/^\[device /,$p' /bench/mxgpu.conf.in | sed "s/@PF@/$pf/; s/@N@/$k/"
    echo
  done
} >/bench/mxgpu.conf
echo "vmbench: ${#pfs[@]} PF(s): ${pfs[*]}, $n VFs in all, kernel $(uname -r)"

# stamp VAR: the time in us into VAR, with no subshell ($(...) forks, which costs 1-3 ms on these
# machines and fell inside the timed window)
stamp() { printf -v "$1" %s "${EPOCHREALTIME/./}"; }
start_state() {
  local pf
  for pf in "${pfs[@]}"; do
    echo 0 >"/sys/bus/pci/devices/$pf/sriov_numvfs" && echo 1 >"/sys/bus/pci/devices/$pf/sriov_drivers_autoprobe" || return 1
  done
  rm -rf /run/mxgpu /etc/driverctl.d
}
# on_vfio: how many VFs of all the PFs are bound to vfio-pci.
on_vfio() {
  local k=0 l pf
  for pf in "${pfs[@]}"; do
    for l in "/sys/bus/pci/devices/$pf"/virtfn*; do [ "$(basename "$(readlink "$l/driver")")" = vfio-pci ] && k=$((k + 1)); done
  done
  echo $k
}
run_floor() { /bench/floor "${pfs[@]}"; }
run_mxgpud() { /bench/mxgpud --config /bench/mxgpu.conf --once; }
run_shell() { /bin/bash /bench/shell-bringup.sh /; }
run_driverctl() { BINDER=driverctl /bin/bash /bench/shell-bringup.sh /; }

# timed NAME WANT COUNT WHAT: from the start state, runs run_NAME and prints its time, or an error when
# it fails or the function COUNT does not then give WANT (WHAT: what COUNT counts, for the message).
timed() {
  local c=$1 want=$2 count=$3 what=$4 t0 t1 rc got
  start_state || { echo "vmbench: error: cannot reset ${pfs[*]}"; return; }
  stamp t0
  run_$c >/tmp/$c.log 2>&1
  rc=$?
  stamp t1
  got=$($count)
  if [ $rc -ne 0 ] || [ "$got" != "$want" ]; then
    echo "vmbench: error: $c: exit $rc, $got of $want VFs $what: $(tail -n 2 /tmp/$c.log | tr '\n' ' ')"
  else
    echo "vmbench: $c $(( (t1 - t0) / 1000 ))"
  fi
}

for ((rep = 0; rep < reps; rep++)); do
  for c in floor mxgpud shell driverctl; do timed $c "$n" on_vfio "on vfio-pci"; done
done
# Where mxgpud's time goes on this kernel: one more run with debug logging (not among the timed
# ones); its phase lines go to the host (bench/profile.sh reads them there).
if start_state; then
  stamp t0
  /bench/mxgpud --config /bench/mxgpu.conf --once --log-level debug >/tmp/profile.log 2>&1
  stamp t1
  echo "vmbench: profile-ms $(( (t1 - t0) / 1000 ))"
  grep -E 'cycle of|observed in| took .* ms$|verified in' /tmp/profile.log | sed 's/^/vmbench: plog /'
fi
# The kernel's part of the floor: enabling the VFs without binding them (floor --no-bind), all of
# them and 1 per PF, all PFs at once; with several PFs also one PF after another, which shows how far
# the kernel overlaps the PFs' enables (1 VF per PF: mostly its 100 ms wait after setting VF Enable).
numvfs() { local pf k=0; for pf in "${pfs[@]}"; do k=$((k + $(cat "/sys/bus/pci/devices/$pf/sriov_numvfs"))); done; echo $k; }
run_enable_par() { /bench/floor --no-bind "$@" "${pfs[@]}"; }
run_enable_seq() { local pf; for pf in "${pfs[@]}"; do /bench/floor --no-bind "$@" "$pf" || return 1; done; }
run_one_par() { run_enable_par --vfs 1; }
run_one_seq() { run_enable_seq --vfs 1; }
for ((rep = 0; rep < reps; rep++)); do
  for c in enable_par enable_seq one_par one_seq; do
    [ "${c#*_}" = seq ] && [ ${#pfs[@]} -eq 1 ] && continue
    want=$n; [ "${c%_*}" = one ] && want=${#pfs[@]}
    timed $c "$want" numvfs enabled
  done
done
# What mxgpud's figure includes before any sysfs work: exec and dynamic linking (its shared
# libraries) of a process that only prints its version.
for ((rep = 0; rep < reps; rep++)); do
  stamp t0; /bench/mxgpud --version >/dev/null; stamp t1
  echo "vmbench: start $(( (t1 - t0) / 1000 ))"
done
start_state
echo "vmbench: DONE"
