// SPDX-License-Identifier: MIT
// Read what one PF has now: driver, SR-IOV state, its VFs and their use, and the GPU-IOV registers.
#include <string.h>

#include "mxgpu/macro.h"
#include "mxgpu/sysfs.h"
#include "mxgpu/vfio.h"
#include "pf.h"

void pf_observed_done(struct pf_observed *o) {
        free(o->vfs);
        o->vfs = NULL;
        o->n_vfs = 0;
}

void pf_observed_use(struct pf_observed *o, const struct state_assignment *assigned, size_t n_assigned) {
        memset(o->vf_in_use, 0, sizeof(o->vf_in_use));
        memset(o->vf_domain, 0, sizeof(o->vf_domain));
        if (o->n_vfs == 0)
                return;
        int groups[PF_MAX_VFS] = {};
        bool held[PF_MAX_VFS];
        size_t n = MIN(o->n_vfs, (size_t)PF_MAX_VFS);
        for (size_t i = 0; i < n; i++)
                groups[i] = o->vfs[i].iommu_group;
        if (vfio_groups_held(groups, n, held) >= 0)
                for (size_t i = 0; i < n; i++)
                        if (o->vfs[i].index < PF_MAX_VFS && groups[i] >= 0)
                                o->vf_in_use[o->vfs[i].index] = held[i];
        /* A VF given to a domain is in use even while that domain is shut off. */
        for (size_t i = 0; i < n; i++)
                for (size_t k = 0; k < n_assigned; k++)
                        if (assigned[k].domain[0] && streq(assigned[k].vf, o->vfs[i].addr) &&
                            o->vfs[i].index < PF_MAX_VFS) {
                                o->vf_in_use[o->vfs[i].index] = true;
                                o->vf_domain[o->vfs[i].index] = assigned[k].domain;
                        }
}

void pf_observe_room(const struct pci_pf *pf, struct pf_observed *o) {
        o->have_room = o->total_vfs > 0 && pci_vf_bar_room(pf->addr, o->total_vfs, &o->room) >= 0;
}

int pf_observe(const struct pci_pf *pf, const struct state_assignment *assigned, size_t n_assigned,
               struct pf_observed *ret) {
        struct pf_observed o = {};
        int r = pcidev_link(pf->addr, "driver", o.driver, sizeof(o.driver));
        if (r == -ENOENT)
                o.driver[0] = 0;
        else if (r < 0)
                return r;
        r = sriov_read(pf->addr, &o.num_vfs, &o.total_vfs, &o.autoprobe);
        if (r < 0)
                return r;
        /* No VFs (a bring-up): nothing to list, and one read of sriov_numvfs fewer. */
        r = o.num_vfs > 0 ? sriov_list_vfs(pf->addr, &o.vfs, &o.n_vfs) : 0;
        if (r < 0)
                return r;
        pf_observed_use(&o, assigned, n_assigned);

        if (pf->gpuiov_cap && pf->layout != GPUIOV_NONE) {
                struct regio io = {};
                r = regio_sysfs_open(pf->addr, &io);
                if (r >= 0) {
                        struct gpuiov_dev d;
                        r = gpuiov_open(&io, pf->gpuiov_cap, pf->layout, &d);
                        /* Our commands are synchronous, so EXECUTE still set here is one the card never
                         * finished, before this process or in it: the card is hung. */
                        struct gpuiov_pending pending;
                        if (r >= 0)
                                r = gpuiov_read_all(&d, MIN(pf->total_vfs, GPUIOV_MAX_VFS), &o.part, &o.sched, &pending);
                        if (r >= 0 && pending.n)
                                gpuiov_pending_reason(&d, &pending, o.hung, sizeof(o.hung));
                        regio_close(&io);
                }
                if (r < 0) {
                        pf_observed_done(&o);
                        return r;
                }
                o.have_gpuiov = true;
        }
        *ret = o;
        return 0;
}
