// SPDX-License-Identifier: MIT
// The difference between what the config asks of a PF and what its hardware has, as ordered actions.
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "mxgpu/macro.h"
#include "mxgpu/names.h"
#include "pf.h"

const char *action_kind_name(enum action_kind k) {
        static const char *const names[] = {
                [ACT_PF_BIND] = "pf-driver", [ACT_AUTOPROBE_OFF] = "autoprobe", [ACT_SCHED_STOP] = "scheduler-stop",
                [ACT_PARTITION_CLEAR] = "framebuffer-clear", [ACT_SET_NUMVFS] = "vf-count",
                [ACT_PARTITION] = "framebuffer", [ACT_SCHED] = "scheduler", [ACT_VF_RELEASE] = "vf-release",
                [ACT_VF_BIND] = "vfio-bind",
        };
        return (unsigned)k < ARRAY_SIZE(names) ? names[k] : "unknown";
}

static struct action *add(struct pf_actions *r, enum action_kind k, int vf, const char *fmt, ...) _printf_(4, 5);
static struct action *add(struct pf_actions *r, enum action_kind k, int vf, const char *fmt, ...) {
        static struct action spill; /* past the end (cannot happen: the array holds every kind once and each VF twice) */
        if (r->n >= ARRAY_SIZE(r->a))
                return &spill;
        struct action *a = &r->a[r->n++];
        a->kind = k;
        a->vf = vf;
        a->take_over = false;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->what, sizeof(a->what), fmt, ap);
        va_end(ap);
        return a;
}

static const struct vf_ref *find_vf(const struct pf_observed *o, unsigned index) {
        for (size_t i = 0; i < o->n_vfs; i++)
                if (o->vfs[i].index == index)
                        return &o->vfs[i];
        return NULL;
}

/* "0000:03:02.0 (vf 0), 0000:03:02.1 (vf 1)": the VFs that are in use, for refusals. */
static size_t in_use_list(const struct pf_observed *o, const bool *only, char *buf, size_t size) {
        size_t n = 0, len = 0;
        buf[0] = 0;
        for (size_t i = 0; i < o->n_vfs; i++) {
                unsigned idx = o->vfs[i].index;
                if (idx >= PF_MAX_VFS || !o->vf_in_use[idx] || (only && !only[idx]))
                        continue;
                const char *dom = o->vf_domain[idx];
                int w = snprintf(buf + len, size - len, "%s%s (vf %u%s%s)", n ? ", " : "", o->vfs[i].addr, idx,
                                 dom ? ", VM " : "", dom ? dom : "");
                if (w > 0 && (size_t)w < size - len)
                        len += (size_t)w;
                n++;
        }
        return n;
}

/* A VF held by a host driver: bound to anything but vfio-pci (amdgpu grabbed it while autoprobe was on). */
static bool host_held(const struct vf_ref *v) {
        return v->driver[0] && !streq(v->driver, DRV_VFIO_PCI);
}

/* "0000:03:02.0 (vf 0, amdgpu)": the VFs a host driver holds, for refusals. */
static size_t host_held_list(const struct pf_observed *o, const bool *only, char *buf, size_t size) {
        size_t n = 0, len = 0;
        buf[0] = 0;
        for (size_t i = 0; i < o->n_vfs; i++) {
                unsigned idx = o->vfs[i].index;
                if (!host_held(&o->vfs[i]) || (only && (idx >= PF_MAX_VFS || !only[idx])))
                        continue;
                int w = snprintf(buf + len, size - len, "%s%s (vf %u, %s)", n ? ", " : "", o->vfs[i].addr, idx,
                                 o->vfs[i].driver);
                if (w > 0 && (size_t)w < size - len)
                        len += (size_t)w;
                n++;
        }
        return n;
}

/* A PF driver whose unbind disables SR-IOV, as GIM does at unload: its VFs go with it (the kernel
 * itself leaves the VFs of a PF driver that goes). */
static bool unbind_drops_vfs(const char *driver) {
        return streq(driver, DRV_GIM);
}

static bool sched_matches(const struct pf_desired *d, const struct pf_observed *o, unsigned n) {
        uint32_t active = n >= 32 ? 0xffffffffu : (1u << n) - 1;
        if (o->sched.n_blocks == 0)
                return true; /* nothing to program */
        for (unsigned b = 0; b < o->sched.n_blocks; b++) {
                const struct gpuiov_sched_block *blk = &o->sched.block[b];
                if (memcmp(blk->quanta_ms, d->quanta_options, SCH_QUANTA_ENTRIES) != 0)
                        return false;
                if ((blk->active & ~SCH_ACTIVE_PF_BIT) != active)
                        return false;
                for (unsigned i = 0; i < n && i < GPUIOV_MAX_VFS; i++)
                        if (blk->vf_index[i] != d->vf[i].quanta_index)
                                return false;
        }
        return true;
}

void pf_diff(const struct pci_pf *pf, const struct pf_desired *d, const struct pf_observed *o,
             bool mode_known, enum gpuiov_sched_mode known_mode, struct pf_actions *r) {
        memset(r, 0, sizeof(*r));
        char list[PF_REASON_MAX - 160];
        const char *want = d->pf_driver == MX_PF_DRIVER_GIM  ? DRV_GIM
                         : d->pf_driver == MX_PF_DRIVER_KEEP ? NULL
                                                             : DRV_PCI_PF_STUB;

        /* 1. Who holds the PF. A host GPU driver, or gim (which enabled SR-IOV itself), is never pushed
         * aside unless the config says so (hardware.md 6). */
        if (streq(o->driver, DRV_AMDGPU) && !d->take_over_host_driver) {
                snprintf(r->refused, sizeof(r->refused),
                         "the host GPU driver amdgpu owns the PF; blacklist amdgpu for this card, or set "
                         "take_over_host_driver = yes to let mxgpud unbind it");
                return;
        }
        if (streq(o->driver, DRV_GIM) && d->pf_driver != MX_PF_DRIVER_GIM && !d->take_over_host_driver) {
                snprintf(r->refused, sizeof(r->refused),
                         "gim owns the PF and enables SR-IOV itself: set pf_driver = gim to use the VFs it made, or "
                         "take_over_host_driver = yes to let mxgpud unbind it (which removes its VFs)");
                return;
        }
        if (d->pf_driver == MX_PF_DRIVER_GIM && !streq(o->driver, DRV_GIM)) {
                snprintf(r->refused, sizeof(r->refused),
                         "pf_driver = gim, but the PF is bound to %s: load the gim module, or set pf_driver = pci-pf-stub",
                         o->driver[0] ? o->driver : "no driver");
                return;
        }
        if (d->pf_driver == MX_PF_DRIVER_KEEP && !o->driver[0]) {
                snprintf(r->refused, sizeof(r->refused),
                         "no driver is bound to the PF, and this [device] keeps the PF's own driver: bind one that supports SR-IOV");
                return;
        }
        /* The VFs there will be once the PF has its driver: the old one may take them with it. */
        unsigned have = o->num_vfs;
        bool vfs_dropped = false;
        if (want && !streq(o->driver, want)) {
                if (o->num_vfs > 0 && in_use_list(o, NULL, list, sizeof(list))) {
                        snprintf(r->refused, sizeof(r->refused),
                                 "the PF's driver %s can be replaced only while none of its VFs is in use; in use: %s",
                                 o->driver[0] ? o->driver : "(none)", list);
                        return;
                }
                struct action *a = add(r, ACT_PF_BIND, -1, "bind the PF to %s (now: %s)", want,
                                       o->driver[0] ? o->driver : "no driver");
                a->take_over = streq(o->driver, DRV_AMDGPU) || streq(o->driver, DRV_GIM);
                if (unbind_drops_vfs(o->driver) && o->num_vfs > 0) {
                        have = 0;
                        vfs_dropped = true;
                        snprintf(a->what, sizeof(a->what), "bind the PF to %s (now: %.32s; %u VFs removed with %.32s)",
                                 want, o->driver, o->num_vfs, o->driver);
                }
        }

        /* 2. New VFs must stay unbound until we bind them ourselves. */
        if (o->autoprobe)
                add(r, ACT_AUTOPROBE_OFF, -1, "sriov_drivers_autoprobe 1 -> 0");

        /* 3. The VF count; the kernel changes it only through 0, which removes every VF. */
        /* VFs the old driver took with it are made again only when the config asks for some */
        bool recreated = vfs_dropped && d->num_vfs > 0, removed = false;
        r->num_vfs = d->num_vfs;
        if (d->pf_driver == MX_PF_DRIVER_GIM) {
                /* gim enables SR-IOV itself; writing sriov_numvfs behind it is not ours to do. */
                r->num_vfs = o->num_vfs;
                if (o->num_vfs != d->num_vfs)
                        snprintf(r->degraded, sizeof(r->degraded),
                                 "gim enabled %u VFs but the config asks for %u: set vf_num in gim's configuration",
                                 o->num_vfs, d->num_vfs);
        } else if (have != d->num_vfs) {
                /* whether a VF beyond these is in use is not known (the per-VF arrays end there) */
                if (have > PF_MAX_VFS) {
                        snprintf(r->refused, sizeof(r->refused),
                                 "the PF has %u VFs, more than mxgpud manages (%u), so it cannot tell whether they "
                                 "are in use: disable them (echo 0 > sriov_numvfs) once no VM holds one",
                                 have, PF_MAX_VFS);
                        return;
                }
                if (have > 0 && in_use_list(o, NULL, list, sizeof(list))) {
                        snprintf(r->refused, sizeof(r->refused),
                                 "the VF count can change (%u -> %u) only through 0, and these VFs are in use: %s",
                                 have, d->num_vfs, list);
                        return;
                }
                size_t held = have > 0 ? host_held_list(o, NULL, list, sizeof(list)) : 0;
                if (held && !d->take_over_host_driver) {
                        snprintf(r->refused, sizeof(r->refused),
                                 "the VF count can change (%u -> %u) only through 0, which takes these VFs from the "
                                 "host driver that holds them: %s; unbind them, or set take_over_host_driver = yes",
                                 have, d->num_vfs, list);
                        return;
                }
                /* The kernel finds out that the VF BARs do not fit (ENOMEM) only after the VFs there are
                 * were removed through 0: the bridge windows tell before anything is touched. */
                if (o->have_room && d->num_vfs > o->room.fit) {
                        if (o->room.unassigned >= 0)
                                snprintf(r->refused, sizeof(r->refused),
                                         "the firmware gave the VF BARs no MMIO address (IOV resource %d), so no VF can "
                                         "be enabled (the kernel fails with ENOMEM): enable \"Above 4G decoding\" in the "
                                         "firmware setup, or boot with pci=realloc", o->room.unassigned);
                        else
                                snprintf(r->refused, sizeof(r->refused),
                                         "%u VFs do not fit in the MMIO room for VF BARs: the bridge %s forwards %" PRIu64
                                         " MiB of them, room for %u VFs of %" PRIu64 " MiB (the kernel would fail with "
                                         "ENOMEM): enable \"Above 4G decoding\" in the firmware setup, or ask for at most %u VFs",
                                         d->num_vfs, o->room.bridge, o->room.forwarded >> 20, o->room.fit,
                                         o->room.per_vf >> 20, o->room.fit);
                        return;
                }
                removed = have > 0;
                recreated = d->num_vfs > 0;
        }
        unsigned n = r->num_vfs;
        bool gpu = !d->generic && d->pf_driver != MX_PF_DRIVER_GIM && o->have_gpuiov;
        /* A card that never finished its last command takes no more (each would fail busy after a
         * partial change) and is not ready, whatever else matches. */
        if (gpu && o->hung[0]) {
                snprintf(r->refused, sizeof(r->refused), "%s; reset the card (reboot the host) before mxgpud programs it again",
                         o->hung);
                r->n = 0;
                return;
        }

        /* 4. Tear-down is the reverse of bring-up (hardware.md 6): before the VFs go, the scheduler stops
         * switching to them and their framebuffer entries are cleared; entries and active bits left
         * beyond the new count (another count before, another PF driver) are cleared as well. The VFs
         * themselves are let go by the kernel: writing 0 unbinds each one as it removes it. */
        if (gpu) {
                bool active = false;
                for (unsigned b = 0; b < o->sched.n_blocks; b++)
                        active |= (o->sched.block[b].active & ~SCH_ACTIVE_PF_BIT) != 0;
                if (o->sched.n_blocks && (removed || (n == 0 && active)))
                        add(r, ACT_SCHED_STOP, -1, "scheduler: stop, no active VFs");
                unsigned stale = 0;
                for (unsigned i = 0; i < o->part.n_vfs && i < GPUIOV_MAX_VFS; i++)
                        stale += (removed || i >= n) && gpuiov_fb_programmed(&o->part.vf[i]);
                if (stale)
                        add(r, ACT_PARTITION_CLEAR, -1, "framebuffer: clear %u VF entr%s", stale, stale == 1 ? "y" : "ies");
        }
        if (removed || recreated) {
                struct action *a = add(r, ACT_SET_NUMVFS, -1, "sriov_numvfs %u -> %u", have, d->num_vfs);
                if (removed && host_held_list(o, NULL, list, sizeof(list))) {
                        a->take_over = true;
                        snprintf(a->what, sizeof(a->what), "sriov_numvfs %u -> %u, taking the VFs from their host driver",
                                 have, d->num_vfs);
                }
        }

        /* 5. Framebuffer partition and scheduler, on cards with GPU-IOV (gim programs its own). A VF is
         * changed under neither a VM nor a host driver that holds it, unless the config allows taking it. */
        bool release[PF_MAX_VFS] = {};
        if (gpu && n > 0) {
                bool changed[PF_MAX_VFS] = {};
                bool part = recreated || o->part.fb_consumed_mib != d->fb_consumed_mib ||
                            o->part.context.offset_mib != d->context_offset_mib ||
                            o->part.context.size_mib != d->context_size_mib;
                for (unsigned i = 0; i < n && i < GPUIOV_MAX_VFS; i++) {
                        changed[i] = i >= o->part.n_vfs || o->part.vf[i].offset_mib != d->vf[i].fb_offset_mib ||
                                     o->part.vf[i].size_mib != d->vf[i].fb_size_mib;
                        part |= changed[i];
                }
                if (part && !recreated && in_use_list(o, changed, list, sizeof(list))) {
                        snprintf(r->refused, sizeof(r->refused),
                                 "the framebuffer of a VF changes only while no VM uses it; in use: %s", list);
                        return;
                }
                if (part && !recreated && host_held_list(o, changed, list, sizeof(list))) {
                        if (!d->take_over_host_driver) {
                                snprintf(r->refused, sizeof(r->refused),
                                         "the framebuffer of a VF changes only while no host driver holds it; held: %s; "
                                         "unbind them, or set take_over_host_driver = yes", list);
                                return;
                        }
                        /* taken from the host driver before its memory moves */
                        for (size_t k = 0; k < o->n_vfs; k++) {
                                const struct vf_ref *v = &o->vfs[k];
                                if (v->index < PF_MAX_VFS && changed[v->index] && host_held(v)) {
                                        struct action *a = add(r, ACT_VF_RELEASE, (int)v->index,
                                                               "take VF %u from the host driver %s", v->index, v->driver);
                                        a->take_over = true;
                                        release[v->index] = true;
                                }
                        }
                }
                if (part)
                        add(r, ACT_PARTITION, -1, "framebuffer: PF reserve %u MiB, %u VFs from %u MiB",
                            d->pf_reserve_mib, n, d->vf_base_mib);
                if (recreated || !mode_known || known_mode != d->scheduler || !sched_matches(d, o, n))
                        add(r, ACT_SCHED, -1, "scheduler: %s, %u distinct time slice(s)",
                            gpuiov_sched_mode_name(d->scheduler), d->n_quanta);
        }

        /* 6. Each VF on vfio-pci; one a host driver holds only with the config's consent. */
        if (d->vfio) {
                size_t held = 0;
                for (unsigned i = 0; i < n && i < PF_MAX_VFS; i++) {
                        const struct vf_ref *v = recreated ? NULL : find_vf(o, i);
                        /* a VF removed on its own stays away until the VFs are made again: nothing
                         * to bind (the verification reports it missing) */
                        if (!recreated && !v)
                                continue;
                        held += v && host_held(v) && !release[i];
                }
                if (held && !d->take_over_host_driver) {
                        host_held_list(o, NULL, list, sizeof(list));
                        snprintf(r->refused, sizeof(r->refused),
                                 "a host driver holds VFs that should be on vfio-pci: %s; unbind them, or set "
                                 "take_over_host_driver = yes to let mxgpud take them", list);
                        r->n = 0;
                        return;
                }
                for (unsigned i = 0; i < n && i < PF_MAX_VFS; i++) {
                        const struct vf_ref *v = recreated ? NULL : find_vf(o, i);
                        if (!recreated && !v)
                                continue;
                        if (v && !release[i] && host_held(v)) {
                                struct action *a = add(r, ACT_VF_BIND, (int)i, "bind VF %u to vfio-pci, taking it from the host driver %s",
                                                       i, v->driver);
                                a->take_over = true;
                        } else if (release[i] || !v || !streq(v->driver, DRV_VFIO_PCI))
                                add(r, ACT_VF_BIND, (int)i, "bind VF %u to vfio-pci (now: %s)", i,
                                    v && v->driver[0] && !release[i] ? v->driver : "no driver");
                }
        }
}
