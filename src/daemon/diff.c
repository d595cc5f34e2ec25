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
                [ACT_PF_BIND] = "pf-driver", [ACT_AUTOPROBE_OFF] = "autoprobe", [ACT_SET_NUMVFS] = "vf-count",
                [ACT_PARTITION] = "framebuffer", [ACT_SCHED] = "scheduler", [ACT_VF_BIND] = "vfio-bind",
        };
        return (unsigned)k < ARRAY_SIZE(names) ? names[k] : "unknown";
}

static void add(struct pf_actions *r, enum action_kind k, int vf, const char *fmt, ...) _printf_(4, 5);
static void add(struct pf_actions *r, enum action_kind k, int vf, const char *fmt, ...) {
        if (r->n >= ARRAY_SIZE(r->a))
                return;
        struct action *a = &r->a[r->n++];
        a->kind = k;
        a->vf = vf;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(a->what, sizeof(a->what), fmt, ap);
        va_end(ap);
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
        char list[PF_REASON_MAX - 128];
        const char *want = d->pf_driver == MX_PF_DRIVER_GIM  ? DRV_GIM
                         : d->pf_driver == MX_PF_DRIVER_KEEP ? NULL
                                                             : DRV_PCI_PF_STUB;

        /* 1. Who holds the PF. A host GPU driver is never pushed aside unless the config says so. */
        if (streq(o->driver, DRV_AMDGPU) && !d->take_over_host_driver) {
                snprintf(r->refused, sizeof(r->refused),
                         "the host GPU driver amdgpu owns the PF; blacklist amdgpu for this card, or set "
                         "take_over_host_driver = yes to let mxgpud unbind it");
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
        if (want && !streq(o->driver, want))
                add(r, ACT_PF_BIND, -1, "bind the PF to %s (now: %s)", want, o->driver[0] ? o->driver : "no driver");

        /* 2. New VFs must stay unbound until we bind them ourselves. */
        if (o->autoprobe)
                add(r, ACT_AUTOPROBE_OFF, -1, "sriov_drivers_autoprobe 1 -> 0");

        /* 3. The VF count; the kernel changes it only through 0, which removes every VF. */
        bool recreated = false;
        r->num_vfs = d->num_vfs;
        if (d->pf_driver == MX_PF_DRIVER_GIM) {
                /* gim enables SR-IOV itself; writing sriov_numvfs behind it is not ours to do. */
                r->num_vfs = o->num_vfs;
                if (o->num_vfs != d->num_vfs)
                        snprintf(r->degraded, sizeof(r->degraded),
                                 "gim enabled %u VFs but the config asks for %u: set vf_num in gim's configuration",
                                 o->num_vfs, d->num_vfs);
        } else if (o->num_vfs != d->num_vfs) {
                /* whether a VF beyond these is in use is not known (the per-VF arrays end there) */
                if (o->num_vfs > PF_MAX_VFS) {
                        snprintf(r->refused, sizeof(r->refused),
                                 "the PF has %u VFs, more than mxgpud manages (%u), so it cannot tell whether they "
                                 "are in use: disable them (echo 0 > sriov_numvfs) once no VM holds one",
                                 o->num_vfs, PF_MAX_VFS);
                        return;
                }
                if (in_use_list(o, NULL, list, sizeof(list))) {
                        snprintf(r->refused, sizeof(r->refused),
                                 "the VF count can change (%u -> %u) only through 0, and these VFs are in use: %s",
                                 o->num_vfs, d->num_vfs, list);
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
                add(r, ACT_SET_NUMVFS, -1, "sriov_numvfs %u -> %u", o->num_vfs, d->num_vfs);
                recreated = true;
        }
        unsigned n = r->num_vfs;

        /* 4. Framebuffer partition and scheduler, on cards with GPU-IOV (gim programs its own). */
        if (!d->generic && d->pf_driver != MX_PF_DRIVER_GIM && o->have_gpuiov && n > 0) {
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
                if (part)
                        add(r, ACT_PARTITION, -1, "framebuffer: PF reserve %u MiB, %u VFs from %u MiB",
                            d->pf_reserve_mib, n, d->vf_base_mib);
                if (recreated || !mode_known || known_mode != d->scheduler || !sched_matches(d, o, n))
                        add(r, ACT_SCHED, -1, "scheduler: %s, %u distinct time slice(s)",
                            d->scheduler == GPUIOV_SCHED_LIQUID ? "liquid" : "solid", d->n_quanta);
        }

        /* 5. Each VF on vfio-pci. */
        if (d->vfio)
                for (unsigned i = 0; i < n && i < PF_MAX_VFS; i++) {
                        const struct vf_ref *v = recreated ? NULL : find_vf(o, i);
                        /* a VF removed on its own stays away until the VFs are made again: nothing
                         * to bind (the verification reports it missing) */
                        if (!recreated && !v)
                                continue;
                        if (!v || !streq(v->driver, DRV_VFIO_PCI))
                                add(r, ACT_VF_BIND, (int)i, "bind VF %u to vfio-pci (now: %s)", i,
                                    v && v->driver[0] ? v->driver : "no driver");
                }
}
