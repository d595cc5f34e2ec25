/* SPDX-License-Identifier: MIT */
/* Apply one PF's actions through the hardware layer and decide the state it ends in. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#include "pf.h"

/* Held shut until the cycle's record of what is about to change is written (cycle.c, state_save_mark()):
 * a PF reads and plans meanwhile, and waits here before its first write. */
struct pf_gate {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool open;
};
void pf_gate_open(struct pf_gate *g);

/* The layout the VFs kept when a change failed before they went (keep_vfs()): read before the change
 * and given back, so the state file records it instead of the layout that was never applied. */
struct pf_stayed {
        bool gpuiov;                      /* part is valid */
        struct gpuiov_partition part;
        bool sched;                       /* quanta_ms and vf_index are valid */
        uint8_t quanta_ms[SCH_QUANTA_ENTRIES];
        uint8_t vf_index[GPUIOV_MAX_VFS];
        enum gpuiov_sched_mode mode;      /* the mode given back; 0 = left as the state file says */
};

/* One PF's work, run on its own thread: PFs proceed in parallel and a failure stays with its PF. */
struct pf_run {
        /* in */
        struct pci_pf pf;
        struct pf_desired desired;
        bool mode_known;                  /* mode: the scheduler mode last programmed (state file) */
        enum gpuiov_sched_mode mode;
        bool dry_run;                     /* compute the actions only */
        struct pf_gate *gate;             /* waited for before the first write (NULL: none) */
        bool kept;                        /* not this cycle's business: the last outcome, carried over */
        struct state_assignment *assigned;/* a copy of libvirt's assignments (owned), see pf_observe */
        size_t n_assigned;
        /* out */
        struct pf_actions actions;
        enum pf_state state;
        char reason[PF_REASON_MAX];       /* why degraded or failed */
        unsigned num_vfs;                 /* VFs present after the run */
        unsigned vfs_bound;               /* of which on vfio-pci */
        int error;                        /* the first -errno that failed the PF, or 0 */
        bool listed;                      /* vfs: the VFs as the verification found them */
        size_t n_vfs;
        struct vf_ref vfs[PF_MAX_VFS];
        bool stayed;                      /* the change failed and the VFs were kept as they were: */
        struct pf_stayed stayed_as;       /* what they kept, for the state file (not desired) */
};

/* Observe, diff and (unless dry_run) execute. Logs each action and each failure once, with the PF
 * in the line. Always ends with run->state final. */
void pf_apply(struct pf_run *run);
