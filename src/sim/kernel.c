// SPDX-License-Identifier: MIT
// The Linux kernel's PCI rules (drivers/pci/iov.c, pci-driver.c, drivers/base) with the kernel's errno.
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "card.h"
#include "mxgpu/cards.h"
#include "mxgpu/log.h"
#include "mxgpu/names.h"
#include "sim.h"
#include "uevent.h"

#define PCI_ANY_ID 0xffffffffu

static const char *const drv_names[DRVI_COUNT] = {
        [DRVI_PCI_PF_STUB] = DRV_PCI_PF_STUB,
        [DRVI_VFIO_PCI] = DRV_VFIO_PCI,
        [DRVI_AMDGPU] = DRV_AMDGPU,
        [DRVI_GIM] = DRV_GIM,
        [DRVI_NVME] = DRV_NVME,
        [DRVI_PCIEPORT] = "pcieport",
};

/* The order in which device_attach() offers a device to the drivers (module load order). */
static const int probe_order[] = { DRVI_PCIEPORT, DRVI_NVME, DRVI_AMDGPU, DRVI_GIM, DRVI_VFIO_PCI, DRVI_PCI_PF_STUB };

const char *sim_drv_name(int drv) { return drv >= 0 && drv < DRVI_COUNT ? drv_names[drv] : NULL; }

int sim_drv_by_name(const char *name) {
        for (int d = 0; d < DRVI_COUNT; d++)
                if (streq(drv_names[d], name))
                        return d;
        return -ENOENT;
}

uint64_t sim_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void sim_sleep_unlocked(struct sim_host *h, uint64_t ns) {
        if (!ns || h->starting)
                return;
        pthread_mutex_unlock(&h->lock);
        struct timespec ts = { (time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull) };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
        pthread_mutex_lock(&h->lock);
}

/* --- the kernel's number parsers (lib/kstrtox.c) --- */

int kstrtoull_kernel(const char *s, unsigned base, unsigned long long *ret) {
        if (s[0] == '+')
                s++;
        if (base == 0) {
                if (s[0] == '0' && tolower((unsigned char)s[1]) == 'x' && isxdigit((unsigned char)s[2]))
                        base = 16, s += 2;
                else if (s[0] == '0')
                        base = 8;
                else
                        base = 10;
        } else if (base == 16 && s[0] == '0' && tolower((unsigned char)s[1]) == 'x') {
                s += 2;
        }
        unsigned long long v = 0;
        unsigned n = 0;
        bool overflow = false;
        for (;; s++, n++) {
                unsigned d;
                char c = (char)tolower((unsigned char)*s);
                if (c >= '0' && c <= '9')
                        d = (unsigned)(c - '0');
                else if (c >= 'a' && c <= 'f')
                        d = (unsigned)(c - 'a' + 10);
                else
                        break;
                if (d >= base)
                        break;
                if (v > (~0ull - d) / base)
                        overflow = true;
                v = v * base + d;
        }
        if (n == 0)
                return -EINVAL;
        if (overflow)
                return -ERANGE;
        if (*s == '\n')
                s++;
        if (*s)
                return -EINVAL;
        *ret = v;
        return 0;
}

static int kstrtou16_kernel(const char *s, uint16_t *ret) {
        unsigned long long v;
        int r = kstrtoull_kernel(s, 0, &v);
        if (r < 0)
                return r;
        if (v > 0xffff)
                return -ERANGE;
        *ret = (uint16_t)v;
        return 0;
}

int kstrtobool_kernel(const char *s, bool *ret) {
        switch (s[0]) {
        case 'y': case 'Y': case 't': case 'T': case '1':
                *ret = true;
                return 0;
        case 'n': case 'N': case 'f': case 'F': case '0':
                *ret = false;
                return 0;
        case 'o': case 'O':
                if (s[1] == 'n' || s[1] == 'N') {
                        *ret = true;
                        return 0;
                }
                if (s[1] == 'f' || s[1] == 'F') {
                        *ret = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* --- uevents --- */

int sim_fn_uevent_text(const struct sim_fn *fn, char *buf, size_t size) {
        int n = 0;
        if (fn->drv != DRVI_NONE)
                n = snprintf(buf, size, "DRIVER=%s\n", sim_drv_name(fn->drv));
        if (n < 0 || (size_t)n >= size)
                return -ENAMETOOLONG;
        int m = snprintf(buf + n, size - n,
                         "PCI_CLASS=%X\nPCI_ID=%04X:%04X\nPCI_SUBSYS_ID=%04X:%04X\nPCI_SLOT_NAME=%s\n"
                         "MODALIAS=pci:v%08Xd%08Xsv%08Xsd%08Xbc%02Xsc%02Xi%02X\n",
                         fn->class, fn->vendor, fn->device, fn->subvendor, fn->subdevice, fn->bdf,
                         fn->vendor, fn->device, fn->subvendor, fn->subdevice,
                         fn->class >> 16, (fn->class >> 8) & 0xff, fn->class & 0xff);
        return m < 0 || (size_t)m >= size - n ? -ENAMETOOLONG : n + m;
}

void kern_uevent(struct sim_host *h, const char *action, struct sim_fn *fn, const char *extra_devpath,
                 const char *subsystem, const char *const *props) {
        if (h->uevent_fd < 0 || h->starting)
                return;
        char devpath[512] = "/devices/virtual";
        if (fn) {
                char dir[400];
                if (sim_fn_sysfs_dir(fn, dir, sizeof(dir)) < 0)
                        return;
                snprintf(devpath, sizeof(devpath), "/%s%s%s", dir, extra_devpath ? "/" : "", extra_devpath ? extra_devpath : "");
        } else if (extra_devpath) {
                snprintf(devpath, sizeof(devpath), "/devices/virtual/%s", extra_devpath);
        }
        const char *pci_props[8] = { NULL };
        char text[512];
        if (fn && !extra_devpath && !props) {
                /* a PCI device event carries the uevent attribute's variables (DRIVER only while bound) */
                if (sim_fn_uevent_text(fn, text, sizeof(text)) < 0)
                        return;
                unsigned n = 0;
                for (char *save = NULL, *l = strtok_r(text, "\n", &save); l && n + 1 < ARRAY_SIZE(pci_props);
                     l = strtok_r(NULL, "\n", &save)) {
                        if (streq(action, "unbind") && strncmp(l, "DRIVER=", 7) == 0)
                                continue;
                        pci_props[n++] = l;
                }
                props = pci_props;
        }
        int r = sim_uevent_send(h->uevent_fd, action, devpath, subsystem, NULL, props);
        if (r < 0)
                log_warning_errno(r, "uevent %s %s not sent", action, devpath);
}

static void uevent_pci(struct sim_host *h, const char *action, struct sim_fn *fn) {
        kern_uevent(h, action, fn, NULL, "pci", NULL);
}

/* --- driver matching (drivers/pci/pci-driver.c) --- */

static bool is_bridge(const struct sim_fn *fn) {
        return fn->kind == FN_ROOT_PORT || fn->kind == FN_UPSTREAM || fn->kind == FN_DOWNSTREAM;
}

static bool amd_vf_id(uint16_t vendor, uint16_t device) {
        if (vendor != AMD_VENDOR_ID)
                return false;
        for (unsigned i = 0; mx_card_nth(i); i++)
                if (mx_card_nth(i)->vf_id == device)
                        return true;
        return false;
}

static bool drv_static_match(int drv, const struct sim_fn *fn) {
        switch (drv) {
        case DRVI_AMDGPU:
                return !is_bridge(fn) && (mx_card_by_pf_id(fn->vendor, fn->device) || amd_vf_id(fn->vendor, fn->device));
        case DRVI_GIM:
                return fn->kind == FN_PF && mx_card_by_pf_id(fn->vendor, fn->device);
        case DRVI_NVME:
                return fn->class == 0x010802;
        case DRVI_PCIEPORT:
                return is_bridge(fn);
        default: /* pci-pf-stub and vfio-pci have no ids of their own */
                return false;
        }
}

static bool drv_match(const struct sim_host *h, int drv, const struct sim_fn *fn) {
        if (fn->driver_override)
                return streq(fn->driver_override, sim_drv_name(drv));
        const struct sim_driver *d = &h->drivers[drv];
        for (unsigned i = 0; i < d->n_dyn_ids; i++)
                if ((d->dyn_ids[i].vendor == PCI_ANY_ID || d->dyn_ids[i].vendor == fn->vendor) &&
                    (d->dyn_ids[i].device == PCI_ANY_ID || d->dyn_ids[i].device == fn->device))
                        return true;
        return drv_static_match(drv, fn);
}

bool kern_drv_has_sriov_configure(const struct sim_host *h, int drv) {
        switch (drv) {
        case DRVI_PCI_PF_STUB:
        case DRVI_NVME:
                return true;
        case DRVI_VFIO_PCI:
                return h->vfio_enable_sriov;
        default: /* amdgpu, gim (enables SR-IOV itself), pcieport */
                return false;
        }
}

/* --- device lock and waits --- */

static int dev_lock(struct sim_host *h, struct sim_fn *fn) {
        while (fn->locked && !fn->dead && !h->shutting_down)
                pthread_cond_wait(&h->cond, &h->lock);
        if (fn->dead || h->shutting_down)
                return -ENODEV;
        fn->locked = true;
        return 0;
}

static void dev_unlock(struct sim_host *h, struct sim_fn *fn) {
        fn->locked = false;
        pthread_cond_broadcast(&h->cond);
}

/* vfio-pci's remove waits until the group's user lets go, as the kernel does ("blocked until device is
 * released"). pthread_cond_wait drops the model lock meanwhile, so the release can come in. */
static void wait_vfio_closed(struct sim_host *h, struct sim_fn *fn, bool surprise) {
        while (fn->vfio_open && !surprise && !h->shutting_down)
                pthread_cond_wait(&h->cond, &h->lock);
}

/* --- removing functions --- */

static void host_unlink(struct sim_host *h, struct sim_fn *fn) {
        sim_host_del_fn(h, fn);
        if (fn->physfn && fn->physfn->pf && fn->vf_index < fn->physfn->pf->total_vfs &&
            fn->physfn->pf->vfs[fn->vf_index] == fn)
                fn->physfn->pf->vfs[fn->vf_index] = NULL;
        pthread_cond_broadcast(&h->cond);
        sim_fn_unref(fn); /* the host's reference */
}

static int sriov_disable(struct sim_host *h, struct sim_fn *pf, bool surprise);

/* device_release_driver(): the driver's remove, then the unbind uevent. */
static void drv_remove(struct sim_host *h, struct sim_fn *fn, bool surprise) {
        int drv = fn->drv;
        if (drv == DRVI_NONE)
                return;
        if (drv == DRVI_VFIO_PCI) {
                wait_vfio_closed(h, fn, surprise);
                if (fn->drv != DRVI_VFIO_PCI)
                        return;
                char p[64];
                snprintf(p, sizeof(p), "vfio-dev/vfio%d", fn->vfio_dev_index);
                kern_uevent(h, "remove", fn, p, "vfio-dev", NULL);
                if (fn->iommu_group >= 0) {
                        char g[32], dn[48];
                        snprintf(g, sizeof(g), "vfio/%d", fn->iommu_group);
                        snprintf(dn, sizeof(dn), "DEVNAME=vfio/%d", fn->iommu_group);
                        const char *props[] = { dn, NULL };
                        kern_uevent(h, "remove", NULL, g, "vfio", props);
                }
                fn->vfio_dev_index = -1;
                fn->vfio_open = fn->vfio_closing = false;
        }
        if (drv == DRVI_GIM && fn->pf && fn->pf->num_vfs) /* GIM disables SR-IOV when it unloads */
                (void)sriov_disable(h, fn, surprise);
        fn->drv = DRVI_NONE;
        uevent_pci(h, "unbind", fn);
}

static void remove_tree(struct sim_host *h, struct sim_fn *fn, bool surprise);

static void remove_children(struct sim_host *h, struct sim_fn *fn, bool surprise) {
        if (fn->pf)
                for (unsigned i = 0; i < fn->pf->total_vfs; i++)
                        if (fn->pf->vfs[i])
                                remove_tree(h, fn->pf->vfs[i], surprise);
        for (;;) {
                struct sim_fn *child = NULL;
                for (size_t i = 0; i < h->n_fns && !child; i++)
                        if (h->fns[i]->parent == fn)
                                child = h->fns[i];
                if (!child)
                        break;
                remove_tree(h, child, surprise);
        }
}

/* pci_stop_and_remove_bus_device(): children first, then the driver, then the device. */
static void remove_tree(struct sim_host *h, struct sim_fn *fn, bool surprise) {
        if (fn->dead)
                return;
        sim_fn_ref(fn);
        remove_children(h, fn, surprise);
        if (!fn->dead) {
                drv_remove(h, fn, surprise);
                if (!fn->dead) {
                        uevent_pci(h, "remove", fn);
                        host_unlink(h, fn);
                }
        }
        sim_fn_unref(fn);
}

void kern_remove_fn(struct sim_host *h, struct sim_fn *fn) {
        remove_tree(h, fn, true);
}

/* --- SR-IOV enable/disable (drivers/pci/iov.c) --- */

static uint64_t vf_bytes(const struct sim_pf *pf) {
        uint64_t s = 0;
        for (unsigned i = 0; i < SIM_BARS; i++)
                s += pf->vf_bars[i].size;
        return s;
}

static int device_attach(struct sim_host *h, struct sim_fn *fn);

static struct sim_fn *vf_create(struct sim_host *h, struct sim_fn *pf, unsigned i) {
        struct sim_pf *p = pf->pf;
        uint16_t rid = (uint16_t)sim_vf_rid(&pf->addr, p->vf_offset, p->vf_stride, i);
        struct pci_addr a;
        pci_addr_from_rid(pf->addr.domain, rid, &a);
        struct sim_fn *vf = sim_fn_new(h, FN_VF, &a, pf->parent);
        if (!vf)
                return NULL;
        vf->vendor = pf->vendor;
        vf->device = p->vf_device;
        vf->subvendor = pf->subvendor;
        vf->subdevice = pf->subdevice;
        vf->class = pf->class;
        vf->revision = pf->revision;
        vf->numa_node = pf->numa_node;
        vf->physfn = pf;
        vf->vf_index = i;
        snprintf(vf->model, sizeof(vf->model), "%.28s-vf", pf->model);
        for (unsigned b = 0; b < SIM_BARS; b++)
                if (p->vf_bars[b].size) {
                        vf->bars[b] = p->vf_bars[b];
                        vf->bars[b].addr = p->vf_bars[b].addr + (uint64_t)i * p->vf_bars[b].size;
                }
        vf->iommu_group = sim_host_alloc_group(h);
        cfg_build(vf);
        return vf;
}

static int sriov_enable(struct sim_host *h, struct sim_fn *fn, unsigned n) {
        struct sim_pf *pf = fn->pf;
        if (h->mmio_room) {
                uint64_t used = 0;
                for (size_t i = 0; i < h->n_fns; i++)
                        if (h->fns[i]->pf && h->fns[i] != fn)
                                used += h->fns[i]->pf->num_vfs * vf_bytes(h->fns[i]->pf);
                if (used + n * vf_bytes(pf) > h->mmio_room)
                        return -ENOMEM; /* pci_enable_sriov: no room to assign the VF BARs */
        }
        cfg_sync_sriov(fn, n);
        /* msleep(100) after VF Enable, then each VF is added */
        sim_sleep_unlocked(h, h->lat.vf_enable + n * h->lat.vf_enable_per_vf);
        if (fn->dead)
                return -ENODEV;
        for (unsigned i = 0; i < n; i++) {
                if (pf->vf_missing[i] || pf->vfs[i])
                        continue;
                struct sim_fn *vf = vf_create(h, fn, i);
                if (!vf)
                        return -ENOMEM;
                sim_host_add_fn(h, vf);
                pf->vfs[i] = vf;
                uevent_pci(h, "add", vf);
                if (pf->autoprobe)
                        (void)device_attach(h, vf);
                if (!vf->dead)
                        uevent_pci(h, "change", vf);
        }
        uevent_pci(h, "change", fn);
        pf->num_vfs = n;
        if (pf->card)
                sim_card_set_numvfs(pf->card, n);
        return (int)n;
}

static int sriov_disable(struct sim_host *h, struct sim_fn *fn, bool surprise) {
        struct sim_pf *pf = fn->pf;
        for (unsigned i = 0; i < pf->total_vfs; i++) {
                struct sim_fn *vf = pf->vfs[i];
                if (!vf)
                        continue;
                sim_fn_ref(vf);
                if (surprise || dev_lock(h, vf) == 0) {
                        bool locked = !surprise;
                        drv_remove(h, vf, surprise);
                        if (!vf->dead) {
                                uevent_pci(h, "remove", vf);
                                host_unlink(h, vf);
                        }
                        if (locked)
                                dev_unlock(h, vf);
                }
                sim_fn_unref(vf);
        }
        cfg_sync_sriov(fn, 0);
        sim_sleep_unlocked(h, h->lat.vf_disable); /* ssleep(1) after clearing VF Enable */
        pf->num_vfs = 0;
        if (pf->card)
                sim_card_set_numvfs(pf->card, 0);
        return 0;
}

/* --- probing --- */

/* pci_device_probe() + the driver's probe; 0 when bound. */
static int drv_probe(struct sim_host *h, int drv, struct sim_fn *fn) {
        /* pci_device_can_probe(): a VF of a PF with autoprobe off binds only through driver_override */
        if (fn->kind == FN_VF && fn->physfn && !fn->physfn->pf->autoprobe && !fn->driver_override)
                return -ENODEV;
        if (drv == DRVI_VFIO_PCI) {
                if (is_bridge(fn))
                        return -EINVAL; /* vfio_pci_probe: only normal headers */
                if (fn->iommu_group < 0)
                        return -EINVAL; /* vfio_iommu_group_get: no IOMMU group */
        }
        fn->drv = drv;
        if (drv == DRVI_VFIO_PCI) {
                /* the device's vfio-dev index: lowest free */
                int k = 0;
                for (bool used = true; used; k++) {
                        used = false;
                        for (size_t i = 0; i < h->n_fns && !used; i++)
                                used = h->fns[i] != fn && h->fns[i]->vfio_dev_index == k;
                        if (!used)
                                break;
                }
                fn->vfio_dev_index = k;
                fn->vfio_open = false;
                fn->vfio_uid = getuid();
                fn->vfio_gid = getgid();
                fn->vfio_mode = 0600;
                char g[32], dn[48], maj[32], min[32], p[64];
                snprintf(g, sizeof(g), "vfio/%d", fn->iommu_group);
                snprintf(dn, sizeof(dn), "DEVNAME=vfio/%d", fn->iommu_group);
                snprintf(maj, sizeof(maj), "MAJOR=%d", 242);
                snprintf(min, sizeof(min), "MINOR=%d", fn->iommu_group);
                const char *props[] = { maj, min, dn, NULL };
                kern_uevent(h, "add", NULL, g, "vfio", props);
                snprintf(p, sizeof(p), "vfio-dev/vfio%d", k);
                kern_uevent(h, "add", fn, p, "vfio-dev", NULL);
        }
        if (drv == DRVI_GIM && fn->pf && fn->pf->total_vfs && fn->pf->num_vfs == 0) {
                /* GIM calls pci_enable_sriov(TotalVFs) in its probe */
                int r = sriov_enable(h, fn, fn->pf->total_vfs);
                if (r < 0) {
                        fn->drv = DRVI_NONE;
                        return r;
                }
        }
        uevent_pci(h, "bind", fn);
        return 0;
}

/* device_attach(): the first matching driver whose probe succeeds; errors are not reported. */
static int device_attach(struct sim_host *h, struct sim_fn *fn) {
        if (fn->drv != DRVI_NONE)
                return 1;
        for (size_t i = 0; i < ARRAY_SIZE(probe_order); i++) {
                int d = probe_order[i];
                if (!drv_match(h, d, fn))
                        continue;
                if (drv_probe(h, d, fn) == 0)
                        return 1;
                if (fn->dead)
                        return 0;
        }
        return 0;
}

int kern_bind_initial(struct sim_host *h, struct sim_fn *fn, int drv) {
        h->starting = true;
        int r = drv_probe(h, drv, fn);
        h->starting = false;
        return r;
}

/* --- fault injection --- */

int kern_check_fault(struct sim_host *h, const char *target, const char *attr) {
        for (unsigned i = 0; i < h->n_faults; i++) {
                struct sim_write_fault *f = &h->faults[i];
                if (f->count == 0 || !streq(f->attr, attr) || (!streq(f->target, target) && !streq(f->target, "*")))
                        continue;
                f->count--;
                return -f->err;
        }
        return 0;
}

/* --- stores --- */

/* sriov_numvfs_store() in drivers/pci/iov.c, in its order. */
int kern_store_sriov_numvfs(struct sim_host *h, struct sim_fn *fn, const char *buf) {
        uint16_t n;
        int r = kstrtou16_kernel(buf, &n);
        /* Debian 12's kernel (6.1) answers every value it cannot parse into 16 bits, overflow
         * included ("65536"), with EINVAL: measured by make check-vm-kernel. ERANGE means only
         * "above TotalVFs". */
        if (r < 0)
                return -EINVAL;
        if (n > fn->pf->total_vfs)
                return -ERANGE;
        r = dev_lock(h, fn);
        if (r < 0)
                return r;
        if (n == fn->pf->num_vfs)
                r = 0;
        else if (fn->drv == DRVI_NONE || !kern_drv_has_sriov_configure(h, fn->drv))
                r = -ENOENT;
        else if (n == 0)
                r = sriov_disable(h, fn, false);
        else if (fn->pf->num_vfs)
                r = -EBUSY;
        else
                r = sriov_enable(h, fn, n);
        dev_unlock(h, fn);
        return r < 0 ? r : 0;
}

int kern_store_autoprobe(struct sim_host *h, struct sim_fn *fn, const char *buf) {
        bool b;
        if (kstrtobool_kernel(buf, &b) < 0)
                return -EINVAL;
        fn->pf->autoprobe = b;
        return 0;
}

/* driver_set_override(): cut at the first newline; empty clears. */
int kern_store_driver_override(struct sim_host *h, struct sim_fn *fn, const char *buf) {
        size_t len = strlen(buf);
        if (len >= 4096 - 1)
                return -EINVAL;
        char *v = strndup(buf, strcspn(buf, "\n"));
        if (!v)
                return -ENOMEM;
        free(fn->driver_override);
        fn->driver_override = NULL;
        if (*v)
                fn->driver_override = v;
        else
                free(v);
        return 0;
}

int kern_store_reset(struct sim_host *h, struct sim_fn *fn, const char *buf) {
        unsigned long long v;
        if (kstrtoull_kernel(buf, 0, &v) < 0 || v != 1)
                return -EINVAL;
        int r = dev_lock(h, fn);
        if (r < 0)
                return r;
        fn->resets++;
        dev_unlock(h, fn);
        return 0;
}

int kern_store_remove(struct sim_host *h, struct sim_fn *fn, const char *buf) {
        unsigned long long v;
        if (kstrtoull_kernel(buf, 0, &v) < 0)
                return -EINVAL;
        if (!v)
                return 0;
        int r = dev_lock(h, fn);
        if (r < 0)
                return r;
        remove_children(h, fn, false);
        drv_remove(h, fn, false);
        dev_unlock(h, fn);
        if (!fn->dead) {
                uevent_pci(h, "remove", fn);
                host_unlink(h, fn);
        }
        return 0;
}

/* The device name in a bind/unbind/drivers_probe write: sysfs_streq() ignores one trailing newline. */
static struct sim_fn *find_written_device(struct sim_host *h, const char *buf) {
        char name[64];
        size_t n = strcspn(buf, "\n");
        if (n >= sizeof(name) || (buf[n] == '\n' && buf[n + 1]))
                return NULL;
        memcpy(name, buf, n);
        name[n] = 0;
        struct sim_fn *fn = sim_host_find(h, name);
        /* bus_find_device_by_name compares the full name */
        return fn && streq(fn->bdf, name) ? fn : NULL;
}

/* bind_store() in drivers/base/bus.c. */
int kern_store_bind(struct sim_host *h, int drv, const char *buf) {
        sim_sleep_unlocked(h, h->lat.bind);
        struct sim_fn *fn = find_written_device(h, buf);
        if (!fn || !drv_match(h, drv, fn))
                return -ENODEV;
        sim_fn_ref(fn);
        int r = dev_lock(h, fn);
        if (r == 0) {
                r = fn->drv != DRVI_NONE ? -EBUSY : drv_probe(h, drv, fn);
                dev_unlock(h, fn);
        }
        sim_fn_unref(fn);
        return r;
}

int kern_store_unbind(struct sim_host *h, int drv, const char *buf) {
        struct sim_fn *fn = find_written_device(h, buf);
        if (!fn || fn->drv != drv)
                return -ENODEV;
        sim_fn_ref(fn);
        int r = dev_lock(h, fn);
        if (r == 0) {
                if (fn->drv == drv)
                        drv_remove(h, fn, false);
                dev_unlock(h, fn);
        }
        sim_fn_unref(fn);
        return r;
}

/* new_id_store(): "VVVV DDDD [SVVV SDDD CCCC MMMM DATA]" in hex; then driver_attach(). */
int kern_store_new_id(struct sim_host *h, int drv, const char *buf) {
        unsigned vendor, device, sv = PCI_ANY_ID, sd = PCI_ANY_ID, cls = 0, mask = 0;
        unsigned long data = 0;
        int fields = sscanf(buf, "%x %x %x %x %x %x %lx", &vendor, &device, &sv, &sd, &cls, &mask, &data);
        if (fields < 2)
                return -EINVAL;
        struct sim_driver *d = &h->drivers[drv];
        for (unsigned i = 0; i < d->n_dyn_ids; i++)
                if (d->dyn_ids[i].vendor == vendor && d->dyn_ids[i].device == device)
                        return -EEXIST;
        if (d->n_dyn_ids >= SIM_MAX_DYN_IDS)
                return -ENOMEM;
        d->dyn_ids[d->n_dyn_ids].vendor = vendor;
        d->dyn_ids[d->n_dyn_ids].device = device;
        d->n_dyn_ids++;
        /* driver_attach(): every unbound matching device is offered to the driver */
        for (size_t i = 0; i < h->n_fns; i++) {
                struct sim_fn *fn = h->fns[i];
                if (fn->drv != DRVI_NONE || fn->locked || !drv_match(h, drv, fn))
                        continue;
                (void)drv_probe(h, drv, fn);
        }
        return 0;
}

/* drivers_probe_store(): attach an unbound device; nothing binding is not an error. */
int kern_store_drivers_probe(struct sim_host *h, const char *buf) {
        struct sim_fn *fn = find_written_device(h, buf);
        if (!fn)
                return -ENODEV;
        sim_fn_ref(fn);
        sim_sleep_unlocked(h, h->lat.bind);
        int r = dev_lock(h, fn);
        if (r == 0) {
                (void)device_attach(h, fn);
                dev_unlock(h, fn);
        }
        sim_fn_unref(fn);
        return r;
}

/* rescan_store() in drivers/pci/pci-sysfs.c: kstrtoul(buf, 0) (any failure is EINVAL); non-zero runs
 * pci_rescan_bus() on every bus under the rescan lock; 0 does nothing. */
int kern_store_rescan(struct sim_host *h, const char *buf) {
        unsigned long long v;
        if (kstrtoull_kernel(buf, 0, &v) < 0)
                return -EINVAL;
        if (!v)
                return 0;
        _cleanup_free_ struct sim_hotplug *added = NULL;
        size_t n = 0;
        int r = sim_host_rescan(h, &added, &n);
        if (r < 0)
                return r;
        /* a probe may sleep with the lock dropped (gim enables VFs): hold the new functions meanwhile */
        for (size_t i = 0; i < n; i++)
                sim_fn_ref(added[i].fn);
        /* pci_bus_add_device(): device_add() sends "add", then the initial probe */
        for (size_t i = 0; i < n; i++) {
                struct sim_fn *fn = added[i].fn;
                if (!fn->dead)
                        uevent_pci(h, "add", fn);
                if (!fn->dead && added[i].drv != DRVI_NONE && dev_lock(h, fn) == 0) {
                        if (added[i].drv == SIM_HOTPLUG_PROBE)
                                (void)device_attach(h, fn);
                        else if (fn->drv == DRVI_NONE)
                                (void)drv_probe(h, added[i].drv, fn); /* the host's setup hands it to that driver */
                        dev_unlock(h, fn);
                }
        }
        for (size_t i = 0; i < n; i++)
                sim_fn_unref(added[i].fn);
        return 0;
}

/* module_param(enable_sriov, bool, 0644) of vfio-pci: param_set_bool accepts what kstrtobool does. */
int kern_store_enable_sriov_param(struct sim_host *h, const char *buf) {
        bool b;
        if (kstrtobool_kernel(buf, &b) < 0)
                return -EINVAL;
        h->vfio_enable_sriov = b;
        return 0;
}

/* --- VFIO group nodes --- */

struct sim_fn *kern_vfio_fn(struct sim_host *h, int group) {
        for (size_t i = 0; i < h->n_fns; i++)
                if (h->fns[i]->iommu_group == group && h->fns[i]->drv == DRVI_VFIO_PCI)
                        return h->fns[i];
        return NULL;
}

/* The kernel has released a group by the time its holder's close() returns. Through FUSE, close()
 * waits for the flush but not for the release, which comes later on another thread: an open right
 * after a close waits for that release (a few ms; up to 2 s on a loaded machine) rather than fail with
 * EBUSY. A group whose holder has not closed it is refused at once. */
static void wait_vfio_release(struct sim_host *h, struct sim_fn *fn) {
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline); /* the clock of h->cond */
        deadline.tv_sec += 2;
        while (fn->vfio_open && !fn->dead && !h->shutting_down)
                if (pthread_cond_timedwait(&h->cond, &h->lock, &deadline) == ETIMEDOUT)
                        break;
}

int kern_vfio_open(struct sim_host *h, int group, struct sim_fn **ret) {
        struct sim_fn *fn = kern_vfio_fn(h, group);
        if (!fn)
                return -ENOENT;
        if (fn->vfio_open && fn->vfio_closing) {
                sim_fn_ref(fn);
                wait_vfio_release(h, fn);
                bool same = !fn->dead && kern_vfio_fn(h, group) == fn;
                sim_fn_unref(fn);
                if (!same)
                        return -ENOENT; /* unbound or removed meanwhile */
        }
        if (fn->vfio_open)
                return -EBUSY; /* a VFIO group has one user at a time */
        fn->vfio_open = true;
        fn->vfio_closing = false;
        if (fn->kind == FN_VF && fn->physfn && fn->physfn->pf && fn->physfn->pf->card)
                sim_card_vf_used(fn->physfn->pf->card, fn->vf_index);
        sim_fn_ref(fn);
        *ret = fn;
        return 0;
}

void kern_vfio_closing(struct sim_host *h, struct sim_fn *fn) {
        if (fn->vfio_open)
                fn->vfio_closing = true;
}

void kern_vfio_release(struct sim_host *h, struct sim_fn *fn) {
        fn->vfio_open = false;
        fn->vfio_closing = false;
        pthread_cond_broadcast(&h->cond);
        sim_fn_unref(fn);
}
