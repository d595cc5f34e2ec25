/* SPDX-License-Identifier: MIT */
/* Discovery of SR-IOV physical functions with libpci (sysfs backend, under the root of paths.h). */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mxgpu/cards.h"
#include "mxgpu/gpuiov.h"
#include "mxgpu/pciaddr.h"

#define PCI_DRIVER_NAME_MAX 64

/* One SR-IOV physical function, as discovery saw it. Plain data: an array of these is freed with free(). */
struct pci_pf {
        char addr[PCI_ADDR_STRLEN];           /* "0000:03:00.0" */
        uint16_t vendor, device;
        uint16_t class_id;                    /* base class << 8 | subclass (0x0380: display) */
        uint16_t subsys_vendor, subsys_device;
        int numa_node;                        /* -1 when unknown */
        int iommu_group;                      /* -1 when the PF has none (IOMMU off) */
        char driver[PCI_DRIVER_NAME_MAX];     /* "" when no driver is bound */
        /* From the SR-IOV capability in config space (hardware.md 2). */
        uint16_t sriov_cap;                   /* its config-space offset */
        uint16_t initial_vfs, total_vfs, num_vfs;
        uint16_t vf_offset, vf_stride, vf_device;
        uint64_t bar0_size;                   /* bytes, from the `resource` file */
        const struct mx_card *card;           /* NULL: not a known MxGPU card (generic SR-IOV device) */
        uint16_t gpuiov_cap;                  /* config offset of the GPU-IOV capability; 0 = none */
        enum gpuiov_layout layout;            /* the card's layout when it has the capability, else GPUIOV_NONE */
};

/* Every PF (a function with an SR-IOV capability and no physfn link) below the root. A device that
 * vanishes or cannot be read during the scan is skipped (see pci_pf_last_error()). *ret is malloc'ed
 * (NULL when none), sorted by address. Returns the number of skipped devices (>= 0) or -errno when
 * the bus itself cannot be scanned. */
int pci_pf_scan(struct pci_pf **ret, size_t *ret_n);
/* One PF by address (after a hotplug event). Returns 0, -EINVAL (bad address), -ENODEV (no such
 * function, or it vanished while being read), -ENOTSUP (not an SR-IOV PF: no capability, or a VF). */
int pci_pf_lookup(const char *bdf, struct pci_pf *ret);
/* libpci's last error or warning message in this thread ("" when none): for the caller's log line. */
const char *pci_pf_last_error(void);

/* One line of a function's sysfs `resource` file: start, end and the kernel's IORESOURCE_* flags. */
struct pci_resource {
        uint64_t start, end, flags;
};
#define PCI_RESOURCE_LINES    17
#define PCI_IOV_RESOURCE_FIRST 7   /* the kernel's PCI_IOV_RESOURCES: the VF BARs, lines 7..12 */
#define PCI_IOV_RESOURCES      6
#define PCI_BRIDGE_MEM_WINDOW  14  /* a bridge's memory window, then its prefetchable window */
#define PCI_BRIDGE_PREF_WINDOW 15
/* The lines of dir/resource (dir: a function's sysfs directory); 0 when unreadable. */
unsigned pci_read_resources(const char *dir, struct pci_resource res[static PCI_RESOURCE_LINES]);
/* The bridges above a function, nearest first: its directory's parents in /sys/devices (dir given
 * with the root, as mx_path() makes it). Returns how many were put into out. */
size_t pci_upstream_bridges(const char *dir, char out[][PATH_MAX], size_t max);

/* Room for a PF's VF BARs (hardware.md 1, 2: without "Above 4G decoding" the kernel's
 * pci_enable_sriov() fails with ENOMEM), from its IOV resources and the windows of the bridges above
 * it. The VF BARs of n VFs take n times each VF's share of every IOV resource, packed from the
 * resource's start (as the kernel assigns them); a bridge forwards what lies in its window. */
struct pci_vf_bar_room {
        unsigned total_vfs;                /* the count the IOV resources are sized for */
        unsigned fit;                      /* VFs whose BARs every bridge forwards (<= total_vfs) */
        uint64_t need;                     /* bytes of VF BARs for total_vfs VFs */
        uint64_t per_vf;                   /* bytes of VF BARs per VF */
        uint64_t forwarded;                /* bytes of them the narrowest bridge forwards (fit < total_vfs) */
        char bridge[PCI_ADDR_STRLEN];      /* that bridge ("" when all fit) */
        int unassigned;                    /* an IOV resource the firmware gave no address, or -1 */
        bool below_4g;                     /* a VF BAR of 256 MiB or more sits below 4 GiB */
};
/* Returns 0, -ENOENT when the resource file lists no VF BARs (nothing to check), or -errno. */
int pci_vf_bar_room(const char *pf_bdf, unsigned total_vfs, struct pci_vf_bar_room *ret);
