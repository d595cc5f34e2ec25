/* SPDX-License-Identifier: MIT */
/* The simulated card behind a PF's GPU-IOV capability: registers, commands and the hardware scheduler. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "mxgpu/gpuiov.h"

/* One card per PF that has a GPU-IOV capability. The caller (the simulator's kernel model) owns the
 * PF's 4096-byte config space and holds the simulator's lock around every call here. */
struct sim_card;

struct sim_card_spec {
        enum gpuiov_layout layout;
        uint16_t cap_offset;     /* where the caller placed the capability in config space */
        uint32_t fb_mib;         /* TOTAL_FB_AVAILABLE */
        unsigned total_vfs;      /* the PF's TotalVFs */
        uint64_t cmd_latency_ns; /* time until a command completes (0 = at once) */
        uint8_t sched_modes;     /* GPUIOV_SCHED_BIT() of the policies CONFIG_AUTO_HW_SCHED_MODE accepts (the card
                                  * table's); 0 = the MI300 layout's four (1-4). Tonga has no such command. */
};

/* Fill the capability body at config[spec->cap_offset] (VSEC header with ID and length, the
 * layout's registers, the scheduler blocks) and return the model. The caller then links the
 * capability into the extended list by writing bits 31:20 of its first dword (next pointer);
 * the card keeps those bits as written. */
struct sim_card *sim_card_new(const struct sim_card_spec *spec, uint8_t config[4096]);
void sim_card_free(struct sim_card *c);
/* Bytes [cap_offset, cap_offset + sim_card_cap_len()) belong to the card. */
unsigned sim_card_cap_len(const struct sim_card *c);

/* A config-space write has landed in config[off..off+len) (the caller already stored the bytes).
 * The card restores read-only fields, and starts any command whose EXECUTE bit was set. */
void sim_card_config_written(struct sim_card *c, uint8_t config[4096], unsigned off, unsigned len, uint64_t now_ns);
/* Before a config-space read: complete commands whose latency has passed (writes the results
 * into config). */
void sim_card_tick(struct sim_card *c, uint8_t config[4096], uint64_t now_ns);

/* The kernel enabled or disabled VFs: VFs >= n lose their runtime state (not their registers). */
void sim_card_set_numvfs(struct sim_card *c, unsigned n);
/* A guest has used VF n (its vfio group was opened): its framebuffer holds tenant data until a
 * CLEAR_VF_STATE command for it completes. */
void sim_card_vf_used(struct sim_card *c, unsigned vf);
/* The simulated load of VF n: busy (always has work) or idle (never has work). */
int sim_card_set_load(struct sim_card *c, unsigned vf, bool busy);
void sim_card_set_cmd_latency(struct sim_card *c, uint64_t ns);

enum sim_card_fault {
        SIM_CARD_FAULT_HANG,     /* the next command(s) complete with CMD_STATUS 0x0e (graphics hang) */
        SIM_CARD_FAULT_STUCK,    /* the next command(s) never clear EXECUTE */
};
/* Arm a fault for the next `count` commands (count 0 disarms). */
void sim_card_fault(struct sim_card *c, enum sim_card_fault f, unsigned count);

/* The card as the hardware sees it, decoded: framebuffer layout (PF reserve, context area, each
 * enabled VF's offset and size in MiB), scheduler mode and state, time quanta per VF (ms), each
 * VF's load, its measured share of GPU time, and whether its framebuffer was cleared since last use.
 * Shares come from running the scheduler model over a fixed window of simulated time. */
struct json_object *sim_card_status(struct sim_card *c, const uint8_t config[4096]);
