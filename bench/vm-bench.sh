#!/bin/bash
# SPDX-License-Identifier: MIT
# The real-kernel rows of make bench: Debian's kernel in QEMU (tests/vm/lib: the same kernel cache and
# QEMU command line as make check-vm-kernel) with an SR-IOV NVMe PF of MXGPU_VM_VFS VFs; the guest
# (bench/vm-init, bench/vm-guest.sh) brings them all up and binds them to vfio-pci with the floor,
# mxgpud --once, the shell loop and the shell loop with driverctl, BENCH_VM_REPS times, interleaved.
# A second boot of that guest has MXGPU_VM_PFS PFs (each on its own root port) of MXGPU_VM_VFS / PFS
# VFs each, the same total, which every contender brings up whole (the floor and mxgpud PFs in
# parallel, the shell loops one PF after another).
# A third boot, of the systemd guest image of make check-vm (udev, libvirtd; bench/vm-libvirt-guest.sh),
# times `virsh nodedev-detach` per VF against the floor and mxgpud --once in that boot.
# Prints the table rows on stdout (what, figure, target, verdict; tab-separated), progress on stderr;
# exit 1 with the reason on the last line of stderr.
# Environment: BUILD, MXGPU_VM_CACHE, MXGPU_VM_VFS (default 32), MXGPU_VM_PFS (default 4; 1 = no
# multi-PF boot), BENCH_VM_REPS (default 7), MXGPU_VM_TIMEOUT (s, default 900, per boot),
# MXGPU_VM_ACCEL, BENCH_VM_LIBVIRT=0 (no systemd guest boot).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD=$src/$BUILD
cache=${MXGPU_VM_CACHE:-$src/tests/vm/cache}
work=$BUILD/vm-bench
nvfs=${MXGPU_VM_VFS:-32}
npfs=${MXGPU_VM_PFS:-4}
reps=${BENCH_VM_REPS:-7}
timeout_s=${MXGPU_VM_TIMEOUT:-900}
# The guest's modules, in load order (as in tests/vm/run-kernel-tests.sh).
modules=(crct10dif_generic crc64_rocksoft_generic nvme pci-pf-stub vfio vfio_iommu_type1 vfio-pci)
die() { echo "vm-bench: $*" >&2; exit 1; }
[[ $nvfs =~ ^[1-9][0-9]*$ ]] || die "MXGPU_VM_VFS=$nvfs: a whole number >= 1 is allowed"
if ! [[ $npfs =~ ^[1-9][0-9]*$ ]] || [ "$npfs" -gt "$nvfs" ]; then
  die "MXGPU_VM_PFS=$npfs: a whole number from 1 to MXGPU_VM_VFS ($nvfs) is allowed"
fi

command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found: run scripts/deps.sh vm"
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 || die "/bin/busybox missing or not static: scripts/deps.sh vm"
command -v driverctl >/dev/null || die "driverctl missing: scripts/deps.sh bench"
[ -x "$BUILD/mxgpud" ] || die "$BUILD/mxgpud missing: run make"
. "$src/tests/vm/lib/kernel.sh"
. "$src/tests/vm/lib/qemu.sh"
cached_kernel "$cache/kernel" "${modules[@]}" || die "kernel: $KERNEL_ERROR"
kdir=$KDIR

# --- the initramfs: busybox, modules, bash, the contenders (dynamic ones with their libraries) ---
stage=$work/initramfs
rm -rf "$stage" && mkdir -p "$stage"/{bin,sbin,proc,sys,dev,tmp,run,etc,bench}
cp /bin/busybox "$stage/bin/busybox"
cp "$here/vm-init" "$stage/init" && chmod 755 "$stage/init"
cp -r "$kdir/modules" "$kdir/modules.load" "$stage/"
# with_libs FILE...: copy each file and the libraries ldd names to the same paths in the guest.
with_libs() {
  local f lib
  for f in "$@"; do
    mkdir -p "$stage$(dirname "$f")" && cp -L "$f" "$stage$f" || die "cannot copy $f"
    for lib in $(ldd "$f" | sed -n -e 's/.*=> \(\/[^ ]*\) .*/\1/p' -e 's/^[[:space:]]*\(\/[^ ]*\) (.*/\1/p'); do
      [ -e "$stage$lib" ] || { mkdir -p "$stage$(dirname "$lib")" && cp -L "$lib" "$stage$lib"; } || die "cannot copy $lib"
    done
  done
}
with_libs /bin/bash
# The floor is stand-alone: static, so it needs nothing in the guest.
cc -std=gnu11 -O2 -Wall -Wextra -Werror -static -D_GNU_SOURCE -I"$src/include" -o "$stage/bench/floor" \
  "$src/bench/floor.c" -lpthread || die "cannot build bench/floor.c statically"
with_libs "$BUILD/mxgpud"
nlibs=$(ldd "$BUILD/mxgpud" | grep -c '=>')
mv "$stage$BUILD/mxgpud" "$stage/bench/mxgpud"
cp "$here/vm-guest.sh" "$here/shell-bringup.sh" "$stage/bench/"
cp "$(command -v driverctl)" "$stage/bin/driverctl"
# driverctl runs /sbin/modprobe -q DRIVER unless /sys/module/DRIVER exists, which never matches
# vfio-pci (the module directory is vfio_pci); kmod's modprobe then finds the module loaded and
# exits 0. The guest has no kmod: this stand-in answers the same from /sys/module.
printf '#!/bin/sh\n[ -d "/sys/module/$(echo "${2:-$1}" | tr - _)" ]\n' >"$stage/sbin/modprobe"
chmod 755 "$stage/sbin/modprobe"
printf '[daemon]\nstate_dir = /run/mxgpu\nudev = no\n\n[device @PF@]\nvfs = @N@\npf_driver = keep\nvfio = yes\n' \
  >"$stage/bench/mxgpu.conf.in"
echo "$reps" >"$stage/bench/reps"
initrd=$work/initramfs.cpio
(cd "$stage" && find . | /bin/busybox cpio -o -H newc -R 0:0 2>/dev/null) >"$initrd" || die "cannot write $initrd"

# run_guest WHAT QEMULOG RESULTS: boots the command line qemu_cmdline set up and leaves the guest's
# "vmbench:" lines in $work/lines; dies unless the guest got to DONE without an error.
run_guest() {
  local what=$1 qlog=$2 results=$3 start=$SECONDS rc
  timeout -k 5 "$timeout_s" "${QEMU[@]}" >"$qlog" 2>&1
  rc=$?
  echo "vm-bench: $what ran for $((SECONDS - start)) s, qemu exit $rc" >&2
  tr -d '\r' <"$results" 2>/dev/null | grep -a '^vmbench: ' >"$work/lines" || true
  cat "$work/lines" >&2
  grep -q '^vmbench: DONE' "$work/lines" || die "$what stopped before DONE (qemu exit $rc; logs in $work)"
  grep -q '^vmbench: error' "$work/lines" && die "$what: $(grep -m1 '^vmbench: error' "$work/lines")"
  return 0
}

# median (min-max) of each contender, ratios to the floor
med() { grep "^vmbench: $1 " "$work/lines" | awk '{ print $3 }' | sort -n |
  awk '{ a[NR] = $1 } END { if (NR) printf "%d %d %d\n", a[int((NR + 1) / 2)], a[1], a[NR] }'; }

# busybox_rows PFS VFS_PER_PF: boots the busybox guest with PFS NVMe PFs (PF 0 from qemu_cmdline, the
# others on root ports rp1...) of VFS_PER_PF VFs each and prints its rows; one PF keeps the row names
# of the single-PF runs, several name the PF count.
busybox_rows() {
  local npfs=$1 per=$2 i extra=() tag='' what cfg="[device]"
  for ((i = 1; i < npfs; i++)); do mapfile -t -O "${#extra[@]}" extra < <(nvme_sriov_pf "$i" "$per"); done
  what="$((npfs * per)) NVMe VFs"
  [ "$npfs" -gt 1 ] && tag=-${npfs}pf what="$npfs PFs x $per NVMe VFs" cfg="[device] per PF"
  local console_log=$work/console$tag.log results_log=$work/results$tag.log
  rm -f "$console_log" "$results_log"
  nvfs=$per QEMU_MEM=${QEMU_MEM:-1G} qemu_cmdline "$kdir/vmlinux" "$initrd" \
    "console=ttyS0 intel_iommu=on panic=-1 loglevel=4 rdinit=/init" "$console_log" "$results_log" "${extra[@]}"
  echo "vm-bench: booting $(basename "$kdir") with $what, $reps runs per contender ($(du -k "$initrd" | cut -f1) KiB initramfs)" >&2
  run_guest "the guest with $what" "$work/qemu$tag.log" "$results_log"
  grep -q "^vmbench: $npfs PF(s): " "$work/lines" || die "the guest with $what did not find $npfs PF(s) (logs in $work)"
  local accel f flo fhi mx mlo mhi c m lo hi st stlo sthi name
  accel=$(printf '%s\n' "${QEMU[@]}" | grep -A0 -x -e tcg -e kvm | head -n 1)
  read -r f flo fhi < <(med floor)
  [ -n "${f:-}" ] || die "no floor figure"
  printf '%s\t%s\t%s\t%s\n' "real kernel (QEMU ${accel:-?}), $what: floor" "${f} ms (${flo}-${fhi})" "-" "-"
  read -r mx mlo mhi < <(med mxgpud)
  printf '%s\t%s\t%s\t%s\n' "real kernel, $what: mxgpud --once ($cfg)" "${mx} ms (${mlo}-${mhi}) = $(awk -v a="$mx" -v b="$f" 'BEGIN { printf "%.2f", a / b }')x floor" \
    "<= 1.10x floor" "$(awk -v a="$mx" -v b="$f" 'BEGIN { print (a <= 1.10 * b) ? "met" : "MISSED" }')"
  # One run with --log-level debug: the same profile row as on the simulator.
  local pms prof
  pms=$(awk '$2 == "profile-ms" { print $3 }' "$work/lines")
  if [ -n "$pms" ] && prof=$(sed -n 's/^vmbench: plog //p' "$work/lines" | "$here/profile.sh" "$pms"); then
    printf '%s\t%s\t%s\t%s\n' "real kernel, $what: mxgpud --once, where the time goes (one run with --log-level debug: $pms ms)" "$prof" "-" "-"
  else
    printf '%s\t%s\t%s\t%s\n' "real kernel, $what: mxgpud --once, where the time goes" "no profile (the debug run logged no cycle line)" "-" "-"
  fi
  for c in shell driverctl; do
    read -r m lo hi < <(med $c)
    name="shell loop (echo)"; [ $c = driverctl ] && name="shell + driverctl set-override"
    printf '%s\t%s\t%s\t%s\n' "real kernel, $what: $name" "${m} ms (${lo}-${hi}) = $(awk -v a="$m" -v b="$f" 'BEGIN { printf "%.2f", a / b }')x floor" \
      "mxgpud >= 5x faster" "$(awk -v s="$m" -v d="$mx" -v f="$f" 'BEGIN { printf "%.1fx: %s", s / d, (s >= 5 * d) ? "met" : "MISSED"
        # out of reach when the floor itself is not 5x faster: no program doing the same writes can be
        if (s < 5 * d && s < 5 * f) printf " (out of reach here: the floor itself is %.1fx faster)", s / f }')"
  done
  # The kernel's enable alone: "median (range)" of each of enable_par, enable_seq, one_par, one_seq.
  local -A en
  for c in enable_par enable_seq one_par one_seq; do
    read -r m lo hi < <(med $c)
    en[$c]="${m:-?} ms (${lo:-?}-${hi:-?})"
  done
  if [ "$npfs" -gt 1 ]; then
    printf '%s\t%s\t%s\t%s\n' "real kernel, $what: the kernel's enable alone (floor --no-bind), PFs at once / one after another" \
      "all VFs: ${en[enable_par]} / ${en[enable_seq]}; 1 VF per PF: ${en[one_par]} / ${en[one_seq]}" "-" "-"
  else
    printf '%s\t%s\t%s\t%s\n' "real kernel, $what: the kernel's enable alone (floor --no-bind)" \
      "all VFs: ${en[enable_par]}; 1 VF: ${en[one_par]}" "-" "-"
  fi
  # Process start does not depend on the PFs: one row, from the single-PF boot.
  [ "$npfs" -gt 1 ] && return 0
  read -r st stlo sthi < <(med start)
  printf '%s\t%s\t%s\t%s\n' "real kernel: mxgpud --version (exec + loading its ${nlibs} libraries)" "${st} ms (${stlo}-${sthi})" "-" "-"
}

busybox_rows 1 "$nvfs"
[ "$npfs" -gt 1 ] && busybox_rows "$npfs" $((nvfs / npfs))

# --- the libvirt row: the systemd guest image of make check-vm (udev, libvirtd), cached in $cache ---
lv_what="real kernel + libvirtd (systemd guest), ${nvfs} NVMe VFs: virsh nodedev-detach per VF"
[ "${BENCH_VM_LIBVIRT:-1}" = 1 ] || exit 0
img=$(BUILD=$BUILD MXGPU_VM_CACHE=$cache "$src/tests/vm/run-boot-tests.sh" --image 2>&1)
rc=$?
read -r bkdir image < <(tail -n 1 <<<"$img")
if [ $rc -ne 0 ] || [ ! -f "${image:-}" ]; then
  die "no guest image for the virsh row: $(grep -m1 -e 'error:' -e 'skipped:' <<<"$img" | sed 's/^vm-boot: //')"
fi
lstage=$work/libvirt-initramfs
stage_boot_initramfs "$lstage" "$bkdir" /bin/busybox || die "cannot stage the initramfs in $lstage"
# The payload lands in the guest's /root/vmtest; the image has mxgpud's libraries (libvirt0 and the rest).
cp "$stage/bench/floor" "$stage/bench/mxgpud" "$stage/bench/mxgpu.conf.in" "$stage/bench/reps" \
  "$here/vm-libvirt-guest.sh" "$lstage/payload/" || die "cannot stage the libvirt payload"
cp "$here/vm-libvirt.service" "$lstage/payload/mxgpu-vmtest.service"
linitrd=$work/libvirt-initramfs.cpio
(cd "$lstage" && find . | /bin/busybox cpio -o -H newc -R 0:0 2>/dev/null) >"$linitrd" || die "cannot write $linitrd"
lconsole=$work/libvirt-console.log lresults=$work/libvirt-results.log
rm -f "$lconsole" "$lresults"
QEMU_MEM=1G qemu_cmdline "$bkdir/vmlinux" "$linitrd" \
  "console=ttyS0 intel_iommu=on panic=-1 loglevel=4 rdinit=/init systemd.show_status=1" "$lconsole" "$lresults" \
  -drive "file=$image,format=raw,if=virtio,snapshot=on"
echo "vm-bench: booting the systemd guest ($(basename "$(dirname "$image")")) with $nvfs VFs, $reps runs of floor, mxgpud, virsh" >&2
run_guest "the systemd guest" "$work/libvirt-qemu.log" "$lresults"
read -r lf _ < <(med floor)
read -r lm _ < <(med mxgpud)
read -r v vlo vhi < <(med virsh)
read -r vw _ < <(med virsh-wait)
[ -n "${lf:-}" ] && [ -n "${lm:-}" ] && [ -n "${v:-}" ] || die "libvirt guest: no figures"
printf '%s\t%s\t%s\t%s\n' "$lv_what" \
  "${v} ms (${vlo}-${vhi}) = $(awk -v a="$v" -v b="$lf" 'BEGIN { printf "%.2f", a / b }')x floor; same boot: floor ${lf} ms, mxgpud ${lm} ms; of the ${v} ms, ${vw} ms wait for libvirt's node devices" \
  "mxgpud >= 5x faster" "$(awk -v s="$v" -v d="$lm" 'BEGIN { printf "%.1fx: %s", s / d, (s >= 5 * d) ? "met" : "MISSED" }')"
