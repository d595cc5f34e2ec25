// SPDX-License-Identifier: MIT
// FUSE operations for DIR/sys: every path is resolved against the host model when it is used.
#define FUSE_USE_VERSION 35
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mxgpu/names.h"
#include "fuseio.h"
#include "sim.h"

struct sim_host *sim_global_host;
static time_t mount_time;

enum node_kind {
        NK_DIR,          /* a plain directory; its listing comes from dir_kind */
        NK_FN_ATTR,      /* a text attribute of a function */
        NK_CONFIG,
        NK_RESOURCE_N,
        NK_DRV_ATTR,     /* bind, unbind, new_id */
        NK_DRIVERS_PROBE,
        NK_RESCAN,
        NK_ENABLE_SRIOV,
        NK_LINK,
};

enum dir_kind {
        D_ROOT, D_BUS, D_BUS_PCI, D_PCI_DEVICES, D_DRIVERS, D_DRIVER, D_DEVICES, D_PCI_ROOT, D_FN,
        D_KERNEL, D_GROUPS, D_GROUP, D_GROUP_DEVICES, D_MODULE, D_MOD_VFIO, D_MOD_PARAMS,
};

struct fn_attr;

struct node {
        enum node_kind kind;
        enum dir_kind dir;
        mode_t mode;
        struct sim_fn *fn;
        int drv;
        int group;
        int bar;
        const struct fn_attr *attr;
        const char *name;
        char link[512];
};

/* --- function attributes --- */

typedef int (*show_fn)(struct sim_fn *fn, char *buf, size_t size);
typedef int (*store_fn)(struct sim_host *h, struct sim_fn *fn, const char *buf);

enum { A_ALL = 0, A_SRIOV = 1, A_ENDPOINT = 2 };

struct fn_attr {
        const char *name;
        mode_t mode;
        unsigned when;
        show_fn show;
        store_fn store;
};

#define SHOW(n, ...) static int show_##n(struct sim_fn *fn, char *b, size_t s) { return snprintf(b, s, __VA_ARGS__); }
SHOW(vendor, "0x%04x\n", fn->vendor)
SHOW(device, "0x%04x\n", fn->device)
SHOW(subvendor, "0x%04x\n", fn->subvendor)
SHOW(subdevice, "0x%04x\n", fn->subdevice)
SHOW(class, "0x%06x\n", fn->class)
SHOW(revision, "0x%02x\n", fn->revision)
SHOW(irq, "%d\n", fn->kind == FN_VF ? 0 : fn->irq)
SHOW(numa_node, "%d\n", fn->numa_node)
SHOW(driver_override, "%s\n", fn->driver_override ? fn->driver_override : "(null)")
SHOW(totalvfs, "%u\n", fn->pf->total_vfs)
SHOW(numvfs, "%u\n", fn->pf->num_vfs)
SHOW(offset, "%u\n", fn->pf->vf_offset)
SHOW(stride, "%u\n", fn->pf->vf_stride)
SHOW(vf_device, "%x\n", fn->pf->vf_device)
SHOW(autoprobe, "%u\n", fn->pf->autoprobe)
SHOW(enable, "%d\n", fn->drv != DRVI_NONE)
SHOW(modalias, "pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n", fn->vendor, fn->device, fn->subvendor, fn->subdevice,
     fn->class >> 16, (fn->class >> 8) & 0xff, fn->class & 0xff)

static int show_uevent(struct sim_fn *fn, char *b, size_t s) { return sim_fn_uevent_text(fn, b, s); }

static uint64_t res_flags(const struct sim_bar *bar) {
        /* IORESOURCE_MEM | SIZEALIGN, MEM_64, PREFETCH, plus the BAR's own low bits */
        return 0x40200 | (bar->is64 ? 0x100004 : 0) | (bar->prefetch ? 0x2008 : 0);
}

static int show_resource(struct sim_fn *fn, char *b, size_t s) {
        bool bridge = fn->kind == FN_ROOT_PORT || fn->kind == FN_UPSTREAM || fn->kind == FN_DOWNSTREAM;
        unsigned lines = bridge ? 17 : 13; /* 6 BARs, ROM, 6 IOV BARs (, 4 bridge windows) */
        size_t n = 0;
        for (unsigned i = 0; i < lines; i++) {
                uint64_t start = 0, end = 0, flags = 0;
                if (i < SIM_BARS && fn->bars[i].size) {
                        start = fn->bars[i].addr;
                        end = start + fn->bars[i].size - 1;
                        flags = res_flags(&fn->bars[i]);
                } else if (i >= 7 && i < 13 && fn->pf && fn->pf->total_vfs && fn->pf->vf_bars[i - 7].size) {
                        const struct sim_bar *vb = &fn->pf->vf_bars[i - 7];
                        start = vb->addr;
                        end = start + vb->size * fn->pf->total_vfs - 1;
                        flags = res_flags(vb);
                } else if (bridge && (i == 14 || i == 15) && fn->win_start[i - 14] <= fn->win_end[i - 14]) {
                        /* PCI_BRIDGE_RESOURCES + 1 = memory window, + 2 = prefetchable window */
                        start = fn->win_start[i - 14];
                        end = fn->win_end[i - 14];
                        flags = i == 14 ? 0x200 : 0x102200;
                }
                int m = snprintf(b + n, s - n, "0x%016" PRIx64 " 0x%016" PRIx64 " 0x%016" PRIx64 "\n", start, end, flags);
                if (m < 0 || (size_t)m >= s - n)
                        return -EFBIG;
                n += (size_t)m;
        }
        return (int)n;
}

static const struct fn_attr fn_attrs[] = {
        { ATTR_VENDOR, 0444, A_ALL, show_vendor, NULL },
        { ATTR_DEVICE, 0444, A_ALL, show_device, NULL },
        { ATTR_SUBSYS_VENDOR, 0444, A_ALL, show_subvendor, NULL },
        { ATTR_SUBSYS_DEVICE, 0444, A_ALL, show_subdevice, NULL },
        { ATTR_CLASS, 0444, A_ALL, show_class, NULL },
        { "revision", 0444, A_ALL, show_revision, NULL },
        { ATTR_IRQ, 0444, A_ALL, show_irq, NULL },
        { ATTR_NUMA_NODE, 0644, A_ALL, show_numa_node, NULL },
        { ATTR_RESOURCE, 0444, A_ALL, show_resource, NULL },
        { "modalias", 0444, A_ALL, show_modalias, NULL },
        { "uevent", 0644, A_ALL, show_uevent, NULL },
        { "enable", 0600, A_ALL, show_enable, NULL },
        { ATTR_DRIVER_OVERRIDE, 0644, A_ALL, show_driver_override, kern_store_driver_override },
        { ATTR_REMOVE, 0200, A_ALL, NULL, kern_store_remove },
        { ATTR_RESET, 0200, A_ENDPOINT, NULL, kern_store_reset },
        { ATTR_SRIOV_TOTALVFS, 0444, A_SRIOV, show_totalvfs, NULL },
        { ATTR_SRIOV_NUMVFS, 0644, A_SRIOV, show_numvfs, kern_store_sriov_numvfs },
        { ATTR_SRIOV_OFFSET, 0444, A_SRIOV, show_offset, NULL },
        { ATTR_SRIOV_STRIDE, 0444, A_SRIOV, show_stride, NULL },
        { ATTR_SRIOV_VF_DEVICE, 0444, A_SRIOV, show_vf_device, NULL },
        { ATTR_SRIOV_AUTOPROBE, 0644, A_SRIOV, show_autoprobe, kern_store_autoprobe },
};

static bool attr_visible(const struct fn_attr *a, const struct sim_fn *fn) {
        if (a->when == A_SRIOV)
                return fn->pf && fn->pf->sriov_pos;
        if (a->when == A_ENDPOINT)
                return fn->kind == FN_PF || fn->kind == FN_VF;
        return true;
}

static const char *const drv_attrs[] = { ATTR_BIND, ATTR_UNBIND, ATTR_NEW_ID };

/* --- links --- */

static void ups(char *buf, size_t size, unsigned n) {
        buf[0] = 0;
        for (unsigned i = 0; i < n && strlen(buf) + 4 < size; i++)
                strcat(buf, "../");
}

static int fn_link(struct sim_fn *fn, const char *name, struct node *n) {
        char up[128];
        /* from inside the function's directory, "up" leads to /sys */
        ups(up, sizeof(up), sim_fn_depth(fn));
        if (streq(name, LINK_DRIVER) && fn->drv != DRVI_NONE)
                snprintf(n->link, sizeof(n->link), "%sbus/pci/drivers/%s", up, sim_drv_name(fn->drv));
        else if (streq(name, LINK_SUBSYSTEM))
                snprintf(n->link, sizeof(n->link), "%sbus/pci", up);
        else if (streq(name, LINK_IOMMU_GROUP) && fn->iommu_group >= 0)
                snprintf(n->link, sizeof(n->link), "%skernel/iommu_groups/%d", up, fn->iommu_group);
        else if (streq(name, LINK_PHYSFN) && fn->physfn)
                snprintf(n->link, sizeof(n->link), "../%s", fn->physfn->bdf);
        else if (strncmp(name, LINK_VIRTFN_PREFIX, strlen(LINK_VIRTFN_PREFIX)) == 0 && fn->pf) {
                char *end;
                const char *num = name + strlen(LINK_VIRTFN_PREFIX);
                unsigned long i = strtoul(num, &end, 10);
                if (!*num || *end || (num[0] == '0' && num[1]) || i >= fn->pf->total_vfs || !fn->pf->vfs[i])
                        return -ENOENT;
                snprintf(n->link, sizeof(n->link), "../%s", fn->pf->vfs[i]->bdf);
        } else
                return -ENOENT;
        n->kind = NK_LINK;
        n->mode = S_IFLNK | 0777;
        return 0;
}

static int link_to_fn(struct sim_fn *fn, unsigned depth, struct node *n) {
        char up[128], dir[400];
        ups(up, sizeof(up), depth);
        if (sim_fn_sysfs_dir(fn, dir, sizeof(dir)) < 0)
                return -ENAMETOOLONG;
        snprintf(n->link, sizeof(n->link), "%s%s", up, dir);
        n->kind = NK_LINK;
        n->mode = S_IFLNK | 0777;
        return 0;
}

/* --- resolution --- */

static bool group_exists(struct sim_host *h, int g) {
        for (size_t i = 0; i < h->n_fns; i++)
                if (h->fns[i]->iommu_group == g)
                        return true;
        return false;
}

static void set_dir(struct node *n, enum dir_kind d) {
        n->kind = NK_DIR;
        n->dir = d;
        n->mode = S_IFDIR | 0755;
}

static void set_file(struct node *n, enum node_kind k, mode_t mode) {
        n->kind = k;
        n->mode = S_IFREG | mode;
}

static int resolve_fn_entry(struct sim_fn *fn, const char *name, struct node *n) {
        n->fn = fn;
        for (size_t i = 0; i < ARRAY_SIZE(fn_attrs); i++)
                if (streq(fn_attrs[i].name, name) && attr_visible(&fn_attrs[i], fn)) {
                        n->attr = &fn_attrs[i];
                        set_file(n, NK_FN_ATTR, fn_attrs[i].mode);
                        return 0;
                }
        if (streq(name, ATTR_CONFIG)) {
                set_file(n, NK_CONFIG, 0644);
                return 0;
        }
        unsigned bar;
        char tail;
        if (sscanf(name, "resource%u%c", &bar, &tail) == 1 && bar < SIM_BARS && fn->bars[bar].size &&
            snprintf(n->link, sizeof(n->link), "resource%u", bar) > 0 && streq(n->link, name)) {
                n->bar = (int)bar;
                set_file(n, NK_RESOURCE_N, 0600);
                return 0;
        }
        return fn_link(fn, name, n);
}

static int resolve(struct sim_host *h, const char *path, struct node *n) {
        char buf[1024];
        char *c[24];
        unsigned nc = 0;
        memset(n, 0, sizeof(*n));
        n->drv = DRVI_NONE;
        n->group = -1;
        if (strlen(path) >= sizeof(buf))
                return -ENAMETOOLONG;
        strcpy(buf, path);
        char *save = NULL;
        for (char *t = strtok_r(buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
                if (nc >= ARRAY_SIZE(c))
                        return -ENOENT;
                c[nc++] = t;
        }
        if (nc == 0) {
                set_dir(n, D_ROOT);
                return 0;
        }
        if (streq(c[0], "bus")) {
                if (nc == 1) { set_dir(n, D_BUS); return 0; }
                if (!streq(c[1], "pci"))
                        return -ENOENT;
                if (nc == 2) { set_dir(n, D_BUS_PCI); return 0; }
                if (streq(c[2], "drivers_probe")) {
                        if (nc != 3)
                                return -ENOTDIR;
                        set_file(n, NK_DRIVERS_PROBE, 0200);
                        return 0;
                }
                if (streq(c[2], "rescan")) {
                        if (nc != 3)
                                return -ENOTDIR;
                        set_file(n, NK_RESCAN, 0200);
                        return 0;
                }
                if (streq(c[2], "devices")) {
                        if (nc == 3) { set_dir(n, D_PCI_DEVICES); return 0; }
                        struct sim_fn *fn = sim_host_find(h, c[3]);
                        if (nc != 4 || !fn || !streq(fn->bdf, c[3]))
                                return -ENOENT;
                        return link_to_fn(fn, 3, n);
                }
                if (streq(c[2], "drivers")) {
                        if (nc == 3) { set_dir(n, D_DRIVERS); return 0; }
                        int d = sim_drv_by_name(c[3]);
                        if (d < 0)
                                return -ENOENT;
                        n->drv = d;
                        if (nc == 4) { set_dir(n, D_DRIVER); return 0; }
                        if (nc != 5)
                                return -ENOENT;
                        for (size_t i = 0; i < ARRAY_SIZE(drv_attrs); i++)
                                if (streq(c[4], drv_attrs[i])) {
                                        n->name = drv_attrs[i];
                                        set_file(n, NK_DRV_ATTR, 0200);
                                        return 0;
                                }
                        struct sim_fn *fn = sim_host_find(h, c[4]);
                        if (!fn || fn->drv != d || !streq(fn->bdf, c[4]))
                                return -ENOENT;
                        return link_to_fn(fn, 4, n);
                }
                return -ENOENT;
        }
        if (streq(c[0], "devices")) {
                if (nc == 1) { set_dir(n, D_DEVICES); return 0; }
                if (!streq(c[1], "pci0000:00"))
                        return -ENOENT;
                if (nc == 2) { set_dir(n, D_PCI_ROOT); return 0; }
                struct sim_fn *cur = NULL;
                for (unsigned i = 2; i < nc; i++) {
                        struct sim_fn *next = NULL;
                        for (size_t f = 0; f < h->n_fns && !next; f++)
                                if (h->fns[f]->parent == cur && streq(h->fns[f]->bdf, c[i]))
                                        next = h->fns[f];
                        if (next) {
                                cur = next;
                                continue;
                        }
                        if (!cur || i != nc - 1)
                                return -ENOENT;
                        return resolve_fn_entry(cur, c[i], n);
                }
                n->fn = cur;
                set_dir(n, D_FN);
                return 0;
        }
        if (streq(c[0], "kernel")) {
                if (nc == 1) { set_dir(n, D_KERNEL); return 0; }
                if (!streq(c[1], "iommu_groups"))
                        return -ENOENT;
                if (nc == 2) { set_dir(n, D_GROUPS); return 0; }
                char *end;
                long g = strtol(c[2], &end, 10);
                if (*end || !*c[2] || g < 0 || !group_exists(h, (int)g))
                        return -ENOENT;
                n->group = (int)g;
                if (nc == 3) { set_dir(n, D_GROUP); return 0; }
                if (!streq(c[3], "devices"))
                        return -ENOENT;
                if (nc == 4) { set_dir(n, D_GROUP_DEVICES); return 0; }
                struct sim_fn *fn = sim_host_find(h, c[4]);
                if (nc != 5 || !fn || fn->iommu_group != g || !streq(fn->bdf, c[4]))
                        return -ENOENT;
                return link_to_fn(fn, 4, n);
        }
        if (streq(c[0], "module")) {
                if (nc == 1) { set_dir(n, D_MODULE); return 0; }
                if (!streq(c[1], "vfio_pci"))
                        return -ENOENT;
                if (nc == 2) { set_dir(n, D_MOD_VFIO); return 0; }
                if (!streq(c[2], "parameters"))
                        return -ENOENT;
                if (nc == 3) { set_dir(n, D_MOD_PARAMS); return 0; }
                if (nc == 4 && streq(c[3], "enable_sriov")) {
                        set_file(n, NK_ENABLE_SRIOV, 0644);
                        return 0;
                }
                return -ENOENT;
        }
        return -ENOENT;
}

/* --- FUSE operations --- */

static inline void unlock_hostp(pthread_mutex_t **m) {
        if (*m)
                pthread_mutex_unlock(*m);
}
/* The body runs with the model lock held; a break or return in it releases the lock too. */
#define LOCKED(h)                                                                                     \
        for (_cleanup_(unlock_hostp) pthread_mutex_t *_held = (pthread_mutex_lock(&(h)->lock), &(h)->lock); \
             _held; pthread_mutex_unlock(_held), _held = NULL)

static void *sysfs_init(struct fuse_conn_info *conn, struct fuse_config *cfg) {
        /* Names are kept (as the kernel's dcache keeps sysfs's), nothing else: every operation on a
         * kept name is resolved against the model again, so one that went away answers ENOENT, and
         * a name that was not there is looked up again. Without it every path walk costs one round
         * trip per component. Attributes are never kept, and the mount has no default_permissions
         * (whose check would fetch the attributes per component): sysfs_open checks access. */
        cfg->entry_timeout = 3600;
        cfg->negative_timeout = 0;
        cfg->attr_timeout = 0;
        cfg->direct_io = 1;
        cfg->kernel_cache = 0;
        mount_time = time(NULL);
        return fuse_get_context()->private_data;
}

static void fill_stat(const struct node *n, struct stat *st) {
        memset(st, 0, sizeof(*st));
        st->st_mode = n->mode;
        st->st_nlink = n->kind == NK_DIR ? 2 : 1;
        st->st_uid = getuid();
        st->st_gid = getgid();
        st->st_size = n->kind == NK_LINK ? (off_t)strlen(n->link) : n->kind == NK_RESOURCE_N ?
                      (off_t)n->fn->bars[n->bar].size : n->kind == NK_DIR ? 0 : 4096;
        st->st_atime = st->st_mtime = st->st_ctime = mount_time;
}

static int sysfs_getattr(const char *path, struct stat *st, struct fuse_file_info *fi) {
        struct sim_host *h = sim_global_host;
        struct node n;
        int r;
        LOCKED(h) {
                r = resolve(h, path, &n);
                if (r == 0)
                        fill_stat(&n, st);
        }
        return r;
}

static int sysfs_readlink(const char *path, char *buf, size_t size) {
        struct sim_host *h = sim_global_host;
        struct node n;
        int r;
        LOCKED(h) {
                r = resolve(h, path, &n);
                if (r == 0 && n.kind != NK_LINK)
                        r = -EINVAL;
                if (r == 0)
                        snprintf(buf, size, "%s", n.link);
        }
        return r;
}

struct lister {
        void *buf;
        fuse_fill_dir_t fill;
};

static void add(struct lister *l, const char *name) { l->fill(l->buf, name, NULL, 0, 0); }

static void list_dir(struct sim_host *h, const struct node *n, struct lister *l) {
        char name[64];
        add(l, ".");
        add(l, "..");
        switch (n->dir) {
        case D_ROOT:
                add(l, "bus"); add(l, "devices"); add(l, "kernel"); add(l, "module");
                break;
        case D_BUS: add(l, "pci"); break;
        case D_BUS_PCI: add(l, "devices"); add(l, "drivers"); add(l, "drivers_probe"); add(l, "rescan"); break;
        case D_PCI_DEVICES:
                for (size_t i = 0; i < h->n_fns; i++)
                        add(l, h->fns[i]->bdf);
                break;
        case D_DRIVERS:
                for (int d = 0; d < DRVI_COUNT; d++)
                        add(l, sim_drv_name(d));
                break;
        case D_DRIVER:
                for (size_t i = 0; i < ARRAY_SIZE(drv_attrs); i++)
                        add(l, drv_attrs[i]);
                for (size_t i = 0; i < h->n_fns; i++)
                        if (h->fns[i]->drv == n->drv)
                                add(l, h->fns[i]->bdf);
                break;
        case D_DEVICES: add(l, "pci0000:00"); break;
        case D_PCI_ROOT:
        case D_FN:
                for (size_t i = 0; i < h->n_fns; i++)
                        if (h->fns[i]->parent == n->fn)
                                add(l, h->fns[i]->bdf);
                if (n->dir == D_PCI_ROOT)
                        break;
                for (size_t i = 0; i < ARRAY_SIZE(fn_attrs); i++)
                        if (attr_visible(&fn_attrs[i], n->fn))
                                add(l, fn_attrs[i].name);
                add(l, ATTR_CONFIG);
                for (unsigned b = 0; b < SIM_BARS; b++)
                        if (n->fn->bars[b].size) {
                                snprintf(name, sizeof(name), "resource%u", b);
                                add(l, name);
                        }
                add(l, LINK_SUBSYSTEM);
                if (n->fn->drv != DRVI_NONE)
                        add(l, LINK_DRIVER);
                if (n->fn->iommu_group >= 0)
                        add(l, LINK_IOMMU_GROUP);
                if (n->fn->physfn)
                        add(l, LINK_PHYSFN);
                if (n->fn->pf)
                        for (unsigned i = 0; i < n->fn->pf->total_vfs; i++)
                                if (n->fn->pf->vfs[i]) {
                                        snprintf(name, sizeof(name), LINK_VIRTFN_PREFIX "%u", i);
                                        add(l, name);
                                }
                break;
        case D_KERNEL: add(l, "iommu_groups"); break;
        case D_GROUPS: {
                int max = -1;
                for (size_t i = 0; i < h->n_fns; i++)
                        max = MAX(max, h->fns[i]->iommu_group);
                for (int g = 0; g <= max; g++)
                        if (group_exists(h, g)) {
                                snprintf(name, sizeof(name), "%d", g);
                                add(l, name);
                        }
                break;
        }
        case D_GROUP: add(l, "devices"); break;
        case D_GROUP_DEVICES:
                for (size_t i = 0; i < h->n_fns; i++)
                        if (h->fns[i]->iommu_group == n->group)
                                add(l, h->fns[i]->bdf);
                break;
        case D_MODULE: add(l, "vfio_pci"); break;
        case D_MOD_VFIO: add(l, "parameters"); break;
        case D_MOD_PARAMS: add(l, "enable_sriov"); break;
        }
}

static int sysfs_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off, struct fuse_file_info *fi,
                         enum fuse_readdir_flags flags) {
        struct sim_host *h = sim_global_host;
        struct node n;
        int r;
        LOCKED(h) {
                r = resolve(h, path, &n);
                if (r == 0 && n.kind != NK_DIR)
                        r = -ENOTDIR;
                if (r == 0)
                        list_dir(h, &n, &(struct lister){ buf, filler });
        }
        return r;
}

static int sysfs_open(const char *path, struct fuse_file_info *fi) {
        struct sim_host *h = sim_global_host;
        struct node n;
        int r;
        LOCKED(h) {
                r = resolve(h, path, &n);
        }
        if (r < 0)
                return r;
        if (n.kind == NK_DIR)
                return -EISDIR;
        /* kernfs refuses a write open of a file without a store, and a read open without a show, even for root */
        int acc = fi->flags & O_ACCMODE;
        if ((acc == O_WRONLY || acc == O_RDWR) && !(n.mode & 0222))
                return -EACCES;
        if ((acc == O_RDONLY || acc == O_RDWR) && !(n.mode & 0444))
                return -EACCES;
        /* the mode bits, for anyone but root (the mount has no default_permissions) */
        const struct fuse_context *c = fuse_get_context();
        if (c->uid != 0) {
                mode_t bits = c->uid == getuid() ? n.mode >> 6 : c->gid == getgid() ? n.mode >> 3 : n.mode;
                if (((acc == O_WRONLY || acc == O_RDWR) && !(bits & 2)) || ((acc == O_RDONLY || acc == O_RDWR) && !(bits & 4)))
                        return -EACCES;
        }
        fi->direct_io = 1;
        sim_fuseio_parallel_writes();
        return 0;
}

static int sysfs_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi) {
        struct sim_host *h = sim_global_host;
        struct node n;
        int r;
        char text[8192];
        LOCKED(h) {
                r = resolve(h, path, &n);
                if (r == -ENOENT)
                        r = -ENODEV; /* the device went away under an open file */
                if (r < 0)
                        break;
                switch (n.kind) {
                case NK_CONFIG:
                        r = cfg_read(n.fn, buf, size, off);
                        break;
                case NK_FN_ATTR:
                        r = n.attr->show ? n.attr->show(n.fn, text, sizeof(text)) : -EIO;
                        break;
                case NK_ENABLE_SRIOV:
                        r = snprintf(text, sizeof(text), "%c\n", h->vfio_enable_sriov ? 'Y' : 'N');
                        break;
                case NK_RESOURCE_N:
                        r = -EIO; /* memory BARs are mmap-only */
                        break;
                default:
                        r = -EIO;
                }
        }
        if (r < 0 || n.kind == NK_CONFIG)
                return r;
        if (off >= r)
                return 0;
        size_t len = MIN(size, (size_t)(r - off));
        memcpy(buf, text + off, len);
        return (int)len;
}

static int sysfs_write(const char *path, const char *data, size_t size, off_t off, struct fuse_file_info *fi) {
        struct sim_host *h = sim_global_host;
        struct node n;
        char value[4096];
        int r;
        /* a sysfs store sees the whole buffer at once, NUL-terminated */
        size_t len = MIN(size, sizeof(value) - 1);
        memcpy(value, data, len);
        value[len] = 0;
        LOCKED(h) {
                r = resolve(h, path, &n);
                if (r == -ENOENT)
                        r = -ENODEV;
                if (r < 0)
                        break;
                if (n.fn)
                        sim_fn_ref(n.fn);
                const char *target = n.fn ? n.fn->bdf : n.kind == NK_DRV_ATTR ? sim_drv_name(n.drv) :
                                     n.kind == NK_ENABLE_SRIOV ? "vfio_pci" : "bus";
                const char *attr = n.kind == NK_FN_ATTR ? n.attr->name : n.kind == NK_CONFIG ? ATTR_CONFIG :
                                   n.kind == NK_DRV_ATTR ? n.name : n.kind == NK_ENABLE_SRIOV ? "enable_sriov" :
                                   n.kind == NK_DRIVERS_PROBE ? "drivers_probe" : n.kind == NK_RESCAN ? "rescan" : "";
                r = kern_check_fault(h, target, attr);
                if (r == 0) {
                        switch (n.kind) {
                        case NK_CONFIG:
                                r = cfg_write(n.fn, data, size, off);
                                break;
                        case NK_FN_ATTR:
                                r = n.attr->store ? n.attr->store(h, n.fn, value) : -EACCES;
                                break;
                        case NK_DRV_ATTR:
                                r = streq(n.name, ATTR_BIND) ? kern_store_bind(h, n.drv, value) :
                                    streq(n.name, ATTR_UNBIND) ? kern_store_unbind(h, n.drv, value) :
                                    kern_store_new_id(h, n.drv, value);
                                break;
                        case NK_DRIVERS_PROBE:
                                r = kern_store_drivers_probe(h, value);
                                break;
                        case NK_RESCAN:
                                r = kern_store_rescan(h, value);
                                break;
                        case NK_ENABLE_SRIOV:
                                r = kern_store_enable_sriov_param(h, value);
                                break;
                        default:
                                r = -EIO;
                        }
                }
                if (n.fn)
                        sim_fn_unref(n.fn);
        }
        if (r < 0)
                return r;
        return n.kind == NK_CONFIG ? r : (int)size;
}

/* `echo 1 > attr` opens with O_TRUNC; sysfs ignores the truncation */
static int sysfs_truncate(const char *path, off_t size, struct fuse_file_info *fi) {
        struct sim_host *h = sim_global_host;
        struct node n;
        int r;
        LOCKED(h) {
                r = resolve(h, path, &n);
        }
        if (r < 0)
                return r;
        return n.kind == NK_DIR ? -EISDIR : n.kind == NK_LINK ? -EPERM : 0;
}

static int sysfs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi) { return -EPERM; }
static int sysfs_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi) { return -EPERM; }

const struct fuse_operations sim_sysfs_ops = {
        .init = sysfs_init,
        .getattr = sysfs_getattr,
        .readlink = sysfs_readlink,
        .readdir = sysfs_readdir,
        .open = sysfs_open,
        .read = sysfs_read,
        .write = sysfs_write,
        .truncate = sysfs_truncate,
        .chmod = sysfs_chmod,
        .chown = sysfs_chown,
};
