/* SPDX-License-Identifier: MIT */
/* The daemon's state file (state.json in the state directory): what was applied to each PF, so a
 * restart - even after SIGKILL - knows what it owns and what was in flight. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mxgpu/names.h"
#include "mxgpu/pciaddr.h"

#define STATE_VERSION   1
#define STATE_NAME_MAX  64

/* Where a PF's last change stands. A PF found "applying" or "tearing-down" at start-up was
 * interrupted: its hardware may be half-programmed. */
enum state_phase {
        STATE_PHASE_NONE = 0,     /* known, nothing applied */
        STATE_PHASE_APPLYING,
        STATE_PHASE_APPLIED,
        STATE_PHASE_TEARING_DOWN,
        STATE_PHASE_FAILED,
        _STATE_PHASE_MAX,
};

struct state_vf {
        unsigned index;
        char addr[PCI_ADDR_STRLEN];
        uint32_t fb_offset_mib, fb_size_mib;  /* 0/0: no partition (generic device) */
        uint8_t quanta_index;                 /* into the PF's quanta_ms */
        char driver[STATE_NAME_MAX];          /* driver the daemon bound ("vfio-pci"), "" none */
        bool bound_by_us;                     /* tear-down unbinds only what the daemon bound */
};

struct state_pf {
        char addr[PCI_ADDR_STRLEN];
        char card[STATE_NAME_MAX];            /* card model ("s7150"), "" for a generic SR-IOV device */
        enum state_phase phase;
        uint64_t generation;                  /* the state generation of this PF's last change */
        unsigned num_vfs;
        char pf_driver[STATE_NAME_MAX];       /* driver the daemon bound to the PF */
        char orig_pf_driver[STATE_NAME_MAX];  /* driver it had before ("" none): restored on tear-down */
        uint32_t pf_reserve_mib;
        uint32_t context_offset_mib, context_size_mib;
        /* The scheduler mode cannot be read back from the hardware: this is the only record of it. */
        int sched_mode;                       /* enum gpuiov_sched_mode; 0 = not programmed */
        uint8_t quanta_ms[4];
        size_t n_vfs;
        struct state_vf *vfs;                 /* owned */
};

/* A VF of a pool given to a libvirt domain (or returned and waiting for its reset). Optional in the
 * file ("assignments" may be absent: files of older versions load as "nothing assigned"). */
#define STATE_DOMAIN_MAX 256
#define STATE_UUID_MAX   37
struct state_assignment {
        char vf[PCI_ADDR_STRLEN];
        char pool[STATE_NAME_MAX];
        char domain[STATE_DOMAIN_MAX];        /* "" = returned to the pool, not reset yet */
        char uuid[STATE_UUID_MAX];            /* the domain's UUID ("" unknown) */
        bool persistent, live;                /* in the domain's persistent config / its live config */
};

struct mx_state {
        unsigned version;
        uint64_t generation;                  /* bumped by every successful state_save(), up to INT64_MAX */
        size_t n_pfs;
        struct state_pf *pfs;                 /* owned */
        size_t n_assignments;
        struct state_assignment *assignments; /* owned */
};

/* An empty state. */
void state_init(struct mx_state *s);
/* Free what s owns and make it empty. */
void state_done(struct mx_state *s);

/* Load dir/state.json. A missing file is an empty state (0). A file that is not valid state JSON is
 * moved aside to dir/state.json.corrupt-<unix time> and -EBADMSG comes back (with the new path in
 * *ret_corrupt_path, malloc'ed, when that is not NULL); the caller starts from an empty state.
 * -EPROTONOSUPPORT: written by a newer version (left in place). Stale temporary files of an
 * interrupted save are removed. Other errors: -errno. *ret written only on success. */
int state_load(const char *dir, struct mx_state *ret, char **ret_corrupt_path);
/* Read dir/state.json and change nothing: no temporary files removed, a corrupt file left where it
 * is (-EBADMSG), a missing folder or file is an empty state. For --check-config. */
int state_peek(const char *dir, struct mx_state *ret);
/* Write s to dir/state.json atomically: a temporary file in dir, fsync, rename over the old one,
 * fsync of dir. A crash at any point leaves either the old or the new file. On success
 * s->generation has been incremented, unless it was INT64_MAX (the written file carries the new value). */
int state_save(const char *dir, struct mx_state *s);
/* state_save() of a record that a power loss makes moot, such as a cycle's "applying" marks (a power
 * loss resets the hardware as well): the same atomic replacement, without waiting for the rename to
 * reach the disk. After a power loss the previous file or this one is there, either of them whole. */
int state_save_mark(const char *dir, struct mx_state *s);

/* The PF with this address, or NULL. */
struct state_pf *state_pf_get(struct mx_state *s, const char *addr);
/* The PF with this address, added (zeroed, phase NONE) when missing; NULL on -ENOMEM or a bad address.
 * Pointers to PFs are invalidated by the next add or remove. */
struct state_pf *state_pf_add(struct mx_state *s, const char *addr);
/* Remove a PF; 0 or -ENOENT. */
int state_pf_remove(struct mx_state *s, const char *addr);
/* Replace a PF's VF list with a copy of vfs[0..n). 0 or -ENOMEM. */
int state_pf_set_vfs(struct state_pf *pf, const struct state_vf *vfs, size_t n);
/* The VF of this PF with this address, or NULL (also for a NULL pf). */
const struct state_vf *state_vf_get(const struct state_pf *pf, const char *addr);

/* The assignment of this VF, or NULL. */
struct state_assignment *state_assignment_get(struct mx_state *s, const char *vf);
/* Add (or replace) the assignment of a->vf with a copy of a. 0, -EINVAL (bad address) or -ENOMEM.
 * Pointers to assignments are invalidated by the next add or remove. */
int state_assignment_set(struct mx_state *s, const struct state_assignment *a);
/* Remove the assignment of this VF; 0 or -ENOENT. */
int state_assignment_remove(struct mx_state *s, const char *vf);

const char *state_phase_name(enum state_phase p);
int state_phase_from_name(const char *s); /* enum value or -EINVAL */
