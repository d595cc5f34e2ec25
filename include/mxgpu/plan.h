/* SPDX-License-Identifier: MIT */
/* From config + discovery facts to one PF's desired state: merged settings, checks against the card
 * (hardware.md 4-5), framebuffer layout and scheduler quanta. Pure: no I/O. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "mxgpu/cards.h"
#include "mxgpu/config.h"
#include "mxgpu/diags.h"
#include "mxgpu/gpuiov.h"
#include "mxgpu/pciaddr.h"

#define MX_MAX_GPU_VFS      16     /* per-VF arrays: the most VFs any GPU-IOV layout describes */
#define MX_MAX_VFS          256    /* the most VFs of one PF the daemon manages (a bus's worth; NICs such as
                                    * Intel's E810 have 256) */
#define MX_DEFAULT_SLICE_MS 6      /* GIM1's default */

/* What discovery found on one PF. */
struct pf_facts {
        struct pci_addr addr;
        uint16_t vendor, device;
        const struct mx_card *card;        /* NULL: a generic SR-IOV PF (or an unsupported one) */
        unsigned total_vfs;                /* sriov_totalvfs */
        uint32_t fb_available_mib;         /* the card's TOTAL_FB_AVAILABLE in MiB; 0 for generic */
        uint32_t pf_bar0_mib;              /* PF BAR0 size in MiB (the Tonga PF reserve default); 0 = unknown */
        enum gpuiov_layout layout;         /* GPUIOV_NONE for generic */
        const char *driver;                /* bound driver now, NULL = none */
};

struct vf_desired {
        uint32_t fb_offset_mib, fb_size_mib;
        uint8_t quantum_ms;
        uint8_t quanta_index;              /* 2-bit index into pf_desired.quanta_options */
};

/* The whole desired state of one PF. Plain data: no free needed. */
struct pf_desired {
        struct pci_addr addr;
        bool managed;                      /* false: no section matched, or enabled = no; nothing below applies */
        bool generic;                      /* a [device] PF: only num_vfs and binding below apply */
        unsigned num_vfs;
        enum mx_pf_driver pf_driver;
        bool vfio;                         /* bind the VFs to vfio-pci */
        bool take_over_host_driver;        /* may unbind a host driver (amdgpu) from the PF */
        bool fb_clear;                     /* clear a VF's framebuffer before it is reused */
        char pool[MX_POOL_NAME_MAX];
        /* GPUs only: */
        enum gpuiov_sched_mode scheduler;
        uint32_t pf_reserve_mib;
        uint32_t context_offset_mib, context_size_mib;  /* CNTXT: right after the PF reserve, 8 MiB */
        uint32_t vf_base_mib;              /* roundup(pf_reserve + 8, 16): where VF 0 starts */
        uint32_t fb_consumed_mib;          /* TOTAL_FB_CONSUMED = available - PF reserve */
        struct vf_desired vf[MX_MAX_GPU_VFS];
        uint8_t quanta_options[SCH_QUANTA_ENTRIES];     /* TIME_QUANTA_OPTION, ms, ascending; unused = last */
        unsigned n_quanta;                 /* distinct values used, 1-4 (0 when num_vfs = 0) */
        uint32_t quanta_option_word;       /* the TIME_QUANTA_OPTION dword: entry i in bits 8i+7:8i */
        uint32_t quanta_per_vf_word;       /* the TIME_QUANTA_PER_VF dword: VF n's index in bits 2n+1:2n */
};

/* Merge the sections that match facts ([gpu *] < [gpu MODEL] < [gpu ADDRESS] < [vf ADDRESS N]; a
 * [device ADDRESS] for a generic PF), check against the card and compute the layout. Returns 0 with
 * *ret filled (ret->managed false when nothing matches), or -EINVAL with every problem in diags,
 * each naming the file:line of the setting at fault. */
int mx_config_resolve(const struct mx_config *cfg, const struct pf_facts *facts, struct pf_desired *ret,
                      struct mx_diags *diags);

/* The setting that wins for key k on the PF at addr (card NULL: a generic [device] PF), for its VF vf
 * (-1: the PF's own), by the precedence above; NULL when the default applies. A refused setting (in a
 * partial config) wins too: check ->set. */
const struct mx_setting *mx_config_winner(const struct mx_config *cfg, const struct mx_card *card,
                                          const struct pci_addr *addr, int vf, enum mx_key k);

/* One PF as a cycle saw it: its facts, and what the config made of it (NULL when resolving failed). */
struct mx_pf_seen {
        const struct pf_facts *facts;
        const struct pf_desired *desired;
};
/* Warn (not an error: hotplug may add the PF later) for each section that matches no PF of its kind:
 * [gpu *] or [gpu MODEL] without such a card, an address with no PF (vf_parent, when given, says
 * whether it is a VF's address, and of which PF), and a [vf] whose PF is unmanaged or generic. */
void mx_config_warn_unmatched(const struct mx_config *cfg, const struct mx_pf_seen *pfs, size_t n,
                              int (*vf_parent)(const struct pci_addr *vf, struct pci_addr *ret_pf),
                              struct mx_diags *diags);

/* The default PF reserve of this card/PF (hardware.md 4): Tonga: the PF BAR0 size (16 MiB when BAR0
 * covers all memory, the card default when unknown); GIM8 parts: 256 MiB. And the allowed range. */
uint32_t mx_pf_reserve_default(const struct pf_facts *facts);
void mx_pf_reserve_range(const struct pf_facts *facts, uint32_t *ret_min, uint32_t *ret_max);
