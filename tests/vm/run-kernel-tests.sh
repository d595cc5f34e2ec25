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
# Prints "<package>_<version>" of the newest kernel the metapackage points at, or nothing.
kernel_key() {
  local meta pkg ver
  meta=$("$src/scripts/deps.sh" --download vm | head -n1)
  pkg=$(apt-cache depends "$meta" 2>/dev/null | sed -n 's/^  Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1)
  [ -n "$pkg" ] || return 0
  ver=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^  Candidate: //p')
  [ -n "$ver" ] && [ "$ver" != "(none)" ] && echo "${pkg}_$ver"
}

# Fills $1 (a new directory) with vmlinux, modules/ and modules.load for package key $2.
prepare_kernel() {
  local dir=$1 key=$2 pkg=${2%%_*} ver=${2#*_} kver deb m
  mkdir -p "$dir"
  (cd "$dir" && apt-get download "$pkg=$ver") >"$dir/download.log" 2>&1 || {
    tail -n 3 "$dir/download.log" >&2
    return 77
  }
  deb=$(ls "$dir"/*.deb) && dpkg-deb -x "$deb" "$dir/root" || return 1
  kver=$(ls "$dir/root/lib/modules") && [ -d "$dir/root/lib/modules/$kver/kernel" ] || return 1
  "$here/lib/extract-vmlinux" "$dir"/root/boot/vmlinuz-* "$dir/vmlinux" || return 1
  # The package ships no modules.dep (depmod runs at install): make one inside the unpacked tree.
  $busybox depmod -b "$dir/root" "$kver" || return 1
  local mdir=$dir/root/lib/modules/$kver
  local -A seen=()
  local order=()
  add_module() { # module name -> appends it and its dependencies to order, dependencies first
    local name=${1//-/_} line path deps i
    line=$(awk -v n="$name" -F: '{ b = $1; sub(/.*\//, "", b); sub(/\.ko.*$/, "", b); gsub(/-/, "_", b)
                                   if (b == n) { print; exit } }' "$mdir/modules.dep")
    [ -n "$line" ] || { echo "vm-kernel: module $1 not in $key" >&2; return 1; }
    path=${line%%:*}
    read -ra deps <<<"${line#*:}"
    # modules.dep lists the full closure, users before what they use: load it back to front.
    for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
      [ -n "${seen[${deps[i]}]:-}" ] || { seen[${deps[i]}]=1; order+=("${deps[i]}"); }
    done
    [ -n "${seen[$path]:-}" ] || { seen[$path]=1; order+=("$path"); }
  }
  for m in "${modules[@]}"; do add_module "$m" || return 1; done
  for m in "${order[@]}"; do
    mkdir -p "$dir/modules/$(dirname "$m")" && cp "$mdir/$m" "$dir/modules/$m" || return 1
    echo "modules/$m" >>"$dir/modules.load"
  done
  echo "$kver" >"$dir/release"
  rm -rf "$dir/root" "$deb"
}

key=$(kernel_key)
if [ -z "$key" ]; then
  # No package lists (offline, apt-get update never ran): use the newest kernel already cached.
  key=$(ls -t "$cache/kernel" 2>/dev/null | grep -v '\.tmp$' | head -n1)
  [ -n "$key" ] && [ -f "$cache/kernel/$key/.done" ] ||
    skip "apt-cache knows no linux-image-amd64 and nothing is cached: run apt-get update"
fi
kdir=$cache/kernel/$key
if [ ! -f "$kdir/.done" ]; then
  log "fetching and unpacking $key into $kdir"
  rm -rf "$kdir.tmp"
  prepare_kernel "$kdir.tmp" "$key"
  case $? in
  0) ;;
  77) rm -rf "$kdir.tmp"; skip "cannot apt-get download ${key%%_*}=${key#*_} (no Debian mirror reachable)" ;;
  *) fail "could not prepare $key (see $kdir.tmp)" ;;
  esac
  touch "$kdir.tmp/.done" && rm -rf "$kdir" && mv "$kdir.tmp" "$kdir"
fi

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

# --- QEMU: one function builds the command line, so a disk-booted guest can reuse it ---
# qemu_cmdline KERNEL INITRD APPEND CONSOLE_LOG RESULTS_LOG [extra QEMU args...] -> array QEMU
qemu_cmdline() {
  local kernel=$1 initrd=$2 append=$3 console=$4 results=$5
  shift 5
  local accel=${MXGPU_VM_ACCEL:-}
  if [ -z "$accel" ]; then
    # /dev/kvm exists on machines whose CPU cannot run KVM guests: ask the CPU too.
    if [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then accel=kvm; else accel=tcg; fi
  fi
  local cpu=max
  [ "$accel" = kvm ] && cpu=host
  QEMU=(qemu-system-x86_64
    -machine q35,kernel-irqchip=split -accel "$accel" -cpu $cpu -smp 2 -m 512M
    # vfio-pci needs an IOMMU in the guest (Debian's kernel has no no-IOMMU mode).
    -device intel-iommu,intremap=on
    -device pcie-root-port,id=rp0,chassis=1,slot=1
    -device nvme-subsys,id=nvmes0
    # QEMU 7.2's nvme is the one emulated device with SR-IOV; each VF needs flexible
    # queues (2 per VF) and interrupts (1 per VF) from the PF's pool.
    -device "nvme,serial=mxgpu0,subsys=nvmes0,bus=rp0,sriov_max_vfs=$nvfs,sriov_vq_flexible=$((2 * nvfs)),sriov_vi_flexible=$nvfs,max_ioqpairs=$((2 * nvfs + 2)),msix_qsize=$((nvfs + 1))"
    -kernel "$kernel" -initrd "$initrd" -append "$append"
    -nographic -vga none -nic none -monitor none -serial "file:$console" -serial "file:$results"
    -no-reboot "$@")
}

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

grep -a '^vmtest: ' "$results_log" 2>/dev/null | tr -d '\r'
pass=$(grep -ac '^vmtest: PASS: ' "$results_log" 2>/dev/null)
nfail=$(grep -ac '^vmtest: FAIL: ' "$results_log" 2>/dev/null)
done_marker=$(grep -ac '^vmtest: DONE' "$results_log" 2>/dev/null)
problem=
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
  problem="guest timed out after ${timeout_s}s"
elif [ "$rc" -ne 0 ]; then
  problem="qemu failed with exit $rc: $(tail -n 3 "$work/qemu.log")"
elif [ "${done_marker:-0}" -eq 0 ]; then
  problem="guest stopped before its DONE marker"
elif [ "${pass:-0}" -eq 0 ]; then
  problem="no test passed"
fi
if [ -n "$problem" ]; then
  nfail=$((nfail + 1))
  echo "vm-kernel: FAIL: $problem; last console lines ($console_log):"
  tail -n 30 "$console_log" 2>/dev/null | sed 's/^/    /'
fi
echo "vm-kernel: logs in $work (console.log, results.log)"
echo "vm-kernel: ${pass:-0} passed, ${nfail:-0} failed"
[ "${nfail:-0}" -eq 0 ]
