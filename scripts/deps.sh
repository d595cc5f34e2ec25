#!/bin/bash
# SPDX-License-Identifier: MIT
# Install the Debian packages that building, testing and the demo need; only what is missing.
# Usage: deps.sh [GROUP...]  - no group: build and the fast tests; "vm": also the real-kernel VM
# tests (make check-vm-kernel); "deb": the Debian package (make deb); "boot": with "vm", the
# booted-guest test (make check-vm); "bench": the tools make bench times; "valgrind": make
# check-valgrind; "fuzz": clang and libFuzzer (make fuzz).
# deps.sh --download GROUP prints packages a group fetches
# with `apt-get download` instead of installing (tests/vm unpacks the kernel into its cache).
set -euo pipefail

# Keep this list the one place that names build and test dependencies.
PKGS=(
  gcc make pkg-config
  libpci-dev pciutils pci.ids
  libudev-dev libsystemd-dev
  libjson-c-dev libinih-dev
  libfuse3-dev fuse3
  libcmocka-dev
  libvirt-dev
  # libvirt's test driver is in libvirt0; the libvirtd tests (tests/libvirt) run the real daemon
  # and its QEMU driver (which needs an emulator to define domains) in a private namespace.
  libvirt-daemon libvirt-daemon-system libvirt-clients qemu-system-x86
  util-linux iproute2 jq
  # systemd-socket-activate stands in for systemd's socket activation (tests/integration).
  systemd
)
# Real-kernel VM tests: QEMU (TCG) and a static busybox for the guest's initramfs.
VM_PKGS=(qemu-system-x86 busybox-static)
# Benchmarks (make bench): driverctl is one of the admin tools mxgpud is timed against; the
# real-kernel rows boot QEMU guests, the libvirt row the image of make check-vm (debootstrap, mkfs.ext4).
BENCH_PKGS=(driverctl "${VM_PKGS[@]}" debootstrap e2fsprogs)
# Memory checks of the programs and tests (make check-valgrind).
VALGRIND_PKGS=(valgrind)
# Fuzzing (make fuzz): clang and its runtime libraries, libFuzzer among them.
FUZZ_PKGS=(clang libclang-rt-dev)
# The Debian package (make deb).
DEB_PKGS=(dpkg-dev debhelper)
# Boot integration (make check-vm): a debootstrap'ed guest that installs the package.
BOOT_PKGS=(debootstrap e2fsprogs "${DEB_PKGS[@]}")
# Downloaded and unpacked into tests/vm/cache, never installed: the host's /boot stays as is.
VM_DOWNLOAD=(linux-image-amd64)

if [ "${1:-}" = --download ]; then
  case ${2:-} in
  vm) printf '%s\n' "${VM_DOWNLOAD[@]}"; exit 0 ;;
  *) echo "deps: --download needs a group that downloads packages: vm" >&2; exit 2 ;;
  esac
fi
for group in "$@"; do
  case $group in
  vm) PKGS+=("${VM_PKGS[@]}") ;;
  bench) PKGS+=("${BENCH_PKGS[@]}") ;;
  deb) PKGS+=("${DEB_PKGS[@]}") ;;
  valgrind) PKGS+=("${VALGRIND_PKGS[@]}") ;;
  fuzz) PKGS+=("${FUZZ_PKGS[@]}") ;;
  boot) PKGS+=("${BOOT_PKGS[@]}") ;;
  *) echo "deps: unknown group '$group' (known: vm, bench, deb, boot, valgrind, fuzz)" >&2; exit 2 ;;
  esac
done
[ "${MXGPU_DEPS_EXTRA:-}" ] && PKGS+=(${MXGPU_DEPS_EXTRA})

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "deps: missing Debian packages: ${missing[*]}" >&2
  echo "deps: run 'make deps' as root, or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# An old package list may not know the packages: update once, then install.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
}
