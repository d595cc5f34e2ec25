/* SPDX-License-Identifier: MIT */
/* Every sysfs path, attribute, environment variable and default path name mxgpu uses, in one place. */
#pragma once

/* Paths below the root (see paths.h); the root is "" on a real host. */
#define SYS_PCI_DEVICES        "/sys/bus/pci/devices"
#define SYS_PCI_DRIVERS        "/sys/bus/pci/drivers"
#define SYS_PCI_DRIVERS_PROBE  "/sys/bus/pci/drivers_probe"
#define SYS_PCI_RESCAN         "/sys/bus/pci/rescan"
#define SYS_IOMMU_GROUPS       "/sys/kernel/iommu_groups"
#define SYS_MODULE             "/sys/module"
#define SYS_BUS_PCI            "/sys/bus/pci"          /* libpci's sysfs.path */
#define DEV_VFIO               "/dev/vfio"
#define DEV_VFIO_CONTAINER     "/dev/vfio/vfio"

/* Attributes of a PCI function directory. */
#define ATTR_VENDOR            "vendor"
#define ATTR_DEVICE            "device"
#define ATTR_CLASS             "class"
#define ATTR_SUBSYS_VENDOR     "subsystem_vendor"
#define ATTR_SUBSYS_DEVICE     "subsystem_device"
#define ATTR_CONFIG            "config"
#define ATTR_RESOURCE          "resource"
#define ATTR_IRQ               "irq"
#define ATTR_NUMA_NODE         "numa_node"
#define ATTR_DRIVER_OVERRIDE   "driver_override"
#define ATTR_SRIOV_TOTALVFS    "sriov_totalvfs"
#define ATTR_SRIOV_NUMVFS      "sriov_numvfs"
#define ATTR_SRIOV_AUTOPROBE   "sriov_drivers_autoprobe"
#define ATTR_SRIOV_OFFSET      "sriov_offset"
#define ATTR_SRIOV_STRIDE      "sriov_stride"
#define ATTR_SRIOV_VF_DEVICE   "sriov_vf_device"
#define ATTR_RESET             "reset"
#define ATTR_REMOVE            "remove"
#define LINK_DRIVER            "driver"
#define LINK_PHYSFN            "physfn"
#define LINK_VIRTFN_PREFIX     "virtfn"
#define LINK_IOMMU_GROUP       "iommu_group"
#define LINK_SUBSYSTEM         "subsystem"

/* Driver directory attributes. */
#define ATTR_BIND              "bind"
#define ATTR_UNBIND            "unbind"
#define ATTR_NEW_ID            "new_id"

/* Driver names. */
#define DRV_VFIO_PCI           "vfio-pci"
#define DRV_PCI_PF_STUB        "pci-pf-stub"
#define DRV_AMDGPU             "amdgpu"
#define DRV_GIM                "gim"
#define DRV_NVME               "nvme"

/* Environment. */
#define ENV_ROOT               "MXGPU_ROOT"        /* same as --root */
#define ENV_SOCKET             "MXGPU_SOCKET"      /* same as --socket */
#define ENV_LOG_LEVEL          "MXGPU_LOG_LEVEL"   /* err, warning, notice, info, debug */
#define ENV_LIBVIRT_LIBRARY    "MXGPU_LIBVIRT_LIBRARY" /* the libvirt library mxgpud loads (tests); default libvirt.so.0 */

/* Defaults. */
#define DEFAULT_CONFIG         "/etc/mxgpu/mxgpu.conf"
#define DEFAULT_CONFIG_DIR     "/etc/mxgpu/mxgpu.conf.d"
#define DEFAULT_STATE_DIR      "/var/lib/mxgpu"
#define STATE_FILE             "state.json"         /* in the state directory */
#define LOCK_FILE              "mxgpud.lock"        /* in the state directory: one mxgpud per host */
#define DEFAULT_RUN_DIR        "/run/mxgpu"
#define DEFAULT_SOCKET         "/run/mxgpu/mxgpud.sock"
#define DEFAULT_LIBVIRT_URI    "qemu:///system"
#define LIBVIRT_SONAME         "libvirt.so.0"       /* loaded by mxgpud when it first connects */
#define LIBVIRT_SYSTEM_RUN_DIR "/run/libvirt"       /* the sockets of driver:///system URIs */

/* The simulator's control socket, inside its root. */
#define SIM_CONTROL_SOCKET     "mxgpu-sim.sock"
