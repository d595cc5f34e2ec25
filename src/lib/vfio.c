// SPDX-License-Identifier: MIT
// Binding PCI functions to drivers the way libvirt's virpci.c does, each step with its shell equivalent.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "mxgpu/clock.h"
#include "mxgpu/macro.h"
#include "mxgpu/names.h"
#include "mxgpu/paths.h"
#include "mxgpu/sysfs.h"
#include "mxgpu/vfio.h"

#define DRIVER_NAME_MAX 64

/* The bound driver's name into buf, "" when none. */
static int current_driver_at(int dfd, char *buf, size_t size) {
        int r = sysfs_link_at(dfd, LINK_DRIVER, buf, size);
        if (r == -ENOENT) {
                buf[0] = 0;
                return 0;
        }
        return r < 0 ? r : 0;
}

static bool driver_loaded(const char *driver) {
        char p[MX_PATH_MAX];
        struct stat st;
        return mx_path(p, sizeof(p), SYS_PCI_DRIVERS "/%s", driver) >= 0 && stat(p, &st) == 0;
}

/* driver_override + unbind + drivers_probe. `bound` is the driver the function has now ("" for none).
 * Returns 1 when already bound to `driver`, 0 when written, -errno otherwise. */
static int bind_write(int dfd, const char *bdf, const char *bound, const char *driver) {
        if (streq(bound, driver))
                return 1;

        /* echo vfio-pci > /sys/bus/pci/devices/$bdf/driver_override */
        int r = sysfs_write_at(dfd, ATTR_DRIVER_OVERRIDE, driver);
        if (r < 0)
                return r;

        /* echo $bdf > /sys/bus/pci/devices/$bdf/driver/unbind; written through the device's own
         * directory so the unbind reaches the driver that holds this device. */
        if (bound[0]) {
                r = sysfs_write_at(dfd, LINK_DRIVER "/" ATTR_UNBIND, bdf);
                if (r < 0 && r != -ENOENT) /* ENOENT: the driver let go in between */
                        return r;
        }

        /* echo $bdf > /sys/bus/pci/drivers_probe: the kernel picks the override's driver */
        return sysfs_write_path(SYS_PCI_DRIVERS_PROBE, bdf);
}

/* After the writes: the driver now bound (`cur`, "" for none) against the one asked for. A failed
 * probe does not fail the drivers_probe write. */
static int bind_judge(const char *cur, const char *driver) {
        if (streq(cur, driver))
                return 0;
        if (cur[0])
                return -EBUSY;
        return driver_loaded(driver) ? -EIO : -ENOPKG;
}

/* bind_write(), then the driver link read back and judged. */
static int bind_to(int dfd, const char *bdf, const char *bound, const char *driver) {
        int r = bind_write(dfd, bdf, bound, driver);
        if (r != 0)
                return r;
        /* readlink /sys/bus/pci/devices/$bdf/driver */
        char cur[DRIVER_NAME_MAX];
        r = current_driver_at(dfd, cur, sizeof(cur));
        return r < 0 ? r : bind_judge(cur, driver);
}

static int iommu_group_at(int dfd) {
        int g = sysfs_iommu_group_at(dfd);
        return g == -ENOENT ? -ENXIO : g;
}

/* Wait until dev/vfio/<group> exists: devtmpfs (or udev) creates it shortly after the bind. */
static int wait_vfio_node(int group) {
        char p[MX_PATH_MAX];
        int r = mx_path(p, sizeof(p), DEV_VFIO "/%d", group);
        if (r < 0)
                return r;
        uint64_t deadline = mx_now_msec() + VFIO_NODE_TIMEOUT_MS;
        for (unsigned delay_us = 50;; delay_us = MIN(delay_us * 2, 10000u)) {
                struct stat st;
                /* test -e /dev/vfio/$group */
                if (stat(p, &st) == 0)
                        return 0;
                if (errno != ENOENT)
                        return negative_errno();
                if (mx_now_msec() >= deadline)
                        return -ETIMEDOUT;
                struct timespec ts = { 0, (long)delay_us * 1000 };
                nanosleep(&ts, NULL);
        }
}

int vfio_bind(const char *vf_bdf) {
        _cleanup_close_ int d = pcidev_open(vf_bdf);
        if (d < 0)
                return d;
        /* Without an IOMMU group vfio-pci's probe fails silently: say so before writing anything. */
        int group = iommu_group_at(d);
        if (group < 0)
                return group;
        char cur[DRIVER_NAME_MAX];
        int r = current_driver_at(d, cur, sizeof(cur));
        if (r >= 0)
                r = bind_to(d, vf_bdf, cur, DRV_VFIO_PCI);
        if (r < 0)
                return r;
        int k = wait_vfio_node(group);
        return k < 0 ? k : r;
}

int vfio_bind_start(int vf_dfd, const char *vf_bdf) {
        /* echo vfio-pci > driver_override; echo $bdf > /sys/bus/pci/drivers_probe */
        int r = sysfs_write_at(vf_dfd, ATTR_DRIVER_OVERRIDE, DRV_VFIO_PCI);
        return r < 0 ? r : sysfs_write_path(SYS_PCI_DRIVERS_PROBE, vf_bdf);
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
        return (x > y) - (x < y);
}

/* The names in the folder rel (below the root) that key_of() turns into a number, sorted: one read
 * of the folder; a missing folder has none. */
static int read_keys(const char *rel, bool (*key_of)(const char *name, uint32_t *ret), uint32_t **ret, size_t *ret_n) {
        char p[MX_PATH_MAX];
        int r = mx_path(p, sizeof(p), "%s", rel);
        if (r < 0)
                return r;
        _cleanup_free_ uint32_t *keys = NULL;
        size_t n = 0, size = 0;
        _cleanup_closedir_ DIR *d = opendir(p);
        if (!d && errno != ENOENT)
                return negative_errno();
        for (struct dirent *de; d && (de = readdir(d));) {
                uint32_t key;
                if (!key_of(de->d_name, &key))
                        continue;
                if (n == size) {
                        size = size ? 2 * size : 64;
                        uint32_t *more = reallocarray(keys, size, sizeof(*keys));
                        if (!more)
                                return -ENOMEM;
                        keys = more;
                }
                keys[n++] = key;
        }
        if (n > 1)
                qsort(keys, n, sizeof(*keys), cmp_u32);
        *ret = TAKE_PTR(keys);
        *ret_n = n;
        return 0;
}

static bool has_key(const uint32_t *keys, size_t n, uint32_t key) {
        return n && bsearch(&key, keys, n, sizeof(key), cmp_u32);
}

/* A group node's name: its number. Not ".", "..", "vfio" (the container) or "devices" (iommufd). */
static bool group_key(const char *name, uint32_t *ret) {
        char *end;
        long g = strtol(name, &end, 10);
        if (*end || end == name || g < 0 || g > INT_MAX)
                return false;
        *ret = (uint32_t)g;
        return true;
}

int vfio_nodes_read(struct vfio_nodes *ret) {
        /* ls /dev/vfio */
        return read_keys(DEV_VFIO, group_key, &ret->groups, &ret->n);
}

bool vfio_nodes_has(const struct vfio_nodes *nodes, int group) {
        return nodes && group >= 0 && has_key(nodes->groups, nodes->n, (uint32_t)group);
}

void vfio_nodes_free(struct vfio_nodes *nodes) {
        free(nodes->groups);
        *nodes = (struct vfio_nodes){};
}

/* A bound function's link name: its address, as one sortable number (domain, then routing ID). Not
 * ".", "..", bind, unbind, new_id, module, ... */
static bool addr_key(const char *name, uint32_t *ret) {
        struct pci_addr a;
        if (pci_addr_parse(name, &a) < 0)
                return false;
        *ret = (uint32_t)a.domain << 16 | pci_addr_rid(&a);
        return true;
}

int vfio_bound_read(struct vfio_bound *ret) {
        /* ls /sys/bus/pci/drivers/vfio-pci: a link per bound function, named by its address */
        return read_keys(SYS_PCI_DRIVERS "/" DRV_VFIO_PCI, addr_key, &ret->keys, &ret->n);
}

bool vfio_bound_has(const struct vfio_bound *bound, const char *bdf) {
        uint32_t key;
        return addr_key(bdf, &key) && has_key(bound->keys, bound->n, key);
}

void vfio_bound_free(struct vfio_bound *bound) {
        free(bound->keys);
        *bound = (struct vfio_bound){};
}

int vfio_bind_outcome(const struct vf_ref *now, const struct vfio_nodes *seen) {
        int r = bind_judge(now->driver, DRV_VFIO_PCI);
        /* No IOMMU group: that is the reason, unless another driver holds the VF */
        if (now->iommu_group < 0 && r != -EBUSY)
                return -ENXIO;
        if (r < 0)
                return r;
        return vfio_nodes_has(seen, now->iommu_group) ? 0 : wait_vfio_node(now->iommu_group);
}

int vfio_unbind(const char *vf_bdf) {
        _cleanup_close_ int d = pcidev_open(vf_bdf);
        if (d < 0)
                return d;
        /* echo > /sys/bus/pci/devices/$bdf/driver_override (a lone newline clears it) */
        int r = sysfs_write_at(d, ATTR_DRIVER_OVERRIDE, "\n");
        if (r < 0)
                return r;
        char cur[DRIVER_NAME_MAX];
        r = current_driver_at(d, cur, sizeof(cur));
        if (r < 0 || !cur[0])
                return r;
        /* echo $bdf > /sys/bus/pci/devices/$bdf/driver/unbind */
        r = sysfs_write_at(d, LINK_DRIVER "/" ATTR_UNBIND, vf_bdf);
        return r == -ENOENT ? 0 : r; /* ENOENT: already unbound in between */
}

int pf_bind_driver(const char *pf_bdf, const char *driver) {
        if (!driver || !*driver || strchr(driver, '/'))
                return -EINVAL;
        _cleanup_close_ int d = pcidev_open(pf_bdf);
        if (d < 0)
                return d;
        char cur[DRIVER_NAME_MAX];
        int r = current_driver_at(d, cur, sizeof(cur));
        if (r < 0)
                return r;
        return bind_to(d, pf_bdf, cur, driver);
}

struct held_groups {
        int *group;
        pid_t *pid;
        size_t n, size;
};

static int held_add(struct held_groups *h, int group, pid_t pid) {
        if (h->n == h->size) {
                size_t size = h->size ? 2 * h->size : 16;
                int *more = reallocarray(h->group, size, sizeof(int));
                if (!more)
                        return -ENOMEM;
                h->group = more;
                pid_t *more_pids = reallocarray(h->pid, size, sizeof(pid_t));
                if (!more_pids)
                        return -ENOMEM;
                h->pid = more_pids;
                h->size = size;
        }
        h->pid[h->n] = pid;
        h->group[h->n++] = group;
        return 0;
}

/* The groups one process holds (its /proc entry `name` below proc_fd), added to h. Its fd directory
 * is read with getdents64() into a stack buffer: opendir() would add an fstat() and a heap buffer
 * per process, and every List looks at every process (docs/performance.md). */
static int scan_process(int proc_fd, const char *name, pid_t pid, const char *want, size_t prefix,
                        struct held_groups *h) {
        char path[sizeof(((struct dirent *)NULL)->d_name) + 4];
        size_t n_name = strlen(name);
        memcpy(path, name, n_name);
        memcpy(path + n_name, "/fd", 4);
        _cleanup_close_ int fd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return 0; /* gone, or not ours to see */
        char buf[8192] __attribute__((aligned(8)));
        for (;;) {
                ssize_t n = getdents64(fd, buf, sizeof(buf));
                if (n <= 0)
                        return 0; /* the end, or gone meanwhile */
                for (ssize_t off = 0; off < n;) {
                        const struct dirent64 *e = (const struct dirent64 *)(buf + off);
                        off += e->d_reclen;
                        if (e->d_name[0] == '.')
                                continue; /* "." and "..": not fds */
                        char link[MX_PATH_MAX];
                        ssize_t len = readlinkat(fd, e->d_name, link, sizeof(link) - 1);
                        /* The kernel checks access per process (ptrace_may_access), not per fd: one
                         * refusal means every fd of this process is refused, so skip the rest of them. */
                        if (len < 0 && (errno == EACCES || errno == EPERM))
                                return 0;
                        if (len <= (ssize_t)prefix)
                                continue;
                        link[len] = 0;
                        if (strncmp(link, want, prefix) != 0)
                                continue;
                        uint32_t g;
                        if (!group_key(link + prefix, &g))
                                continue;
                        int r = held_add(h, (int)g, pid);
                        if (r < 0)
                                return r;
                }
        }
}

/* Linux 6.2 and later give the number of open files as the size of /proc/PID/fd (0 before): one
 * stat then tells a process with no files (most are kernel threads) without reading its fd folder.
 * Known from our own /proc/self/fd, which is never empty. */
static bool fd_dir_counts(void) {
        static int counts = -1; /* List and the PF threads may ask at once: same answer, atomically */
        int c = __atomic_load_n(&counts, __ATOMIC_RELAXED);
        if (c < 0) {
                struct stat st;
                c = stat("/proc/self/fd", &st) == 0 && st.st_size > 0;
                __atomic_store_n(&counts, c, __ATOMIC_RELAXED);
        }
        return c;
}

static bool no_open_files(int proc_fd, const char *name) {
        char path[sizeof(((struct dirent *)NULL)->d_name) + 4];
        snprintf(path, sizeof(path), "%s/fd", name);
        struct stat st;
        return fstatat(proc_fd, path, &st, 0) == 0 && st.st_size == 0;
}

/* Every VFIO group some other process holds open: group numbers, and in *ret_pids (may be NULL)
 * the process that holds each. */
static int scan_held_groups(int **ret, pid_t **ret_pids, size_t *ret_n) {
        char want[MX_PATH_MAX];
        int r = mx_path(want, sizeof(want), DEV_VFIO "/");
        if (r < 0)
                return r;
        size_t prefix = (size_t)r;
        struct held_groups h = {};
        /* Look, do not touch: opening a group to test it would itself be a use (and could make a VM's
         * own open fail with EBUSY). Every process's open files name the groups it holds, as lsof shows. */
        _cleanup_closedir_ DIR *proc = opendir("/proc");
        if (!proc)
                return negative_errno();
        pid_t self = getpid();
        bool counts = fd_dir_counts();
        struct dirent *de;
        while ((de = readdir(proc))) {
                char *end;
                long pid = strtol(de->d_name, &end, 10);
                if (*end || pid <= 0 || pid == self)
                        continue;
                if (counts && no_open_files(dirfd(proc), de->d_name))
                        continue; /* a kernel thread, or a process between exec and its first open */
                r = scan_process(dirfd(proc), de->d_name, (pid_t)pid, want, prefix, &h);
                if (r < 0) {
                        free(h.group);
                        free(h.pid);
                        return r;
                }
        }
        *ret = h.group;
        if (ret_pids)
                *ret_pids = h.pid;
        else
                free(h.pid);
        *ret_n = h.n;
        return 0;
}

pid_t vfio_group_holder(int group) {
        _cleanup_free_ int *held = NULL;
        _cleanup_free_ pid_t *pids = NULL;
        size_t n = 0;
        int r = scan_held_groups(&held, &pids, &n);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (held[i] == group)
                        return pids[i];
        return 0;
}

/* A batch on this thread: the first lookup scans /proc, the others reuse that scan. */
static __thread struct {
        bool active, scanned;
        int *held;
        size_t n;
} batch;

void vfio_scan_batch_begin(void) {
        vfio_scan_batch_end();
        batch.active = true;
}

void vfio_scan_batch_end(void) {
        free(batch.held);
        batch.held = NULL;
        batch.n = 0;
        batch.active = batch.scanned = false;
}

int vfio_groups_held(const int *groups, size_t n, bool *ret_held) {
        _cleanup_free_ int *own = NULL;
        const int *held;
        size_t n_held;
        if (batch.active) {
                if (!batch.scanned) {
                        int r = scan_held_groups(&batch.held, NULL, &batch.n);
                        if (r < 0)
                                return r;
                        batch.scanned = true;
                }
                held = batch.held;
                n_held = batch.n;
        } else {
                int r = scan_held_groups(&own, NULL, &n_held);
                if (r < 0)
                        return r;
                held = own;
        }
        for (size_t i = 0; i < n; i++) {
                ret_held[i] = false;
                for (size_t k = 0; k < n_held; k++)
                        if (groups[i] == held[k])
                                ret_held[i] = true;
        }
        return 0;
}

int vfio_group_in_use(int group) {
        if (group < 0)
                return -EINVAL;
        char p[MX_PATH_MAX];
        int r = mx_path(p, sizeof(p), DEV_VFIO "/%d", group);
        if (r < 0)
                return r;
        if (access(p, F_OK) < 0)
                return negative_errno();
        bool held;
        r = vfio_groups_held(&group, 1, &held);
        return r < 0 ? r : held;
}

int pci_function_reset(const char *bdf) {
        _cleanup_close_ int d = pcidev_open(bdf);
        if (d < 0)
                return d;
        /* echo 1 > /sys/bus/pci/devices/$bdf/reset */
        return sysfs_write_at(d, ATTR_RESET, "1");
}
