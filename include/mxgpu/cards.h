/* SPDX-License-Identifier: MIT */
/* The supported MxGPU cards (hardware.md section 1) and their partitioning limits (sections 4-5). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mxgpu/gpuiov.h"

#define AMD_VENDOR_ID      0x1002
#define FB_ALIGN_MIB       16
#define FB_MIN_VF_MIB      256

struct mx_card {
        const char *model;          /* config name: "s7150", "mi300x", ... */
        const char *product;        /* "FirePro S7150" */
        uint16_t pf_id, vf_id;
        uint32_t mem_mib;           /* nominal memory per GPU; the card's TOTAL_FB_AVAILABLE wins */
        uint8_t max_vfs;            /* nominal; the PF's TotalVFs wins */
        uint32_t vf_counts;         /* bitmap of allowed VF counts (bit n = n VFs); 0 = any 1..max */
        enum gpuiov_layout layout;
        uint32_t pf_reserve_mib;    /* default PF reserve (Tonga: PF BAR0 size; GIM8: 256) */
        uint32_t pf_reserve_min, pf_reserve_max;
        bool experimental;          /* layout or limits inferred, not documented */
        uint8_t sched_modes;        /* GPUIOV_SCHED_BIT() of each scheduling policy the card runs (hardware.md 5) */
        uint8_t sched_default;      /* the policy used when the config names none; one of sched_modes */
};

/* The card with this PF device ID, or NULL. */
const struct mx_card *mx_card_by_pf_id(uint16_t vendor, uint16_t device);
/* The card whose model name (case-insensitive) is s, or NULL. */
const struct mx_card *mx_card_by_model(const char *s);
/* Iterate: i from 0 until NULL. */
const struct mx_card *mx_card_nth(unsigned i);
bool mx_card_vf_count_allowed(const struct mx_card *c, unsigned n);
bool mx_card_sched_allowed(const struct mx_card *c, unsigned mode);
/* "solid or liquid", "fairness or round_robin": the card's policies for a message. Returns buf. */
const char *mx_card_sched_list(const struct mx_card *c, char *buf, size_t size);
