#!/bin/bash
# SPDX-License-Identifier: MIT
# The bring-up an admin writes by hand: one PF after another, one VF after another, setpci for the
# GPU-IOV registers (the same values as bench/floor.c and mxgpud's defaults), echo for sysfs.
# Usage: shell-bringup.sh [ROOT] [--vfs N]    (ROOT "" or / = the real /sys)
# BINDER=driverctl: bind each VF with `driverctl set-override BDF vfio-pci` instead of echo.
set -eu
root=${1:-}
[ "$root" = / ] && root=
vfs=${3:-}
sys=$root/sys/bus/pci
binder=${BINDER:-echo}

for pf in "$sys"/devices/*; do
  [ -e "$pf/sriov_totalvfs" ] || continue
  addr=${pf##*/}
  n=${vfs:-$(cat "$pf/sriov_totalvfs")}
  echo 0 > "$pf/sriov_drivers_autoprobe"
  echo "$n" > "$pf/sriov_numvfs"

  # S7150 (1002:6929): framebuffer partition and scheduler through setpci (hardware.md 3 and 4).
  if [ "$(cat "$pf/vendor"):$(cat "$pf/device")" = 0x1002:0x6929 ]; then
    S=(setpci -A linux-sysfs -O "sysfs.path=$sys" -s "$addr")
    cur=($("${S[@]}" ECAP0b+0x24.w ECAP0b+0x2a.b))
    avail=$((16#${cur[0]})) blk=$((16#${cur[1]} << 4))
    reserve=256 start=272
    size=$(( (avail - start) / n / 16 * 16 ))
    regs=("ECAP0b+0x26.w=$(printf %04x $((avail - reserve)))"
          "ECAP0b+0x20.l=$(printf %08x $((8 * 4 | (reserve * 4) << 10)))")
    for ((i = 0; i < n; i++)); do
      regs+=("ECAP0b+$(printf 0x%x $((0x2c + 4 * i))).l=$(printf %08x $(( ((size >> 4) - 1) | ((start + i * size) >> 4) << 16 )))")
    done
    regs+=("ECAP0b+$(printf 0x%x $((blk + 0x18))).l=00000006"
           "ECAP0b+$(printf 0x%x $((blk + 0x1c))).l=00000000"
           "ECAP0b+$(printf 0x%x $((blk + 0x20))).l=00000000:c0000000"
           "ECAP0b+$(printf 0x%x $((blk + 0x10))).l=$(printf %08x $(( (1 << n) - 1 )))")
    "${S[@]}" "${regs[@]}"
    cmd=ECAP0b+$(printf 0x%x $((blk + 4)))
    # ENABLE_AUTO_HW_SWITCH (6), and wait for it; no mode command: the Tonga set has no 0xf and the block
    # runs solid without one (docs/gpuiov.md).
    "${S[@]}" "$cmd.l=00000016"
    while (( 16#$("${S[@]}" "$cmd.b") & 0x10 )); do sleep 0.001; done
    [ "$("${S[@]}" ECAP0b+$(printf 0x%x $((blk + 8))).b)" = 00 ] || { echo "$addr: ENABLE_AUTO_HW_SWITCH failed" >&2; exit 1; }
  fi

  for ((i = 0; i < n; i++)); do
    vf=$(basename "$(readlink "$pf/virtfn$i")")
    if [ "$binder" = driverctl ]; then
      driverctl set-override "$vf" vfio-pci
    else
      echo vfio-pci > "$sys/devices/$vf/driver_override"
      echo "$vf" > "$sys/drivers_probe"
    fi
  done
done
