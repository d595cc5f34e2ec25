#!/bin/bash
# SPDX-License-Identifier: MIT
# Boot Debian's own kernel in QEMU with QEMU's SR-IOV NVMe controller and run, inside the guest,
# the checks of the kernel's generic SR-IOV/vfio rules (tests/vm/guest) and the contract binary
# ($BUILD/tests/contract, when built) against the real kernel. Closes with
# "vm-kernel: N passed, N failed"; exit 0 pass, 1 fail, 77 skip (reason on the last line).
#
# Environment: BUILD (build dir, default build), MXGPU_VM_CACHE (default tests/vm/cache),
# MXGPU_VM_VFS (TotalVFs of the emulated PF, default 4), MXGPU_VM_TIMEOUT (s, default 150),
# MXGPU_VM_ACCEL (kvm or tcg; default: kvm only where the CPU has vmx/svm), MXGPU_VM_CONTRACT=0
# (leave the contract binary out), MXGPU_VM_KEEP=1 (keep the logs of a passing run too).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD=$src/$BUILD
cache=${MXGPU_VM_CACHE:-$here/cache}
work=$BUILD/vm
nvfs=${MXGPU_VM_VFS:-4}
timeout_s=${MXGPU_VM_TIMEOUT:-150}
# Modules the guest loads, in this order (each after its modules.dep dependencies). The two
# crypto modules back crc-t10dif and crc64-rocksoft, which look their algorithm up at load.
modules=(crct10dif_generic crc64_rocksoft_generic nvme pci-pf-stub vfio vfio_iommu_type1 vfio-pci)

fail() { echo "vm-kernel: error: $*" >&2; echo "vm-kernel: 0 passed, 1 failed"; exit 1; }
skip() { echo "vm-kernel: skipped: $*"; exit 77; }
log() { echo "vm-kernel: $*"; }

# --- prerequisites: after `scripts/deps.sh vm` a missing tool is a failure, not a skip ---
command -v qemu-system-x86_64 >/dev/null || fail "qemu-system-x86_64 not found: run scripts/deps.sh vm"
busybox=/bin/busybox
[ -x $busybox ] && ! ldd $busybox >/dev/null 2>&1 ||
  fail "$busybox is missing or not static: run scripts/deps.sh vm (package busybox-static)"
for tool in apt-get apt-cache dpkg-deb cc timeout; do
  command -v $tool >/dev/null || fail "$tool not found"
done

# --- the kernel: Debian's package, unpacked into the cache, keyed by its exact version ---
. "$here/lib/qemu.sh"
. "$here/lib/report.sh"
# Fetched through a bare shell (no variables, -u, another folder): on an empty cache, as in CI, this
# fails if kernel.sh leans on something its callers set (bench/vm-bench.sh sets other things).
mapfile -t got < <(cd / && env -i PATH="$PATH" bash -u -c \
  '. "$0"; cached_kernel "$@"; echo $?; echo "${KDIR:-}"; echo "${KERNEL_ERROR:-}"' \
  "$here/lib/kernel.sh" "$cache/kernel" "${modules[@]}")
case ${got[0]:-} in
0) kdir=${got[1]} key=$(basename "$kdir") ;;
77) skip "${got[2]}" ;;
*) fail "${got[2]:-the kernel could not be fetched (kernel.sh stopped: see above)}" ;;
esac

# --- guest programs ---
mkdir -p "$work"
# Small static helpers (tests/vm/guest/*.c) for what busybox cannot do.
helpers=()
for c in "$here"/guest/*.c; do
  bin=$work/guest-bin/$(basename "$c" .c)
  if [ ! -x "$bin" ] || [ "$c" -nt "$bin" ]; then
    mkdir -p "$work/guest-bin"
    cc -std=gnu11 -O2 -Wall -Wextra -Werror -static -o "$bin" "$c" ||
      fail "cannot build $bin statically (libc6-dev's libc.a?)"
  fi
  helpers+=("$bin")
done
contract=$BUILD/tests/contract
[ "${MXGPU_VM_CONTRACT:-1}" = 1 ] && [ -x "$contract" ] || contract=

# --- the initramfs: busybox, modules, /init, the tests; a dynamic contract binary brings its libs ---
stage=$work/initramfs
rm -rf "$stage" && mkdir -p "$stage"/{bin,proc,sys,dev,tmp,run,var/tmp,tests}
cp $busybox "$stage/bin/busybox"
cp "$here/guest/init" "$stage/init" && chmod 755 "$stage/init"
cp -r "$kdir/modules" "$kdir/modules.load" "$stage/"
cp "$here/guest/kernel-rules.sh" "${helpers[@]}" "$stage/tests/"
if [ -n "$contract" ]; then
  cp "$contract" "$stage/tests/contract"
  # ldd lists "name => /path (addr)" and the loader as "/path (addr)": copy each file where it was.
  for lib in $(ldd "$contract" | sed -n -e 's/.*=> \(\/[^ ]*\) .*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'); do
    mkdir -p "$stage$(dirname "$lib")" && cp -L "$lib" "$stage$lib" || fail "cannot copy $lib"
  done
fi
initrd=$work/initramfs.cpio
(cd "$stage" && find . | $busybox cpio -o -H newc -R 0:0 2>/dev/null) >"$initrd" ||
  fail "cannot write $initrd"

console_log=$work/console.log
results_log=$work/results.log
rm -f "$console_log" "$results_log"
# panic=-1 and -no-reboot: a guest whose /init dies exits QEMU at once instead of hanging.
qemu_cmdline "$kdir/vmlinux" "$initrd" \
  "console=ttyS0 intel_iommu=on panic=-1 loglevel=4 rdinit=/init" "$console_log" "$results_log"
log "booting $key ($(du -k "$initrd" | cut -f1) KiB initramfs, ${#QEMU[@]} args, timeout ${timeout_s}s)"
start=$SECONDS
timeout -k 5 "$timeout_s" "${QEMU[@]}" >"$work/qemu.log" 2>&1
rc=$?
log "guest ran for $((SECONDS - start)) s, qemu exit $rc"

vm_report vm-kernel "$rc" "$results_log" "$console_log" "$work/qemu.log" "$timeout_s" "logs in $work (console.log, results.log)"
