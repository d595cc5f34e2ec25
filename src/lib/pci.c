// SPDX-License-Identifier: MIT
// SR-IOV PF discovery through libpci's sysfs backend, with an error hook that cannot end the daemon.
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pci/pci.h>

#include "mxgpu/macro.h"
#include "mxgpu/names.h"
#include "mxgpu/paths.h"
#include "mxgpu/pci.h"
#include "mxgpu/regio.h"
#include "mxgpu/sysfs.h"

/* SR-IOV capability registers, offsets from the capability (PCIe base spec, hardware.md 2). */
#define SRIOV_INITIAL_VFS 0x0c
#define SRIOV_TOTAL_VFS   0x0e
#define SRIOV_NUM_VFS     0x10
#define SRIOV_VF_OFFSET   0x14
#define SRIOV_VF_STRIDE   0x16
#define SRIOV_VF_DID      0x1a

/* How often a bus scan that failed (a device vanished while libpci listed it) is retried. */
#define SCAN_ATTEMPTS 3

/* libpci's error hook must not return (its default calls exit(1)). While a guarded call runs, the
 * hook jumps back to it; the call then reports -EIO and the caller skips the device. */
static __thread sigjmp_buf *guard_jmp;
static __thread char last_msg[256];
/* Counts libpci's warnings: a config space it cannot open or read only warns, then reads all ones. */
static __thread unsigned warnings;

static void save_msg(const char *fmt, va_list ap) {
        vsnprintf(last_msg, sizeof(last_msg), fmt, ap);
}

_noreturn_ _printf_(1, 2) static void on_pci_error(char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        save_msg(fmt, ap);
        va_end(ap);
        if (guard_jmp)
                siglongjmp(*guard_jmp, 1);
        abort(); /* every libpci call below runs guarded: reaching this is a bug here */
}

_printf_(1, 2) static void on_pci_warning(char *fmt, ...) {
        warnings++;
        va_list ap;
        va_start(ap, fmt);
        save_msg(fmt, ap);
        va_end(ap);
}

_printf_(1, 2) static void on_pci_debug(char *fmt, ...) {
}

const char *pci_pf_last_error(void) { return last_msg; }

/* Run fn(arg) with the error hook armed. Nothing with a _cleanup_ attribute may live in fn's frames:
 * the jump skips their cleanups. libpci may leak a small allocation it had in flight. */
static int guarded(int (*fn)(void *arg), void *arg) {
        sigjmp_buf jb;
        sigjmp_buf *prev = guard_jmp;
        if (sigsetjmp(jb, 1) != 0) {
                guard_jmp = prev;
                return -EIO;
        }
        guard_jmp = &jb;
        int r = fn(arg);
        guard_jmp = prev;
        return r;
}

static int access_init(void *arg) {
        pci_init(arg);
        return 0;
}

static int access_new(struct pci_access **ret) {
        char path[MX_PATH_MAX];
        int r = mx_path(path, sizeof(path), SYS_BUS_PCI);
        if (r < 0)
                return r;
        struct pci_access *a = pci_alloc();
        if (!a)
                return -ENOMEM;
        a->error = on_pci_error;
        a->warning = on_pci_warning;
        a->debug = on_pci_debug;
        a->method = PCI_ACCESS_SYS_BUS_PCI;
        /* Identity and class from the config space (one open file per device), not from one sysfs
         * file each: a function that is no PF costs one open. */
        a->buscentric = 1;
        pci_set_param(a, "sysfs.path", path);
        r = guarded(access_init, a);
        if (r < 0) {
                pci_cleanup(a);
                return r;
        }
        *ret = a;
        return 0;
}

static void access_free(struct pci_access *a) {
        if (a)
                pci_cleanup(a);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct pci_access *, access_free);

static void copy_str(char *dst, size_t size, const char *src) {
        snprintf(dst, size, "%s", src ? src : "");
}

/* The GPU-IOV capability: an extended vendor-specific capability (0x0b) with VSEC ID 0x0002. */
static uint16_t find_gpuiov_cap(struct pci_dev *d) {
        for (struct pci_cap *c = d->first_cap; c; c = c->next)
                if (c->type == PCI_CAP_EXTENDED && c->id == PCI_EXT_CAP_ID_VNDR &&
                    pci_read_word(d, c->addr + GPUIOV_VSEC_HDR) == GPUIOV_VSEC_ID)
                        return c->addr;
        return 0;
}

/* Config space bytes read in one go: the header of every function, the rest of the standard space
 * (where the capability list lives) of type 0 functions only. A read is one system call (one round trip
 * in the simulator) however long; the kernel reads a dword per config cycle. */
#define CFG_HEADER 64
#define CFG_STANDARD 256
#define PCI_HEADER_TYPE_MASK 0x7f

struct fill_args {
        struct pci_dev *dev;
        struct pci_pf *pf;
        uint8_t cfg[CFG_STANDARD]; /* libpci's cache of d's config space while fill_pf runs */
};

/* Runs guarded: no _cleanup_ variables. Returns 0, or -ENOTSUP when d has no SR-IOV capability. */
static int fill_pf(void *arg) {
        struct fill_args *fa = arg;
        struct pci_dev *d = fa->dev;
        struct pci_pf *pf = fa->pf;

        /* libpci serves reads inside its cache from it: the capability walks below cost nothing more */
        unsigned warned = warnings;
        if (!pci_read_block(d, 0, fa->cfg, CFG_HEADER) || warnings != warned)
                return -EIO; /* its config space could not be read: skipped, and said so */
        /* SR-IOV is a capability of endpoints (header type 0); bridges are not read further */
        if ((fa->cfg[PCI_HEADER_TYPE] & PCI_HEADER_TYPE_MASK) != PCI_HEADER_TYPE_NORMAL)
                return -ENOTSUP;
        if (!pci_read_block(d, CFG_HEADER, fa->cfg + CFG_HEADER, CFG_STANDARD - CFG_HEADER) || warnings != warned)
                return -EIO;
        pci_setup_cache(d, fa->cfg, CFG_STANDARD);

        /* What every function needs to tell a PF; the rest only for PFs. (BAR 0's size: read_pf.) */
        pci_fill_info(d, PCI_FILL_IDENT | PCI_FILL_CLASS | PCI_FILL_CAPS | PCI_FILL_EXT_CAPS);
        if (warnings != warned)
                return -EIO;
        struct pci_cap *sriov = pci_find_cap(d, PCI_EXT_CAP_ID_SRIOV, PCI_CAP_EXTENDED);
        if (!sriov)
                return -ENOTSUP;
        /* Not PCI_FILL_DRIVER or PCI_FILL_IOMMU_GROUP: libpci resolves those links with realpath(),
         * one readlink per path component; read_pf() reads the two links directly. */
        pci_fill_info(d, PCI_FILL_SUBSYS | PCI_FILL_NUMA_NODE);
        /* the SR-IOV registers read here, in one go */
        uint8_t iov[SRIOV_VF_DID + 2];
        if (!pci_read_block(d, sriov->addr, iov, sizeof(iov)) || warnings != warned)
                return -EIO;

        *pf = (struct pci_pf){
                .vendor = d->vendor_id, .device = d->device_id, .class_id = d->device_class,
                .subsys_vendor = d->subsys_vendor_id, .subsys_device = d->subsys_id,
                .numa_node = d->numa_node, .iommu_group = -1,
                .sriov_cap = (uint16_t)sriov->addr,
                .initial_vfs = regio_le16(iov, SRIOV_INITIAL_VFS),
                .total_vfs = regio_le16(iov, SRIOV_TOTAL_VFS),
                .num_vfs = regio_le16(iov, SRIOV_NUM_VFS),
                .vf_offset = regio_le16(iov, SRIOV_VF_OFFSET),
                .vf_stride = regio_le16(iov, SRIOV_VF_STRIDE),
                .vf_device = regio_le16(iov, SRIOV_VF_DID),
        };
        snprintf(pf->addr, sizeof(pf->addr), "%04x:%02x:%02x.%d", d->domain & 0xffff, d->bus, d->dev, d->func & 7);
        pf->card = mx_card_by_pf_id(pf->vendor, pf->device);
        pf->gpuiov_cap = find_gpuiov_cap(d);
        if (pf->card && pf->gpuiov_cap)
                pf->layout = pf->card->layout;
        return 0;
}

/* The first max lines of a `resource` file's text ("start end flags" in hex), up to the first that is
 * not one, parsed by hand: fscanf cost some 4000 instructions a line, and the PF and its bridges are
 * read while every PF waits to start (docs/performance.md). */
static unsigned parse_resources(const char *text, struct pci_resource *res, unsigned max) {
        unsigned n = 0;
        for (const char *s = text; n < max && *s;) {
                uint64_t v[3];
                char *end;
                for (int k = 0; k < 3; k++) {
                        errno = 0;
                        v[k] = strtoull(s, &end, 16);
                        if (end == s || errno)
                                return n;
                        s = end;
                }
                res[n++] = (struct pci_resource){ .start = v[0], .end = v[1], .flags = v[2] };
                s += strspn(s, " \n");
        }
        return n;
}

/* Fill pf from d. Returns 0, -ENOTSUP (not an SR-IOV PF), -ENODEV (vanished or unreadable). */
static int read_pf(struct pci_dev *d, struct pci_pf *ret) {
        struct pci_pf pf;
        struct fill_args fa = { .dev = d, .pf = &pf };
        int r = guarded(fill_pf, &fa);
        pci_setup_cache(d, NULL, 0); /* the cache is fa.cfg, on this stack */
        if (r == -EIO)
                return -ENODEV;
        if (r < 0)
                return r;
        _cleanup_close_ int dfd = pcidev_open(pf.addr);
        if (dfd < 0)
                return -ENODEV;
        /* readlink physfn: a VF of another PF can carry an SR-IOV capability of its own (and its
         * config space reads all ones as a VF's identity does). */
        char buf[PCI_DRIVER_NAME_MAX];
        r = sysfs_link_at(dfd, LINK_PHYSFN, buf, sizeof(buf));
        if (r >= 0)
                return -ENOTSUP;
        if (r == -ENODEV)
                return r;
        /* A device that vanished reads all ones: it has no valid identity. */
        if (pf.vendor == 0xffff)
                return -ENODEV;
        /* BAR 0's size: the first line of `resource` */
        char res[4096];
        struct pci_resource bar0;
        if (sysfs_read_at(dfd, ATTR_RESOURCE, res, sizeof(res)) >= 0 && parse_resources(res, &bar0, 1) == 1 &&
            bar0.end > bar0.start)
                pf.bar0_size = bar0.end - bar0.start + 1;
        /* readlink driver: its last component; the IOMMU group (-1 without one) */
        if (sysfs_link_at(dfd, LINK_DRIVER, buf, sizeof(buf)) >= 0)
                copy_str(pf.driver, sizeof(pf.driver), buf);
        int g = sysfs_iommu_group_at(dfd);
        if (g >= 0)
                pf.iommu_group = g;
        *ret = pf;
        return 0;
}

static int scan_bus(void *arg) {
        pci_scan_bus(arg);
        return 0;
}

static int cmp_pf(const void *a, const void *b) {
        return strcmp(((const struct pci_pf *)a)->addr, ((const struct pci_pf *)b)->addr);
}

int pci_pf_scan(struct pci_pf **ret, size_t *ret_n) {
        _cleanup_(access_freep) struct pci_access *a = NULL;
        int r = -EIO;
        /* libpci lists every device of the bus in one go; a device removed while it lists them
         * aborts the listing through the error hook. Start over with a fresh handle a few times. */
        for (unsigned i = 0; i < SCAN_ATTEMPTS && r < 0; i++) {
                access_freep(&a);
                a = NULL;
                r = access_new(&a);
                if (r < 0)
                        return r;
                r = guarded(scan_bus, a);
        }
        if (r < 0) {
                /* libpci says only that it failed; a missing folder is the usual cause (no sysfs, a wrong root). */
                char path[MX_PATH_MAX];
                if (mx_path(path, sizeof(path), SYS_PCI_DEVICES) >= 0 && access(path, F_OK) < 0 && errno == ENOENT)
                        return -ENOENT;
                return r;
        }

        _cleanup_free_ struct pci_pf *pfs = NULL;
        size_t n = 0;
        int skipped = 0;
        for (struct pci_dev *d = a->devices; d; d = d->next) {
                struct pci_pf pf;
                r = read_pf(d, &pf);
                if (r == -ENOTSUP)
                        continue;
                if (r < 0) {
                        skipped++;
                        continue;
                }
                struct pci_pf *np = reallocarray(pfs, n + 1, sizeof(*pfs));
                if (!np)
                        return -ENOMEM;
                pfs = np;
                pfs[n++] = pf;
        }
        if (n > 1)
                qsort(pfs, n, sizeof(*pfs), cmp_pf);
        *ret_n = n;
        *ret = TAKE_PTR(pfs);
        return skipped;
}

struct get_dev_args {
        struct pci_access *a;
        struct pci_addr addr;
        struct pci_dev *dev;
};

static int get_dev(void *arg) {
        struct get_dev_args *g = arg;
        g->dev = pci_get_dev(g->a, g->addr.domain, g->addr.bus, g->addr.dev, g->addr.fn);
        return g->dev ? 0 : -ENOMEM;
}

int pci_pf_lookup(const char *bdf, struct pci_pf *ret) {
        struct pci_addr addr;
        char canon[PCI_ADDR_STRLEN];
        if (!bdf || pci_addr_parse(bdf, &addr) < 0)
                return -EINVAL;
        if (!pcidev_exists(pci_addr_format(&addr, canon)))
                return -ENODEV;
        _cleanup_(access_freep) struct pci_access *a = NULL;
        int r = access_new(&a);
        if (r < 0)
                return r;
        struct get_dev_args g = { .a = a, .addr = addr };
        r = guarded(get_dev, &g);
        if (r < 0)
                return r;
        struct pci_pf pf;
        r = read_pf(g.dev, &pf);
        pci_free_dev(g.dev);
        if (r < 0)
                return r;
        *ret = pf;
        return 0;
}

unsigned pci_read_resources(const char *dir, struct pci_resource res[static PCI_RESOURCE_LINES]) {
        char p[PATH_MAX + 16], text[4096];
        snprintf(p, sizeof(p), "%s/resource", dir);
        if (sysfs_read_at(AT_FDCWD, p, text, sizeof(text)) < 0)
                return 0;
        return parse_resources(text, res, PCI_RESOURCE_LINES);
}

size_t pci_upstream_bridges(const char *dir, char out[][PATH_MAX], size_t max) {
        char real[PATH_MAX];
        if (!realpath(dir, real))
                return 0;
        size_t n = 0;
        for (;;) {
                char *slash = strrchr(real, '/');
                if (!slash || slash == real)
                        break;
                *slash = 0;
                struct pci_addr a;
                const char *base = strrchr(real, '/');
                if (!base || pci_addr_parse(base + 1, &a) < 0 || n >= max)
                        break;
                snprintf(out[n++], PATH_MAX, "%s", real);
        }
        return n;
}

static bool res_set(const struct pci_resource *r) {
        return r->end > r->start;
}

#define IORESOURCE_PREFETCH 0x2000

int pci_vf_bar_room(const char *pf_bdf, unsigned total_vfs, struct pci_vf_bar_room *ret) {
        char dir[MX_PATH_MAX];
        int r = mx_path(dir, sizeof(dir), SYS_PCI_DEVICES "/%s", pf_bdf);
        if (r < 0)
                return r;
        struct pci_vf_bar_room room = { .total_vfs = total_vfs, .fit = total_vfs, .unassigned = -1 };
        struct pci_resource res[PCI_RESOURCE_LINES] = {};
        unsigned n = pci_read_resources(dir, res);
        if (n == 0 && access(dir, F_OK) < 0)
                return -ENODEV;
        /* per window kind (0 memory, 1 prefetchable): where the PF's VF BARs start, and their bytes per VF */
        uint64_t lowest[2] = { UINT64_MAX, UINT64_MAX }, per_vf[2] = {};
        for (unsigned i = PCI_IOV_RESOURCE_FIRST; i < PCI_IOV_RESOURCE_FIRST + PCI_IOV_RESOURCES && i < n; i++) {
                if (!res[i].flags)
                        continue;
                if (!res_set(&res[i])) {
                        room.unassigned = (int)i;
                        room.fit = 0;
                        continue;
                }
                uint64_t size = res[i].end - res[i].start + 1;
                int w = !!(res[i].flags & IORESOURCE_PREFETCH);
                room.need += size;
                lowest[w] = MIN(lowest[w], res[i].start);
                per_vf[w] += total_vfs ? size / total_vfs : size;
                room.below_4g |= res[i].end < (1ull << 32) && size - 1 >= (256ull << 20);
        }
        if (room.need == 0 && room.unassigned < 0)
                return -ENOENT;
        room.per_vf = per_vf[0] + per_vf[1];
        char bridges[8][PATH_MAX];
        size_t nb = pci_upstream_bridges(dir, bridges, ARRAY_SIZE(bridges));
        for (size_t b = 0; b < nb && room.unassigned < 0; b++) {
                struct pci_resource br[PCI_RESOURCE_LINES] = {};
                unsigned bn = pci_read_resources(bridges[b], br);
                if (bn <= PCI_BRIDGE_MEM_WINDOW)
                        continue; /* not a bridge, or its windows are not shown */
                for (int w = 0; w < 2; w++) {
                        if (!per_vf[w])
                                continue;
                        /* a prefetchable BAR goes through the prefetchable window, or the memory window
                         * when the bridge has none */
                        const struct pci_resource *win = &br[PCI_BRIDGE_MEM_WINDOW];
                        if (w && bn > PCI_BRIDGE_PREF_WINDOW && res_set(&br[PCI_BRIDGE_PREF_WINDOW]))
                                win = &br[PCI_BRIDGE_PREF_WINDOW];
                        uint64_t fwd = res_set(win) && win->start <= lowest[w] && lowest[w] <= win->end
                                               ? win->end - lowest[w] + 1 : 0;
                        uint64_t fit = fwd / per_vf[w];
                        if (fit < room.fit) {
                                room.fit = (unsigned)fit;
                                room.forwarded = fwd;
                                const char *base = strrchr(bridges[b], '/');
                                snprintf(room.bridge, sizeof(room.bridge), "%s", base ? base + 1 : bridges[b]);
                        }
                }
        }
        *ret = room;
        return 0;
}
