/* SPDX-License-Identifier: MIT */
/* Rooted sysfs attribute I/O that hands the kernel's errno back unchanged (as a negative return). */
#pragma once

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

/* Open a PCI function's sysfs directory (root/sys/bus/pci/devices/<bdf>) as an O_DIRECTORY fd.
 * Attributes read and written through it cannot be redirected by a hot-unplug and re-use of the
 * address between calls. Returns the fd or -errno (-ENODEV when the function does not exist). */
int pcidev_open(const char *bdf);

/* Read an attribute below a directory fd into buf (NUL-terminated, trailing newline removed).
 * Returns the length or -errno. */
int sysfs_read_at(int dfd, const char *attr, char *buf, size_t size);
/* Write a value to an attribute below a directory fd in one write(2), as `echo -n` would.
 * Returns 0 or the kernel's -errno from open or write. */
int sysfs_write_at(int dfd, const char *attr, const char *value);
/* Read an unsigned number (decimal or 0x hex) from an attribute. */
int sysfs_read_u64_at(int dfd, const char *attr, uint64_t *ret);
/* The last component of a link's target (a driver name, an IOMMU group, a PF address).
 * Returns the length, or -ENOENT when there is no such link. */
int sysfs_link_at(int dfd, const char *link, char *buf, size_t size);
/* The function's IOMMU group (the number its iommu_group link names). Returns it, -ENOENT when the
 * function has none (IOMMU off), -EBADMSG when the link names no group number, or -errno. */
int sysfs_iommu_group_at(int dfd);

/* The same by PCI address, for one-off accesses. */
int pcidev_read(const char *bdf, const char *attr, char *buf, size_t size);
int pcidev_write(const char *bdf, const char *attr, const char *value);
int pcidev_read_u64(const char *bdf, const char *attr, uint64_t *ret);
int pcidev_link(const char *bdf, const char *link, char *buf, size_t size);
/* True when the function's directory exists. */
bool pcidev_exists(const char *bdf);

/* Write to a rooted path, e.g. root/sys/bus/pci/drivers/vfio-pci/bind. Returns 0 or -errno. */
int sysfs_write_path(const char *rooted_rel_path, const char *value);
int sysfs_read_path(const char *rooted_rel_path, char *buf, size_t size);

/* The kernel's errno as a short explanation of what it means for a sysfs write
 * (e.g. EBUSY on sriov_numvfs: "VFs are already enabled; the count changes only through 0"). */
const char *sysfs_errno_hint(const char *attr, int err);
