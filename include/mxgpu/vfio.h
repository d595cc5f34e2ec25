/* SPDX-License-Identifier: MIT */
/* Driver binding of PCI functions: VFs to vfio-pci (as libvirt's virpci.c does), the PF to its stub driver,
 * VFIO group use, function reset. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mxgpu/sriov.h"

/* How long vfio_bind() waits for /dev/vfio/<group> after the driver bound (devtmpfs/udev create it). */
#define VFIO_NODE_TIMEOUT_MS 1000

/* Bind a VF to vfio-pci: driver_override, unbind from the current driver, drivers_probe, then check.
 * Returns 1 when it was already bound to vfio-pci (nothing written), 0 when this call bound it, or:
 *   -ENODEV     the function does not exist (or vanished during the bind)
 *   -ENXIO      the function has no IOMMU group (IOMMU off or not enabled on the command line)
 *   -EBUSY      after drivers_probe another driver holds it
 *   -ENOPKG     no driver bound and the vfio-pci driver is not loaded (no sys/bus/pci/drivers/vfio-pci)
 *   -EIO        no driver bound although vfio-pci is loaded (its probe refused the device)
 *   -ETIMEDOUT  bound, but dev/vfio/<group> did not appear within VFIO_NODE_TIMEOUT_MS
 *   any other   the kernel's errno of a write, unchanged (driver_override, unbind, drivers_probe) */
int vfio_bind(const char *vf_bdf);
/* vfio_bind() in two halves, for many VFs of one PF at once. vfio_bind_start() only writes: driver_override,
 * then drivers_probe, through the VF's directory from sriov_open_vf(). It reads nothing first: a VF that
 * another driver holds stays with it (the probe does nothing), and a VF without an IOMMU group stays
 * unbound. Returns 0 or a write's -errno. vfio_bind_outcome() then judges the VF from a listing made
 * after all the writes: 0, -ENXIO (no IOMMU group), -EBUSY (another driver holds it: vfio_bind() takes
 * it over), -EIO, -ENOPKG or -ETIMEDOUT as vfio_bind() (it waits for the /dev/vfio node). A PF's binds
 * need no reads of their own this way: the listing that verifies them is the check. Both are safe to
 * call from several threads. */
int vfio_bind_start(int vf_dfd, const char *vf_bdf);
/* The groups that have a node in /dev/vfio, from one read of the directory (not a stat per group). */
struct vfio_nodes {
        uint32_t *groups; /* sorted */
        size_t n;
};
int vfio_nodes_read(struct vfio_nodes *ret);
bool vfio_nodes_has(const struct vfio_nodes *nodes, int group);
void vfio_nodes_free(struct vfio_nodes *nodes);
/* The functions bound to vfio-pci, from one read of its driver folder (not a driver link per function). */
struct vfio_bound {
        uint32_t *keys; /* sorted: domain << 16 | bus << 8 | devfn */
        size_t n;
};
int vfio_bound_read(struct vfio_bound *ret);
bool vfio_bound_has(const struct vfio_bound *bound, const char *bdf);
void vfio_bound_free(struct vfio_bound *bound);
/* `seen` (may be NULL): a vfio_nodes_read() made after the writes; a node listed there needs no wait. */
int vfio_bind_outcome(const struct vf_ref *now, const struct vfio_nodes *seen);
/* Undo vfio_bind(): clear driver_override, then unbind from whatever driver holds the function.
 * The function stays unbound (VFs are created with autoprobe off). Returns 0 or -errno. */
int vfio_unbind(const char *vf_bdf);

/* Bind a function to `driver` (the PF to pci-pf-stub): driver_override, unbind, drivers_probe.
 * Returns 1 when it was already bound to that driver, 0 when bound now, or -errno as vfio_bind()
 * (-ENOPKG when the driver is not loaded, -EBUSY when another driver took it, -EIO when its probe
 * refused the device). */
int pf_bind_driver(const char *pf_bdf, const char *driver);

/* Whether another process holds VFIO group `group` open: 1 in use, 0 free, -ENOENT no such node,
 * other -errno. Looks at every process's open files (/proc/PID/fd), never opens the group itself. */
int vfio_group_in_use(int group);
/* The same for n groups in one pass over /proc: ret_held[i] for groups[i]. Returns 0 or -errno. */
int vfio_groups_held(const int *groups, size_t n, bool *ret_held);
/* The process that holds VFIO group `group` open (another one than us): its pid, 0 when none, or
 * -errno. For naming the holder in a refusal. */
pid_t vfio_group_holder(int group);
/* Between begin and end, vfio_groups_held() on this thread scans /proc once and answers every later
 * call from that scan: for one reply that looks at many PFs (List), never across decisions. */
void vfio_scan_batch_begin(void);
void vfio_scan_batch_end(void);

/* Function-level reset through sysfs (echo 1 > reset). Returns 0 or the kernel's -errno
 * (-ENOENT: the function offers no reset method). */
int pci_function_reset(const char *bdf);
