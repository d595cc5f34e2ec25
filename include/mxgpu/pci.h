/* SPDX-License-Identifier: MIT */
/* Discovery of SR-IOV physical functions with libpci (sysfs backend, under the root of paths.h). */
#pragma once

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
