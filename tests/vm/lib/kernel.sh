# SPDX-License-Identifier: MIT
# Debian's kernel for the VM tests: which package, and its unpacked cache entry (vmlinux + modules).
# Sourced by tests/vm/run-*.sh and bench/vm-bench.sh. It uses nothing its callers set: it finds its
# helpers and the checkout from its own place (run-kernel-tests.sh fetches through a bare shell).
vm_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
vm_src=$(cd "$vm_lib/../../.." && pwd)

# Prints "<package>_<version>" of the newest kernel the metapackage points at, or nothing.
kernel_key() {
  local meta pkg ver
  meta=$("$vm_src/scripts/deps.sh" --download vm | head -n1)
  pkg=$(apt-cache depends "$meta" 2>/dev/null | sed -n 's/^  Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1)
  [ -n "$pkg" ] || return 0
  ver=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^  Candidate: //p')
  [ -n "$ver" ] && [ "$ver" != "(none)" ] && echo "${pkg}_$ver"
}

# module_order MODDIR NAME... -> the .ko paths (relative to MODDIR, which holds modules.dep) of
# the named modules and their dependencies, in load order (dependencies first).
module_order() {
  local mdir=$1 name line path deps i
  shift
  local -A seen=()
  local order=()
  for name in "$@"; do
    name=${name//-/_}
    line=$(awk -v n="$name" -F: '{ b = $1; sub(/.*\//, "", b); sub(/\.ko.*$/, "", b); gsub(/-/, "_", b)
                                   if (b == n) { print; exit } }' "$mdir/modules.dep")
    [ -n "$line" ] || { echo "vm: module $name not in $mdir/modules.dep" >&2; return 1; }
    path=${line%%:*}
    read -ra deps <<<"${line#*:}"
    # modules.dep lists the full closure, users before what they use: load it back to front.
    for ((i = ${#deps[@]} - 1; i >= 0; i--)); do
      [ -n "${seen[${deps[i]}]:-}" ] || { seen[${deps[i]}]=1; order+=("${deps[i]}"); }
    done
    [ -n "${seen[$path]:-}" ] || { seen[$path]=1; order+=("$path"); }
  done
  printf '%s\n' "${order[@]}"
}

# prepare_kernel DIR KEY MODULE... fills DIR (new) for package key KEY: vmlinux, release, and
# modules/ - the named modules with their dependencies at their lib/modules/<release> paths,
# with the full tree's modules.dep, modules.order and modules.builtin* - and modules.load
# (their load order). Returns 77 when the package cannot be downloaded, 1 with the failed step in
# PREPARE_ERROR otherwise.
prepare_kernel() {
  local dir=$1 key=$2 pkg=${2%%_*} ver=${2#*_} kver deb m f
  shift 2
  PREPARE_ERROR=
  mkdir -p "$dir"
  (cd "$dir" && apt-get download "$pkg=$ver") >"$dir/download.log" 2>&1 || {
    tail -n 3 "$dir/download.log" >&2
    return 77
  }
  deb=$(ls "$dir"/*.deb) && dpkg-deb -x "$deb" "$dir/root" || { PREPARE_ERROR="dpkg-deb -x $deb failed"; return 1; }
  kver=$(ls "$dir/root/lib/modules") && [ -d "$dir/root/lib/modules/$kver/kernel" ] ||
    { PREPARE_ERROR="$deb holds no lib/modules/RELEASE/kernel"; return 1; }
  "$vm_lib/extract-vmlinux" "$dir"/root/boot/vmlinuz-* "$dir/vmlinux" ||
    { PREPARE_ERROR="extract-vmlinux found no kernel image in $dir/root/boot/vmlinuz-*"; return 1; }
  # The package ships no modules.dep (depmod runs at install): make one inside the unpacked tree.
  /bin/busybox depmod -b "$dir/root" "$kver" || { PREPARE_ERROR="busybox depmod failed on $kver"; return 1; }
  local mdir=$dir/root/lib/modules/$kver
  local order
  order=$(module_order "$mdir" "$@") || { PREPARE_ERROR="a module is missing from $kver's modules.dep"; return 1; }
  for m in $order; do
    mkdir -p "$dir/modules/$(dirname "$m")" && cp "$mdir/$m" "$dir/modules/$m" ||
      { PREPARE_ERROR="cannot copy $m"; return 1; }
    echo "modules/$m" >>"$dir/modules.load"
  done
  for f in modules.dep modules.order modules.builtin modules.builtin.modinfo; do
    [ -f "$mdir/$f" ] && cp "$mdir/$f" "$dir/modules/"
  done
  echo "$kver" >"$dir/release"
  rm -rf "$dir/root" "$deb"
}

# cached_kernel CACHEDIR MODULE... -> sets KDIR, the cache entry (CACHEDIR/KEY) of the newest
# kernel, preparing it on first use; returns 77 (1 on errors) with the reason in KERNEL_ERROR.
cached_kernel() {
  local cache=$1 key kdir rc
  shift
  key=$(kernel_key)
  if [ -z "$key" ]; then
    # No package lists (offline, apt-get update never ran): use the newest kernel already cached.
    key=$(ls -t "$cache" 2>/dev/null | grep -v '\.tmp$' | head -n1)
    [ -n "$key" ] && [ -f "$cache/$key/.done" ] || {
      KERNEL_ERROR="apt-cache knows no linux-image-amd64 and nothing is cached: run apt-get update"
      return 77
    }
  fi
  kdir=$cache/$key
  if [ ! -f "$kdir/.done" ]; then
    echo "vm: fetching and unpacking $key into $kdir" >&2
    rm -rf "$kdir.tmp"
    prepare_kernel "$kdir.tmp" "$key" "$@"
    rc=$?
    case $rc in
    0) ;;
    77) rm -rf "$kdir.tmp"; KERNEL_ERROR="cannot apt-get download ${key%%_*}=${key#*_} (no Debian mirror reachable)"; return 77 ;;
    *) KERNEL_ERROR="could not prepare $key: ${PREPARE_ERROR:-see $kdir.tmp}"; return 1 ;;
    esac
    touch "$kdir.tmp/.done" && rm -rf "$kdir" && mv "$kdir.tmp" "$kdir"
  fi
  KDIR=$kdir
}

# Loaded by the boot initramfs to mount the check-vm image's root disk (virtio-blk, ext4; ext4 looks
# crc32c up).
VM_ROOT_MODULES=(crc32c_generic virtio_pci virtio_blk ext4)

# stage_boot_initramfs DIR KDIR BUSYBOX: the initramfs that boots the check-vm image: BUSYBOX,
# tests/vm/boot/init, the root disk's modules from KDIR in load order, and an empty DIR/payload for
# the run's own files (init installs them). Returns 1 when a copy fails.
stage_boot_initramfs() {
  local dir=$1 kdir=$2 bb=$3 m
  rm -rf "$dir" && mkdir -p "$dir"/{bin,proc,sys,dev,newroot,payload} || return 1
  cp "$bb" "$dir/bin/busybox" && cp "$vm_src/tests/vm/boot/init" "$dir/init" && chmod 755 "$dir/init" || return 1
  : >"$dir/modules.load"
  for m in $(module_order "$kdir/modules" "${VM_ROOT_MODULES[@]}"); do
    mkdir -p "$dir/modules/$(dirname "$m")" && cp "$kdir/modules/$m" "$dir/modules/$m" &&
      echo "modules/$m" >>"$dir/modules.load" || return 1
  done
}
