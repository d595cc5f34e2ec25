// SPDX-License-Identifier: MIT
// Rooted sysfs attribute reads and writes; the kernel's errno is returned untouched.
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mxgpu/macro.h"
#include "mxgpu/names.h"
#include "mxgpu/paths.h"
#include "mxgpu/sysfs.h"

int pcidev_open(const char *bdf) {
        char p[MX_PATH_MAX];
        int r = mx_pci_dev_path(p, sizeof(p), bdf, NULL);
        if (r < 0)
                return r;
        /* O_PATH: only a base for openat() and readlinkat(); it costs no open of the directory itself */
        int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? -ENODEV : negative_errno();
        return fd;
}

int sysfs_read_at(int dfd, const char *attr, char *buf, size_t size) {
        if (size == 0)
                return -EINVAL;
        _cleanup_close_ int fd = openat(dfd, attr, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        size_t len = 0;
        for (;;) {
                if (len + 1 >= size)
                        return -EFBIG;
                ssize_t n = read(fd, buf + len, size - 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t)n;
                /* sysfs renders an attribute in one go: a short read is its end (a round trip saved) */
                if ((size_t)n < size - 1 - (len - (size_t)n))
                        break;
        }
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
                len--;
        buf[len] = 0;
        return (int)len;
}

int sysfs_write_at(int dfd, const char *attr, const char *value) {
        _cleanup_close_ int fd = openat(dfd, attr, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        size_t len = strlen(value);
        ssize_t n;
        do
                n = write(fd, value, len);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        if ((size_t)n != len)
                return -EIO; /* sysfs stores take the whole buffer or fail */
        return 0;
}

int sysfs_read_u64_at(int dfd, const char *attr, uint64_t *ret) {
        char buf[64], *end;
        int r = sysfs_read_at(dfd, attr, buf, sizeof(buf));
        if (r < 0)
                return r;
        errno = 0;
        unsigned long long v = strtoull(buf, &end, 0);
        if (errno || end == buf || *end)
                return -EBADMSG;
        *ret = v;
        return 0;
}

int sysfs_link_at(int dfd, const char *link, char *buf, size_t size) {
        char target[PATH_MAX];
        ssize_t n = readlinkat(dfd, link, target, sizeof(target) - 1);
        if (n < 0)
                return negative_errno();
        target[n] = 0;
        const char *base = strrchr(target, '/');
        base = base ? base + 1 : target;
        size_t len = strlen(base);
        if (len + 1 > size)
                return -ENAMETOOLONG;
        memcpy(buf, base, len + 1);
        return (int)len;
}

int sysfs_iommu_group_at(int dfd) {
        char buf[32], *end;
        /* readlink iommu_group */
        int r = sysfs_link_at(dfd, LINK_IOMMU_GROUP, buf, sizeof(buf));
        if (r < 0)
                return r;
        long g = strtol(buf, &end, 10);
        if (*end || end == buf || g < 0 || g > INT_MAX)
                return -EBADMSG;
        return (int)g;
}

#define BY_ADDRESS(bdf, call)                       \
        ({                                          \
                _cleanup_close_ int _d = pcidev_open(bdf); \
                _d < 0 ? _d : (call);               \
        })

int pcidev_read(const char *bdf, const char *attr, char *buf, size_t size) {
        return BY_ADDRESS(bdf, sysfs_read_at(_d, attr, buf, size));
}
int pcidev_write(const char *bdf, const char *attr, const char *value) {
        return BY_ADDRESS(bdf, sysfs_write_at(_d, attr, value));
}
int pcidev_read_u64(const char *bdf, const char *attr, uint64_t *ret) {
        return BY_ADDRESS(bdf, sysfs_read_u64_at(_d, attr, ret));
}
int pcidev_link(const char *bdf, const char *link, char *buf, size_t size) {
        return BY_ADDRESS(bdf, sysfs_link_at(_d, link, buf, size));
}

bool pcidev_exists(const char *bdf) {
        _cleanup_close_ int d = pcidev_open(bdf);
        return d >= 0;
}

int sysfs_write_path(const char *rel, const char *value) {
        char p[MX_PATH_MAX];
        int r = mx_path(p, sizeof(p), "%s", rel);
        return r < 0 ? r : sysfs_write_at(AT_FDCWD, p, value);
}

int sysfs_read_path(const char *rel, char *buf, size_t size) {
        char p[MX_PATH_MAX];
        int r = mx_path(p, sizeof(p), "%s", rel);
        return r < 0 ? r : sysfs_read_at(AT_FDCWD, p, buf, size);
}

const char *sysfs_errno_hint(const char *attr, int err) {
        if (err < 0)
                err = -err;
        if (attr && streq(attr, ATTR_SRIOV_NUMVFS)) {
                switch (err) {
                case EINVAL: return "the value is not a number the kernel accepts";
                case ERANGE: return "more VFs than the card's sriov_totalvfs";
                case ENOENT: return "no driver with SR-IOV support is bound to the PF (bind pci-pf-stub first)";
                case EBUSY:  return "VFs are already enabled; the kernel changes the count only through 0";
                case ENOMEM: return "no MMIO room for the VF BARs: enable \"Above 4G decoding\" in the firmware";
                case EPERM: case EACCES: return "permission denied: run as root";
                }
        }
        switch (err) {
        case ENODEV: return "the device or driver is gone";
        case EBUSY:  return "the device is busy";
        case EIO:    return "the device did not respond";
        case ENOENT: return "no such attribute or driver";
        case EEXIST: return "already bound";
        }
        return NULL;
}
