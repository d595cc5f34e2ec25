/* SPDX-License-Identifier: MIT */
/* One PF as the daemon sees it: what discovery found, what the config asks, what the hardware has,
 * the actions between the two, and the state it ended in. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxgpu/gpuiov_io.h"
#include "mxgpu/pci.h"
#include "mxgpu/plan.h"
#include "mxgpu/sriov.h"
#include "mxgpu/state.h"

enum pf_state {
        PF_UNMANAGED,   /* no config section matches it */
        PF_PENDING,     /* found, not applied yet */
        PF_APPLYING,
        PF_READY,       /* every VF as the config asks */
        PF_DEGRADED,    /* usable, but something is missing (reason) */
        PF_FAILED,      /* not usable (reason) */
        PF_GONE,        /* removed from the bus */
};
const char *pf_state_name(enum pf_state s);
static inline bool pf_state_final(enum pf_state s) { return s != PF_PENDING && s != PF_APPLYING; }

#define PF_REASON_MAX 512
#define PF_MAX_VFS MX_MAX_VFS

/* The hardware as it is now (read by observe.c). */
struct pf_observed {
        char driver[PCI_DRIVER_NAME_MAX];   /* "" = none */
        unsigned num_vfs, total_vfs;
        bool autoprobe;
        struct vf_ref *vfs;                 /* from virtfnN links; malloc'ed */
        size_t n_vfs;
        bool vf_in_use[PF_MAX_VFS];         /* assigned to a libvirt domain, or its VFIO group held open */
        const char *vf_domain[PF_MAX_VFS];  /* the libvirt domain it is assigned to (points into the
                                             * assignments given to pf_observe), NULL = none */
        bool have_room;                     /* room read (pf_observe_room()) */
        struct pci_vf_bar_room room;        /* how many VFs the MMIO windows take, with have_room */
        bool have_gpuiov;
        struct gpuiov_partition part;       /* valid with have_gpuiov */
        struct gpuiov_sched sched;
        char hung[192];                     /* a command window still holding EXECUTE, in words; "" = none */
};
void pf_observed_done(struct pf_observed *o);

/* A VF framebuffer entry that holds a range: offset 0 is the PF reserve, never a VF's, and a cleared
 * entry (raw 0) reads as offset 0 on both layouts (Tonga's size-minus-one makes it 16 MiB there). */
static inline bool gpuiov_fb_programmed(const struct gpuiov_fb *f) {
        return f->offset_mib != 0;
}

enum action_kind {
        ACT_PF_BIND,          /* bind the PF to its PF driver */
        ACT_AUTOPROBE_OFF,    /* sriov_drivers_autoprobe = 0 */
        ACT_SCHED_STOP,       /* before VFs go: the scheduler stopped, ACTIVE_FUNCTIONS cleared */
        ACT_PARTITION_CLEAR,  /* before VFs go: their framebuffer entries cleared */
        ACT_SET_NUMVFS,       /* sriov_numvfs, through 0 */
        ACT_PARTITION,        /* framebuffer layout through GPU-IOV */
        ACT_SCHED,            /* scheduler mode and quanta through GPU-IOV */
        ACT_VF_RELEASE,       /* a VF taken from the host driver that holds it (take_over_host_driver) */
        ACT_VF_BIND,          /* a VF to vfio-pci */
};
const char *action_kind_name(enum action_kind k);

struct action {
        enum action_kind kind;
        int vf;                     /* ACT_VF_BIND, ACT_VF_RELEASE: the VF index; -1 otherwise */
        bool take_over;             /* it takes a device from a host driver (named in what): logged as a warning */
        char what[160];             /* for logs and `mxgpuctl plan`: "sriov_numvfs 0 -> 4" */
};

struct pf_actions {
        struct action a[8 + MX_MAX_GPU_VFS + PF_MAX_VFS];
        size_t n;
        /* Set when the difference cannot be applied (a VF in use, a host driver on the PF): the
         * reason names what blocks it. */
        char refused[PF_REASON_MAX];
        /* Set when the PF can be used, but not quite as asked (e.g. gim enabled another count). */
        char degraded[PF_REASON_MAX];
        unsigned num_vfs;           /* the VF count once the actions ran */
};

/* Read the PF's current state. A VF is in use when one of the n assignments (libvirt's, from the
 * state file; may be NULL) gives it to a domain, or when a process holds its VFIO group open.
 * Returns 0 or -errno (the PF vanished, its config space unreadable). */
int pf_observe(const struct pci_pf *pf, const struct state_assignment *assigned, size_t n_assigned,
               struct pf_observed *ret);

/* Read how many VFs fit in the MMIO room the firmware gave the PF's VF BARs into o->room (o->have_room
 * stays false when it cannot be told): for a change of the VF count, which is checked before the
 * VFs there are get removed. */
void pf_observe_room(const struct pci_pf *pf, struct pf_observed *o);

/* Recompute o's vf_in_use and vf_domain from the assignments and the VFIO groups held open now
 * (what changes without a uevent: a VM opening its group). pf_observe calls it. */
void pf_observed_use(struct pf_observed *o, const struct state_assignment *assigned, size_t n_assigned);

/* The actions that bring observed to desired, in bring-up order (hardware.md 6), nothing for what
 * already matches. `mode_known` says whether `known_mode` is the scheduler mode last programmed
 * (the hardware cannot tell). Pure: no I/O. */
void pf_diff(const struct pci_pf *pf, const struct pf_desired *d, const struct pf_observed *o,
             bool mode_known, enum gpuiov_sched_mode known_mode, struct pf_actions *ret);
