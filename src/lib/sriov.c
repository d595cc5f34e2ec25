// SPDX-License-Identifier: MIT
// SR-IOV through sysfs: read and change a PF's VF count, autoprobe, and list its VFs via virtfnN links.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

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

int sriov_change_numvfs(const char *pf_bdf, unsigned n) {
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
                if (r < 0)
                        return r;
        }
        if (n != 0) {
                r = write_numvfs_at(d, n);
                if (r < 0)
                        return r;
        }
        return 1;
}

int sriov_list_vfs(const char *pf_bdf, struct vf_ref **ret, size_t *ret_n) {
        _cleanup_close_ int d = pcidev_open(pf_bdf);
        if (d < 0)
                return d;
        _cleanup_free_ struct vf_ref *vfs = NULL;
        size_t n = 0;
        for (unsigned i = 0;; i++) {
                char link[32], addr[PCI_ADDR_STRLEN + 8];
                snprintf(link, sizeof(link), LINK_VIRTFN_PREFIX "%u", i);
                /* readlink virtfnN: the walk ends at the first missing link */
                int r = sysfs_link_at(d, link, addr, sizeof(addr));
                if (r == -ENOENT)
                        break;
                if (r < 0)
                        return r;
                struct pci_addr a;
                if (pci_addr_parse(addr, &a) < 0)
                        return -EBADMSG;
                struct vf_ref *nv = reallocarray(vfs, n + 1, sizeof(*vfs));
                if (!nv)
                        return -ENOMEM;
                vfs = nv;
                struct vf_ref *v = &vfs[n++];
                *v = (struct vf_ref){ .index = i, .iommu_group = -1 };
                pci_addr_format(&a, v->addr);

                /* The VF's own links, read relative to the PF's directory (virtfnN/driver): a VF
                 * that vanished in between reads as unbound, without a group. */
                char rel[64], buf[SRIOV_DRIVER_MAX];
                snprintf(rel, sizeof(rel), "%s/" LINK_DRIVER, link);
                r = sysfs_link_at(d, rel, buf, sizeof(buf));
                if (r >= 0)
                        snprintf(v->driver, sizeof(v->driver), "%s", buf);
                else if (r != -ENOENT)
                        return r;
                snprintf(rel, sizeof(rel), "%s/" LINK_IOMMU_GROUP, link);
                r = sysfs_link_at(d, rel, buf, sizeof(buf));
                if (r >= 0) {
                        char *end;
                        long g = strtol(buf, &end, 10);
                        if (*end || g < 0 || g > 0x7fffffff)
                                return -EBADMSG;
                        v->iommu_group = (int)g;
                } else if (r != -ENOENT)
                        return r;
        }
        *ret_n = n;
        *ret = TAKE_PTR(vfs);
        return 0;
}
