// SPDX-License-Identifier: MIT
// SR-IOV through sysfs: read and change a PF's VF count, autoprobe, and list its VFs via virtfnN links.
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mxgpu/macro.h"
#include "mxgpu/names.h"
#include "mxgpu/sriov.h"
#include "mxgpu/sysfs.h"

static int read_uint_at(int dfd, const char *attr, unsigned *ret) {
        uint64_t v;
        int r = sysfs_read_u64_at(dfd, attr, &v);
        if (r < 0)
                return r;
        if (v > 0xffff) /* no PF has more than 65535 VFs: the attribute is not what we think */
                return -EBADMSG;
        *ret = (unsigned)v;
        return 0;
}

int sriov_read(const char *pf_bdf, unsigned *ret_numvfs, unsigned *ret_totalvfs, bool *ret_autoprobe) {
        _cleanup_close_ int d = pcidev_open(pf_bdf);
        if (d < 0)
                return d;
        unsigned num, total, autoprobe;
        /* cat sriov_numvfs sriov_totalvfs sriov_drivers_autoprobe */
        int r = read_uint_at(d, ATTR_SRIOV_NUMVFS, &num);
        if (r < 0)
                return r;
        r = read_uint_at(d, ATTR_SRIOV_TOTALVFS, &total);
        if (r < 0)
                return r;
        r = read_uint_at(d, ATTR_SRIOV_AUTOPROBE, &autoprobe);
        if (r < 0)
                return r;
        if (ret_numvfs)
                *ret_numvfs = num;
        if (ret_totalvfs)
                *ret_totalvfs = total;
        if (ret_autoprobe)
                *ret_autoprobe = autoprobe != 0;
        return 0;
}

int sriov_set_autoprobe(const char *pf_bdf, bool on) {
        _cleanup_close_ int d = pcidev_open(pf_bdf);
        if (d < 0)
                return d;
        /* echo 0 > sriov_drivers_autoprobe */
        return sysfs_write_at(d, ATTR_SRIOV_AUTOPROBE, on ? "1" : "0");
}

static int write_numvfs_at(int dfd, unsigned n) {
        char v[16];
        snprintf(v, sizeof(v), "%u", n);
        /* echo n > sriov_numvfs */
        return sysfs_write_at(dfd, ATTR_SRIOV_NUMVFS, v);
}

int sriov_set_numvfs(const char *pf_bdf, unsigned n) {
        _cleanup_close_ int d = pcidev_open(pf_bdf);
        if (d < 0)
                return d;
        return write_numvfs_at(d, n);
}

int sriov_change_numvfs(const char *pf_bdf, unsigned n, bool *ret_disable_failed) {
        if (ret_disable_failed)
                *ret_disable_failed = false;
        /* One directory fd for the read and both writes: a hot-unplug and re-use of the address
         * in between cannot redirect the second write to another device. */
        _cleanup_close_ int d = pcidev_open(pf_bdf);
        if (d < 0)
                return d;
        unsigned cur;
        int r = read_uint_at(d, ATTR_SRIOV_NUMVFS, &cur);
        if (r < 0)
                return r;
        if (cur == n)
                return 0;
        /* The kernel changes a non-zero count only through 0 (EBUSY otherwise). */
        if (cur != 0) {
                r = write_numvfs_at(d, 0);
                if (r < 0) {
                        if (ret_disable_failed)
                                *ret_disable_failed = true;
                        return r;
                }
        }
        if (n != 0) {
                r = write_numvfs_at(d, n);
                if (r < 0)
                        return r;
        }
        return 1;
}

/* The address of the device whose directory fd is open: its directory's name, from the path the
 * kernel keeps for the fd (procfs; no read of sysfs). */
static int addr_of_dirfd(int fd, struct pci_addr *ret) {
        char fdpath[64], path[PATH_MAX];
        snprintf(fdpath, sizeof(fdpath), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(fdpath, path, sizeof(path) - 1);
        if (n <= 0)
                return -EIO;
        path[n] = 0;
        const char *slash = strrchr(path, '/');
        return pci_addr_parse(slash ? slash + 1 : path, ret) < 0 ? -EBADMSG : 0;
}

int sriov_open_vf(int pf_dfd, unsigned index, char ret_addr[static PCI_ADDR_STRLEN]) {
        char link[32];
        snprintf(link, sizeof(link), LINK_VIRTFN_PREFIX "%u", index);
        /* cd virtfnN */
        _cleanup_close_ int vd = openat(pf_dfd, link, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (vd < 0)
                return negative_errno();
        /* readlink virtfnN, or where /proc cannot tell, the link itself */
        struct pci_addr a;
        int r = addr_of_dirfd(vd, &a);
        if (r == -EIO) {
                char addr[PCI_ADDR_STRLEN + 8];
                r = sysfs_link_at(pf_dfd, link, addr, sizeof(addr));
                if (r >= 0 && pci_addr_parse(addr, &a) < 0)
                        r = -EBADMSG;
        }
        if (r < 0)
                return r;
        pci_addr_format(&a, ret_addr);
        return TAKE_FD(vd);
}

/* virtfnN's address, driver (unless !with_driver) and IOMMU group into *ret. Returns 0, -ENOENT (no
 * virtfnN) or -errno. */
static int read_vf(int pf_dfd, unsigned i, bool with_driver, struct vf_ref *ret) {
        struct vf_ref v = { .index = i, .iommu_group = -1 };
        _cleanup_close_ int vd = sriov_open_vf(pf_dfd, i, v.addr);
        if (vd < 0)
                return vd;
        /* readlink driver, iommu_group (through the VF's own directory): a VF that vanished in between
         * reads as unbound, without a group */
        int r;
        if (with_driver) {
                char buf[SRIOV_DRIVER_MAX];
                r = sysfs_link_at(vd, LINK_DRIVER, buf, sizeof(buf));
                if (r >= 0)
                        snprintf(v.driver, sizeof(v.driver), "%s", buf);
                else if (r != -ENOENT)
                        return r;
        }
        r = sysfs_iommu_group_at(vd);
        if (r >= 0)
                v.iommu_group = r;
        else if (r != -ENOENT)
                return r;
        *ret = v;
        return 0;
}

static int list_vfs(const char *pf_bdf, bool with_driver, struct vf_ref **ret, size_t *ret_n) {
        _cleanup_close_ int d = pcidev_open(pf_bdf);
        if (d < 0)
                return d;
        /* cat sriov_numvfs: the indices the kernel made; a VF removed on its own (echo 1 > remove)
         * leaves a hole, and the VFs after it are still there */
        unsigned num;
        int r = read_uint_at(d, ATTR_SRIOV_NUMVFS, &num);
        if (r < 0)
                return r;
        _cleanup_free_ struct vf_ref *vfs = NULL;
        size_t n = 0;
        for (unsigned i = 0; i < num; i++) {
                struct vf_ref v;
                r = read_vf(d, i, with_driver, &v);
                if (r == -ENOENT)
                        continue;
                if (r < 0)
                        return r;
                struct vf_ref *nv = reallocarray(vfs, n + 1, sizeof(*vfs));
                if (!nv)
                        return -ENOMEM;
                vfs = nv;
                vfs[n++] = v;
        }
        *ret_n = n;
        *ret = TAKE_PTR(vfs);
        return 0;
}

int sriov_list_vfs(const char *pf_bdf, struct vf_ref **ret, size_t *ret_n) {
        return list_vfs(pf_bdf, true, ret, ret_n);
}

int sriov_list_vfs_groups(const char *pf_bdf, struct vf_ref **ret, size_t *ret_n) {
        return list_vfs(pf_bdf, false, ret, ret_n);
}
