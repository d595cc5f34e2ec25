// SPDX-License-Identifier: MIT
// FUSE operations for DIR/dev: /dev/vfio/vfio and one exclusive node per IOMMU group bound to vfio-pci.
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim.h"

enum dev_node { DN_ROOT, DN_VFIO_DIR, DN_CONTAINER, DN_GROUP };

/* Nodes are regular files here, so that opening one reaches this process (a FUSE mount is nodev). */
static int dev_resolve(struct sim_host *h, const char *path, enum dev_node *ret, struct sim_fn **ret_fn) {
        *ret_fn = NULL;
        if (streq(path, "/")) {
                *ret = DN_ROOT;
                return 0;
        }
        if (!h->iommu)
                return -ENOENT;
        if (streq(path, "/vfio")) {
                *ret = DN_VFIO_DIR;
                return 0;
        }
        if (streq(path, "/vfio/vfio")) {
                *ret = DN_CONTAINER;
                return 0;
        }
        if (strncmp(path, "/vfio/", 6) != 0)
                return -ENOENT;
        char *end;
        long g = strtol(path + 6, &end, 10);
        if (*end || path[6] == 0 || g < 0)
                return -ENOENT;
        struct sim_fn *fn = kern_vfio_fn(h, (int)g);
        if (!fn)
                return -ENOENT;
        *ret = DN_GROUP;
        *ret_fn = fn;
        return 0;
}

static time_t mount_time;

static void *devfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
        mount_time = time(NULL);
        /* names kept, nothing else: every operation resolves its path again (as in fs.c) */
        cfg->entry_timeout = 3600;
        cfg->negative_timeout = 0;
        cfg->attr_timeout = 0;
        cfg->direct_io = 1;
        return fuse_get_context()->private_data;
}

static int devfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
        struct sim_host *h = sim_global_host;
        enum dev_node k;
        struct sim_fn *fn;
        pthread_mutex_lock(&h->lock);
        int r = dev_resolve(h, path, &k, &fn);
        if (r == 0) {
                memset(st, 0, sizeof(*st));
                st->st_uid = getuid();
                st->st_gid = getgid();
                st->st_nlink = 1;
                st->st_atime = st->st_mtime = st->st_ctime = mount_time;
                switch (k) {
                case DN_ROOT:
                case DN_VFIO_DIR:
                        st->st_mode = S_IFDIR | 0755;
                        st->st_nlink = 2;
                        break;
                case DN_CONTAINER:
                        st->st_mode = S_IFREG | 0666;
                        break;
                case DN_GROUP:
                        st->st_mode = S_IFREG | fn->vfio_mode;
                        st->st_uid = fn->vfio_uid;
                        st->st_gid = fn->vfio_gid;
                        break;
                }
        }
        pthread_mutex_unlock(&h->lock);
        return r;
}

static int devfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off, struct fuse_file_info *fi,
                         enum fuse_readdir_flags flags) {
        struct sim_host *h = sim_global_host;
        enum dev_node k;
        struct sim_fn *fn;
        pthread_mutex_lock(&h->lock);
        int r = dev_resolve(h, path, &k, &fn);
        if (r == 0 && k != DN_ROOT && k != DN_VFIO_DIR)
                r = -ENOTDIR;
        if (r == 0) {
                filler(buf, ".", NULL, 0, 0);
                filler(buf, "..", NULL, 0, 0);
                if (k == DN_ROOT && h->iommu)
                        filler(buf, "vfio", NULL, 0, 0);
                if (k == DN_VFIO_DIR) {
                        filler(buf, "vfio", NULL, 0, 0);
                        for (size_t i = 0; i < h->n_fns; i++)
                                if (h->fns[i]->drv == DRVI_VFIO_PCI && h->fns[i]->iommu_group >= 0) {
                                        char name[16];
                                        snprintf(name, sizeof(name), "%d", h->fns[i]->iommu_group);
                                        filler(buf, name, NULL, 0, 0);
                                }
                }
        }
        pthread_mutex_unlock(&h->lock);
        return r;
}

static int devfs_open(const char *path, struct fuse_file_info *fi) {
        struct sim_host *h = sim_global_host;
        enum dev_node k;
        struct sim_fn *fn;
        pthread_mutex_lock(&h->lock);
        int r = dev_resolve(h, path, &k, &fn);
        if (r == 0 && (k == DN_ROOT || k == DN_VFIO_DIR))
                r = -EISDIR;
        if (r == 0 && k == DN_GROUP) {
                struct sim_fn *held;
                r = kern_vfio_open(h, fn->iommu_group, &held);
                if (r == 0)
                        fi->fh = (uint64_t)(uintptr_t)held;
        } else if (r == 0) {
                fi->fh = 0;
        }
        pthread_mutex_unlock(&h->lock);
        fi->direct_io = 1;
        return r;
}

/* One step of closing a group node, under the model lock (nothing for other nodes, whose fh is 0). */
static int group_close_step(struct fuse_file_info *fi, void (*step)(struct sim_host *h, struct sim_fn *fn)) {
        struct sim_host *h = sim_global_host;
        struct sim_fn *fn = (struct sim_fn *)(uintptr_t)fi->fh;
        if (!fn)
                return 0;
        pthread_mutex_lock(&h->lock);
        step(h, fn);
        pthread_mutex_unlock(&h->lock);
        return 0;
}

/* close(): answered before close() returns; the release comes afterwards, on another thread. */
static int devfs_flush(const char *path, struct fuse_file_info *fi) { return group_close_step(fi, kern_vfio_closing); }
static int devfs_release(const char *path, struct fuse_file_info *fi) { return group_close_step(fi, kern_vfio_release); }

static int devfs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) { return 0; }
static int devfs_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
        return -EINVAL; /* a VFIO node speaks ioctl only */
}
static int devfs_truncate(const char *path, off_t size, struct fuse_file_info *fi) { return -EINVAL; }

/* libvirt hands a group node to its QEMU user with chown/chmod */
static int devfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) {
        struct sim_host *h = sim_global_host;
        enum dev_node k;
        struct sim_fn *fn;
        pthread_mutex_lock(&h->lock);
        int r = dev_resolve(h, path, &k, &fn);
        if (r == 0 && k != DN_GROUP)
                r = -EPERM;
        if (r == 0)
                fn->vfio_mode = mode & 07777;
        pthread_mutex_unlock(&h->lock);
        return r;
}

static int devfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi) {
        struct sim_host *h = sim_global_host;
        enum dev_node k;
        struct sim_fn *fn;
        pthread_mutex_lock(&h->lock);
        int r = dev_resolve(h, path, &k, &fn);
        if (r == 0 && k != DN_GROUP)
                r = -EPERM;
        if (r == 0) {
                if (uid != (uid_t)-1)
                        fn->vfio_uid = uid;
                if (gid != (gid_t)-1)
                        fn->vfio_gid = gid;
        }
        pthread_mutex_unlock(&h->lock);
        return r;
}

const struct fuse_operations sim_devfs_ops = {
        .init = devfs_init,
        .getattr = devfs_getattr,
        .readdir = devfs_readdir,
        .open = devfs_open,
        .flush = devfs_flush,
        .release = devfs_release,
        .read = devfs_read,
        .write = devfs_write,
        .truncate = devfs_truncate,
        .chmod = devfs_chmod,
        .chown = devfs_chown,
};
