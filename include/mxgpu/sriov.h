/* SPDX-License-Identifier: MIT */
/* A PF's SR-IOV state through the kernel's sysfs attributes (hardware.md 2): VF count, autoprobe, the VF list. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "mxgpu/pciaddr.h"

#define SRIOV_DRIVER_MAX 64

/* One VF of a PF, as found through the PF's virtfnN link. */
struct vf_ref {
        unsigned index;                 /* N in virtfnN */
        char addr[PCI_ADDR_STRLEN];
        char driver[SRIOV_DRIVER_MAX];  /* "" when no driver is bound */
        int iommu_group;                /* -1 when the VF has no IOMMU group (IOMMU off) */
};

/* sriov_numvfs, sriov_totalvfs and sriov_drivers_autoprobe of a PF. Any ret_ may be NULL.
 * Returns 0 or -errno (-ENODEV: no such function; -ENOENT: not an SR-IOV PF). */
int sriov_read(const char *pf_bdf, unsigned *ret_numvfs, unsigned *ret_totalvfs, bool *ret_autoprobe);
/* Write sriov_drivers_autoprobe (0 keeps new VFs unbound). Returns 0 or the kernel's -errno. */
int sriov_set_autoprobe(const char *pf_bdf, bool on);
/* One write of n to sriov_numvfs. Returns 0 or the kernel's -errno unchanged (EINVAL, ERANGE,
 * ENOENT, EBUSY, ENOMEM: see sysfs_errno_hint()). */
int sriov_set_numvfs(const char *pf_bdf, unsigned n);
/* Bring the VF count to n the way the kernel allows: nothing when it already is n, else through 0
 * (write 0, then n). Returns 0 when nothing changed, 1 when it changed, or -errno. *ret_disable_failed
 * (when not NULL) is always written: true when the write of 0 failed, so that the VFs there were are
 * still there (whatever n is, 0 included), false otherwise (the write of n failed after the write of 0,
 * leaving the PF with 0 VFs, or nothing was written). */
int sriov_change_numvfs(const char *pf_bdf, unsigned n, bool *ret_disable_failed);
/* virtfnN (N = index) of the PF whose directory pf_dfd is (pcidev_open()): the VF's own directory
 * (an O_PATH fd; the caller closes it) and its address into ret_addr, without reading anything else.
 * Returns the fd, -ENOENT when there is no virtfnN, or -errno. */
int sriov_open_vf(int pf_dfd, unsigned index, char ret_addr[static PCI_ADDR_STRLEN]);
/* The PF's VFs, by walking virtfn0 .. virtfn(sriov_numvfs - 1); a missing link (a VF removed on its
 * own) is skipped, so the indices may have holes. *ret is malloc'ed
 * (free() it; NULL with *ret_n = 0 when there are none). Returns 0 or -errno. */
int sriov_list_vfs(const char *pf_bdf, struct vf_ref **ret, size_t *ret_n);
/* sriov_list_vfs() without each VF's driver link (driver left ""): for a caller that learns the
 * drivers from the driver's side (vfio_bound_read()). */
int sriov_list_vfs_groups(const char *pf_bdf, struct vf_ref **ret, size_t *ret_n);
