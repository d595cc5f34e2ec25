# SPDX-License-Identifier: MIT
# The one place the VM tests' QEMU command line is built. Sourced; uses nvfs (TotalVFs of the
# emulated PF) and MXGPU_VM_ACCEL. A reboot or panic of the guest ends QEMU (-no-reboot).

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
  local pf0
  mapfile -t pf0 < <(nvme_sriov_pf 0 "$nvfs")
  QEMU=(qemu-system-x86_64
    -machine q35,kernel-irqchip=split -accel "$accel" -cpu $cpu -smp 2 -m "${QEMU_MEM:-512M}"
    # vfio-pci needs an IOMMU in the guest (Debian's kernel has no no-IOMMU mode).
    -device intel-iommu,intremap=on
    # QEMU 7.2's nvme is the one emulated device with SR-IOV.
    "${pf0[@]}"
    -kernel "$kernel" -initrd "$initrd" -append "$append"
    -nographic -vga none -nic none -monitor none -serial "file:$console" -serial "file:$results"
    -no-reboot "$@")
}

# nvme_sriov_pf INDEX TOTALVFS -> the -device arguments (one a line) of SR-IOV NVMe PF number INDEX
# (0 = the one qemu_cmdline adds) on its own root port, rpINDEX, with its own subsystem.
nvme_sriov_pf() {
  printf '%s\n' -device "pcie-root-port,id=rp$1,chassis=$(($1 + 1)),slot=$(($1 + 1))" \
    -device "nvme-subsys,id=nvmes$1" -device "$(nvme_sriov_device "mxgpu$1" "nvmes$1" "rp$1" "$2")"
}

# nvme_sriov_device SERIAL SUBSYS BUS TOTALVFS -> the -device argument of an SR-IOV NVMe PF. Each VF
# needs flexible queues (2 per VF) and interrupts (1 per VF) from the PF's pool.
nvme_sriov_device() {
  local n=$4
  echo "nvme,serial=$1,subsys=$2,bus=$3,sriov_max_vfs=$n,sriov_vq_flexible=$((2 * n)),sriov_vi_flexible=$n,max_ioqpairs=$((2 * n + 2)),msix_qsize=$((n + 1))"
}
