#!/bin/bash
# SPDX-License-Identifier: MIT
# Boot integration (make check-vm): Debian 12 (debootstrap: systemd, udev, libvirtd) on Debian's
# own kernel in QEMU with two SR-IOV NVMe PFs; the guest installs the mxgpu package built from
# this tree, reboots, and tests/vm/boot/guest-test.sh checks what the boot produced (mxgpud READY
# before libvirtd, VFs on vfio-pci, libvirt's node devices, mxgpuctl), a reload, another reboot
# and a purge. Closes with "vm-boot: N passed, N failed"; exit 0 pass, 1 fail, 77 skip.
#
# Environment: BUILD (default build), MXGPU_VM_CACHE (default tests/vm/cache), MXGPU_VM_TIMEOUT
# (s, default 540), MXGPU_VM_ACCEL, MXGPU_VM_MIRROR (default: the host's Debian mirror),
# MXGPU_VM_DEB (a prebuilt .deb instead of scripts/build-deb.sh).
# With --image: only prepare the kernel and the guest image (both cached), print "KDIR IMAGE" as
# the last line and exit (bench/vm-bench.sh boots the same image for its libvirt row).
set -uo pipefail
image_only=0
[ "${1:-}" = --image ] && image_only=1
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD=$src/$BUILD
cache=${MXGPU_VM_CACHE:-$here/cache}
work=$BUILD/vm-boot
nvfs=4
timeout_s=${MXGPU_VM_TIMEOUT:-540}
busybox=/bin/busybox
suite=bookworm
# Put into the guest's /lib/modules, for its udev and modules-load.d: the PFs' and VFs' drivers.
guest_modules=(crct10dif_generic crc64_rocksoft_generic nvme pci-pf-stub vfio vfio_iommu_type1 vfio-pci)
# The guest: systemd, udev and libvirtd; jq for the test; mxgpu's own run-time libraries, so the
# package installs offline (the guest has no network). dbus and libpam-systemd: debootstrap does
# not pick the alternatives polkitd and systemd-container depend on.
include=(systemd-sysv udev kmod pciutils dbus libpam-systemd libvirt-daemon-system libvirt-clients jq
  libpci3 libjson-c5 libinih1 libudev1 libsystemd0)

fail() { echo "vm-boot: error: $*" >&2; echo "vm-boot: 0 passed, 1 failed"; exit 1; }
skip() { echo "vm-boot: skipped: $*"; exit 77; }
log() { echo "vm-boot: $*"; }
t0=$SECONDS
elapsed() { echo "$((SECONDS - t0)) s"; }

for tool in qemu-system-x86_64 debootstrap mkfs.ext4 dpkg-deb apt-cache timeout; do
  command -v $tool >/dev/null || fail "$tool not found: run scripts/deps.sh vm boot"
done
[ -x $busybox ] && ! ldd $busybox >/dev/null 2>&1 || fail "$busybox is missing or not static (busybox-static)"
[ "$(id -u)" -eq 0 ] || skip "debootstrap and the image need root"

. "$here/lib/kernel.sh"
. "$here/lib/qemu.sh"
. "$here/lib/report.sh"
mkdir -p "$work" "$cache"

# --- the kernel (shared code with check-vm-kernel, its own cache: other modules) ---
cached_kernel "$cache/boot-kernel" "${VM_ROOT_MODULES[@]}" "${guest_modules[@]}"
case $? in
0) kdir=$KDIR ;;
77) skip "$KERNEL_ERROR" ;;
*) fail "$KERNEL_ERROR" ;;
esac
kver=$(cat "$kdir/release")

# --- the package ---
if [ $image_only = 1 ]; then deb=none; elif [ -n "${MXGPU_VM_DEB:-}" ]; then deb=$MXGPU_VM_DEB; else
  log "building the package ($(elapsed))"
  deb=$(BUILD=$BUILD "$src/scripts/build-deb.sh" | tail -n1) || fail "the package did not build"
fi
[ $image_only = 1 ] || [ -f "$deb" ] || fail "no package at '$deb'"

# --- the guest image: debootstrap, cached by the versions of what it holds ---
mirror=${MXGPU_VM_MIRROR:-$(sed -n 's/^URIs: *\([^ ]*debian\)$/\1/p; s/^deb \(http[^ ]*\/debian\) .*/\1/p' \
  /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}
# A package update, another kernel or a change of this script's image recipe makes a new image.
versions=$(apt-cache policy "${include[@]}" 2>/dev/null | awk '/^[^ ]/ { p = $1 } /Candidate:/ { print p, $2 }')
[ -n "$versions" ] || versions=offline
recipe=$(sed -n '/^# --- image recipe ---$/,/^# --- end of image recipe ---$/p' "$0")
key=$(printf '%s\n' "$suite" "$mirror" "${include[*]}" "$versions" "$(basename "$kdir")" "$recipe" | sha256sum | cut -c1-16)
idir=$cache/boot-image/$key
if [ "$versions" = offline ] && [ ! -f "$idir/.done" ]; then
  idir=$(ls -td "$cache"/boot-image/*/ 2>/dev/null | head -n1)
  idir=${idir%/}
  [ -n "$idir" ] && [ -f "$idir/.done" ] || skip "no package lists and no cached guest image"
fi
image=$idir/root.ext4

# --- image recipe ---
build_image() { # DIR
  local dir=$1 root=$1/root size
  rm -rf "$dir" && mkdir -p "$dir"
  log "debootstrap $suite from $mirror into $root ($(elapsed))"
  debootstrap --variant=minbase --include="$(IFS=,; echo "${include[*]}")" \
    $suite "$root" "$mirror" >"$dir/debootstrap.log" 2>&1 ||
    { tail -n 5 "$dir/debootstrap.log" >&2; return 1; }
  # The kernel's modules the guest needs, with the real depmod of the guest's kmod.
  mkdir -p "$root/lib/modules/$kver" && cp -a "$kdir/modules/." "$root/lib/modules/$kver/" &&
    chroot "$root" depmod "$kver" || return 1
  chroot "$root" systemd-machine-id-setup >/dev/null || return 1
  echo mxgpu-vm >"$root/etc/hostname"
  # No login prompt on the console; no timers that wake up during the test.
  ln -sf /dev/null "$root/etc/systemd/system/serial-getty@.service"
  ln -sf /dev/null "$root/etc/systemd/system/apt-daily.timer"
  ln -sf /dev/null "$root/etc/systemd/system/apt-daily-upgrade.timer"
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_Packages
  size=$(($(du -sm "$root" | cut -f1) + 400))
  mkfs.ext4 -q -L mxgpu-root -d "$root" "$dir/root.ext4" "${size}M" || return 1
  rm -rf "$root"
}
# --- end of image recipe ---
if [ ! -f "$idir/.done" ]; then
  start=$SECONDS
  build_image "$idir.tmp" || fail "cannot build the guest image (see $idir.tmp)"
  touch "$idir.tmp/.done" && rm -rf "$idir" && mv "$idir.tmp" "$idir"
  log "guest image built in $((SECONDS - start)) s: $idir"
fi
[ $image_only = 1 ] && { echo "$kdir $image"; exit 0; }

# --- the initramfs: busybox, the root disk's modules, /init, and this run's payload ---
stage=$work/initramfs
stage_boot_initramfs "$stage" "$kdir" "$busybox" || fail "cannot stage the initramfs in $stage"
cp "$deb" "$stage/payload/mxgpu.deb"
cp "$here/boot/guest-test.sh" "$here/boot/mxgpu-vmtest.service" "$stage/payload/"
initrd=$work/initramfs.cpio
(cd "$stage" && find . | $busybox cpio -o -H newc -R 0:0 2>/dev/null) >"$initrd" || fail "cannot write $initrd"

# --- QEMU: the kernel-test command line plus a second PF, the disk; one QEMU run per boot ---
# Each reboot the guest asks for ends QEMU (-no-reboot) and the next boot is a new QEMU on the same
# disk, a cold boot as after a power cycle. A warm reboot inside one QEMU re-clears guest memory at
# a crawl under TCG (soft lockups: 25 s, then 95 s, to unpack the initramfs of the second and third
# boot; most likely the checks on writes to pages that held translated code).
console_log=$work/console.log
results_log=$work/results.log
disk=$work/disk.raw
rm -f "$console_log" "$results_log" "$work/qemu.log" "$work"/qemu.*.log
cp --sparse=always "$image" "$disk" || fail "cannot copy the guest image to $disk"
mapfile -t pf1 < <(nvme_sriov_pf 1 "$nvfs")
QEMU_MEM=1G qemu_cmdline "$kdir/vmlinux" "$initrd" \
  "console=ttyS0 intel_iommu=on loglevel=4 rdinit=/init systemd.show_status=1" "$console_log.part" "$results_log.part" \
  "${pf1[@]}" -drive "file=$disk,format=raw,if=virtio"
log "booting $(basename "$kdir") with $(basename "$deb") (image $key, timeout ${timeout_s}s, $(elapsed) so far)"
start=$SECONDS
rc=0 boot=0
while :; do
  boot=$((boot + 1))
  left=$((timeout_s - (SECONDS - start)))
  [ $left -gt 0 ] || { rc=124; break; }
  timeout -k 5 "$left" "${QEMU[@]}" >"$work/qemu.$boot.log" 2>&1
  rc=$?
  cat "$console_log.part" >>"$console_log" 2>/dev/null
  cat "$results_log.part" >>"$results_log" 2>/dev/null
  cat "$work/qemu.$boot.log" >>"$work/qemu.log"
  # Another boot only when this one asked for it, and three at most (one per phase): a guest that
  # asks for a fourth ends without its DONE, which vm_report counts as a failure.
  [ $rc -eq 0 ] && grep -aq '^vmtest: rebooting into phase' "$results_log.part" 2>/dev/null && [ $boot -lt 3 ] || break
done
rm -f "$console_log.part" "$results_log.part" "$disk"
log "guest ran for $((SECONDS - start)) s ($boot boots), qemu exit $rc"

vm_report vm-boot "$rc" "$results_log" "$console_log" "$work/qemu.log" "$timeout_s" "logs in $work (console.log, results.log with INFO lines); total $(elapsed)" "^vmtest: INFO: "
