// SPDX-License-Identifier: MIT
// The simulated card behind a PF's GPU-IOV capability: read-only registers, commands (latency,
// injected faults), per-function state and a discrete-event model of the hardware scheduler.
//
// Card-owned (read-only to software) fields, restored after every write: the extended capability
// header's ID and version (bits 19:0; the next pointer stays as written), the VSEC header,
// TOTAL_FB_AVAILABLE, Tonga's AUTO_SCH and DISP offsets, MI300's scheduler offset and block counts,
// every CMD_STATUS byte, Tonga's VM_INIT_STATUS, and each block's VM_BUSY_STATUS and
// ACTIVE_FUNCTION_ID. A command dword is also read-only while its command is in flight.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxgpu/macro.h"
#include "card.h"

#define SIM_MAX_VFS        16
#define SIM_NFUNCS         (1 + SIM_MAX_VFS)   /* function index: 0 = PF, 1 + n = VF n */
#define SIM_MAX_BLOCKS     (MI300_GFX_BLOCKS + MI300_MM_BLOCKS)
#define SIM_MAX_WINDOWS    (SIM_MAX_BLOCKS + 1)
/* hardware.md 5: with a single active function the slot is 500 ms. */
#define SINGLE_FUNCTION_SLOT_MS 500
/* Shares are measured over this much simulated time. */
#define SHARE_WINDOW_MS    60000

enum fn_state { FN_IDLE, FN_RUNNING, FN_SAVED, FN_LOADED };
static const char *const fn_state_names[] = {
        [FN_IDLE] = "idle", [FN_RUNNING] = "running", [FN_SAVED] = "saved", [FN_LOADED] = "loaded",
};

struct sched_block {
        uint16_t off;               /* from the capability start */
        bool gfx;
        unsigned index;             /* within its kind */
        bool running;
        uint8_t mode;               /* enum gpuiov_sched_mode, 0 = never configured */
        uint32_t active_function_id;
};

/* A place where commands are written: Tonga's main window or a scheduler block. */
struct cmd_window {
        uint16_t cmd_off, status_off; /* from the capability start */
        unsigned block;             /* the scheduler block its commands act on */
        uint8_t status;
        bool pending, stuck, hang;
        uint32_t word;              /* the command in flight */
        uint64_t deadline_ns;
};

struct vf_runtime {
        bool busy, initialized, fb_cleared;
};

struct sim_card {
        struct sim_card_spec spec;
        const struct gpuiov_regs *regs;
        unsigned cap_len, total_vfs, numvfs;
        unsigned n_blocks, n_windows;
        struct sched_block blocks[SIM_MAX_BLOCKS];
        struct cmd_window windows[SIM_MAX_WINDOWS];
        enum fn_state fn_state[SIM_NFUNCS];
        struct vf_runtime vf[SIM_MAX_VFS];
        enum sim_card_fault fault;
        unsigned fault_count;
};

/* PCI config space is little-endian. */
static uint32_t get32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint16_t get16(const uint8_t *p) {
        return (uint16_t)(p[0] | p[1] << 8);
}
static void put32(uint8_t *p, uint32_t v) {
        p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; p[2] = (v >> 16) & 0xff; p[3] = v >> 24;
}
static void put16(uint8_t *p, uint16_t v) {
        p[0] = v & 0xff; p[1] = v >> 8;
}

static bool overlaps(unsigned a, unsigned alen, unsigned b, unsigned blen) {
        return a < b + blen && b < a + alen;
}

struct sim_card *sim_card_new(const struct sim_card_spec *spec, uint8_t config[4096]) {
        const struct gpuiov_regs *regs = gpuiov_regs(spec->layout);
        if (!regs || spec->cap_offset < 0x100 || spec->cap_offset % 4 || spec->total_vfs > regs->max_vfs ||
            spec->fb_mib % regs->fb_total_unit_mib || spec->fb_mib / regs->fb_total_unit_mib > 0xffff) {
                errno = EINVAL;
                return NULL;
        }
        struct sim_card *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->spec = *spec;
        c->regs = regs;
        c->total_vfs = spec->total_vfs;
        if (!c->spec.sched_modes)
                c->spec.sched_modes = GPUIOV_SCHED_BIT(GPUIOV_SCHED_SOLID) | GPUIOV_SCHED_BIT(GPUIOV_SCHED_LIQUID) |
                                      GPUIOV_SCHED_BIT(GPUIOV_SCHED_FAIRNESS) | GPUIOV_SCHED_BIT(GPUIOV_SCHED_ROUND_ROBIN);

        if (spec->layout == GPUIOV_TONGA) {
                c->n_blocks = 1;
                /* Without a mode command the block runs solid (docs/gpuiov.md, the Tonga assumption). */
                c->blocks[0] = (struct sched_block){ .off = TONGA_SCH_BLOCK, .gfx = true, .mode = GPUIOV_SCHED_SOLID };
                c->cap_len = TONGA_SCH_BLOCK + SCH_BLOCK_LEN;
                /* The main window drives the one block. */
                c->windows[c->n_windows++] = (struct cmd_window){
                        .cmd_off = TONGA_CMD_CONTROL, .status_off = TONGA_CMD_STATUS, .block = 0 };
        } else {
                c->n_blocks = MI300_GFX_BLOCKS + MI300_MM_BLOCKS;
                for (unsigned i = 0; i < c->n_blocks; i++)
                        c->blocks[i] = (struct sched_block){
                                .off = MI300_SCH_FIRST_BLOCK + i * SCH_BLOCK_STRIDE,
                                .gfx = i < MI300_GFX_BLOCKS,
                                .index = i < MI300_GFX_BLOCKS ? i : i - MI300_GFX_BLOCKS,
                        };
                c->cap_len = c->blocks[c->n_blocks - 1].off + SCH_BLOCK_LEN;
        }
        for (unsigned i = 0; i < c->n_blocks; i++)
                c->windows[c->n_windows++] = (struct cmd_window){
                        .cmd_off = c->blocks[i].off + SCH_CMD_CONTROL,
                        .status_off = c->blocks[i].off + SCH_CMD_STATUS, .block = i };
        if (spec->cap_offset + c->cap_len > 4096) {
                free(c);
                errno = EINVAL;
                return NULL;
        }
        for (unsigned n = 0; n < SIM_MAX_VFS; n++)
                c->vf[n] = (struct vf_runtime){ .busy = true, .fb_cleared = true };

        uint8_t *cap = config + spec->cap_offset;
        memset(cap, 0, c->cap_len); /* every writable register starts at 0 */
        sim_card_tick(c, config, 0);
        return c;
}

void sim_card_free(struct sim_card *c) {
        free(c);
}

unsigned sim_card_cap_len(const struct sim_card *c) {
        return c->cap_len;
}

/* Write the card-owned fields (see the top of this file) into config. */
static void sync_registers(struct sim_card *c, uint8_t config[4096]) {
        uint8_t *cap = config + c->spec.cap_offset;

        put32(cap, (get32(cap) & 0xfff00000u) | GPUIOV_EXT_CAP_VER << 16 | GPUIOV_EXT_CAP_ID);
        put32(cap + GPUIOV_VSEC_HDR, (uint32_t)c->cap_len << 20 | GPUIOV_VSEC_REV << 16 | GPUIOV_VSEC_ID);
        put16(cap + c->regs->fb_available, c->spec.fb_mib / c->regs->fb_total_unit_mib);
        if (c->spec.layout == GPUIOV_TONGA) {
                uint32_t init = 0;
                for (unsigned n = 0; n < c->total_vfs; n++)
                        if (c->vf[n].initialized)
                                init |= 1u << n;
                put32(cap + TONGA_VM_INIT_STATUS, init);
                cap[TONGA_AUTO_SCH_OFFSET] = TONGA_SCH_BLOCK >> 4;
                cap[TONGA_DISP_OFFSET] = 0; /* no display block */
        } else {
                cap[MI300_SCH_OFFSET] = MI300_SCH_FIRST_BLOCK >> 4;
                cap[MI300_SCH_GFX_COUNT] = MI300_GFX_BLOCKS;
                cap[MI300_SCH_MM_COUNT] = MI300_MM_BLOCKS;
        }

        uint32_t busy = 0;
        for (unsigned n = 0; n < c->numvfs; n++)
                if (c->vf[n].busy)
                        busy |= 1u << n;
        for (unsigned i = 0; i < c->n_blocks; i++) {
                put32(cap + c->blocks[i].off + SCH_VM_BUSY_STATUS, busy);
                put32(cap + c->blocks[i].off + SCH_ACTIVE_FUNCTION_ID, c->blocks[i].active_function_id);
        }
        for (unsigned i = 0; i < c->n_windows; i++) {
                struct cmd_window *w = &c->windows[i];
                cap[w->status_off] = w->status;
                if (w->pending)
                        put32(cap + w->cmd_off, w->word);
        }
}

/* Function id (0 = PF, 0x80 | n = VF n) to function index, or -1 when it names no present function. */
static int func_index(const struct sim_card *c, uint8_t func) {
        if (func == GPUIOV_FUNC_PF)
                return 0;
        if ((func & 0x80) && (unsigned)(func & 0x7f) < c->numvfs)
                return 1 + (func & 0x7f);
        return -1;
}

/* Apply a command's effects; returns the CMD_STATUS it completes with. */
static uint8_t execute(struct sim_card *c, struct sched_block *b, uint32_t word) {
        unsigned cmd = word & 0xff & ~GPUIOV_CMD_EXECUTE;
        uint8_t func = (word >> 8) & 0xff, next = (word >> 16) & 0xff;
        int f = func_index(c, func);
        if (f < 0 || !gpuiov_cmd_supported(c->spec.layout, cmd)) /* Tonga: the base codes 1-9 only */
                return GPUIOV_STATUS_INVALID;

        switch (cmd) {
        case GPUIOV_CMD_IDLE_GPU:
                c->fn_state[f] = FN_IDLE;
                return GPUIOV_STATUS_OK;
        case GPUIOV_CMD_SAVE_GPU_STATE:
        case GPUIOV_CMD_SAVE_RLCV_STATE:
                c->fn_state[f] = FN_SAVED;
                return GPUIOV_STATUS_OK;
        case GPUIOV_CMD_LOAD_GPU_STATE:
        case GPUIOV_CMD_LOAD_RLCV_STATE:
                c->fn_state[f] = FN_LOADED;
                return GPUIOV_STATUS_OK;
        case GPUIOV_CMD_RUN_GPU:
                c->fn_state[f] = FN_RUNNING;
                b->active_function_id = func;
                return GPUIOV_STATUS_OK;
        case GPUIOV_CMD_CONTEXT_SWITCH: {
                int nf = func_index(c, next);
                if (nf < 0)
                        return GPUIOV_STATUS_INVALID;
                c->fn_state[f] = FN_SAVED;
                c->fn_state[nf] = FN_RUNNING;
                b->active_function_id = next;
                return GPUIOV_STATUS_OK;
        }
        case GPUIOV_CMD_INIT_GPU:
                if (f > 0)
                        c->vf[f - 1].initialized = true;
                return GPUIOV_STATUS_OK;
        case GPUIOV_CMD_ENABLE_AUTO_HW_SWITCH:
                b->running = true;
                return GPUIOV_STATUS_OK;
        case GPUIOV_CMD_DISABLE_AUTO_HW_SCHED:
        case GPUIOV_CMD_DISABLE_AUTO_HW_SCHED_AND_SWITCH:
        case GPUIOV_CMD_SHUTDOWN_GPU:
                b->running = false;
                return GPUIOV_STATUS_OK;
        case GPUIOV_CMD_CONFIG_AUTO_HW_SCHED_MODE:
                if (next >= 8 || !(c->spec.sched_modes & GPUIOV_SCHED_BIT(next))) /* a policy the card lacks */
                        return GPUIOV_STATUS_INVALID;
                b->mode = next;
                return GPUIOV_STATUS_OK;
        case GPUIOV_CMD_CLEAR_VF_STATE:
                if (f == 0)
                        return GPUIOV_STATUS_INVALID; /* the PF has no VF state to clear */
                c->vf[f - 1].fb_cleared = true;
                return GPUIOV_STATUS_OK;
        default:
                return GPUIOV_STATUS_INVALID;
        }
}

static void complete(struct sim_card *c, struct cmd_window *w, uint8_t config[4096]) {
        uint8_t *cap = config + c->spec.cap_offset;
        w->pending = false;
        if (w->hang) {
                w->hang = false;
                w->status = GPUIOV_STATUS_GFX_HANG;
        } else
                w->status = execute(c, &c->blocks[w->block], w->word);
        put32(cap + w->cmd_off, w->word & ~(uint32_t)GPUIOV_CMD_EXECUTE);
}

static void complete_due(struct sim_card *c, uint8_t config[4096], uint64_t now_ns) {
        for (unsigned i = 0; i < c->n_windows; i++) {
                struct cmd_window *w = &c->windows[i];
                if (w->pending && !w->stuck && now_ns >= w->deadline_ns)
                        complete(c, w, config);
        }
}

void sim_card_tick(struct sim_card *c, uint8_t config[4096], uint64_t now_ns) {
        complete_due(c, config, now_ns);
        sync_registers(c, config);
}

static void start(struct sim_card *c, struct cmd_window *w, uint32_t word, uint64_t now_ns) {
        w->word = word;
        w->pending = true;
        w->stuck = w->hang = false;
        w->deadline_ns = now_ns + c->spec.cmd_latency_ns;
        if (c->fault_count > 0) {
                c->fault_count--;
                if (c->fault == SIM_CARD_FAULT_STUCK)
                        w->stuck = true;
                else
                        w->hang = true;
        }
}

void sim_card_config_written(struct sim_card *c, uint8_t config[4096], unsigned off, unsigned len, uint64_t now_ns) {
        uint8_t *cap = config + c->spec.cap_offset;
        /* Commands already due complete before this write is looked at. */
        complete_due(c, config, now_ns);
        if (overlaps(off, len, c->spec.cap_offset, c->cap_len))
                for (unsigned i = 0; i < c->n_windows; i++) {
                        struct cmd_window *w = &c->windows[i];
                        /* A window with a command in flight ignores writes (sync_registers restores it). */
                        if (w->pending || !overlaps(off, len, c->spec.cap_offset + w->cmd_off, 4))
                                continue;
                        if (cap[w->cmd_off] & GPUIOV_CMD_EXECUTE)
                                start(c, w, get32(cap + w->cmd_off), now_ns);
                }
        complete_due(c, config, now_ns); /* latency 0: done before the writer returns */
        sync_registers(c, config);
}

void sim_card_set_numvfs(struct sim_card *c, unsigned n) {
        c->numvfs = MIN(n, c->total_vfs);
        for (unsigned v = c->numvfs; v < SIM_MAX_VFS; v++) {
                c->fn_state[1 + v] = FN_IDLE;
                c->vf[v].initialized = false;
        }
}

void sim_card_vf_used(struct sim_card *c, unsigned vf) {
        if (vf < c->total_vfs)
                c->vf[vf].fb_cleared = false;
}

int sim_card_set_load(struct sim_card *c, unsigned vf, bool busy) {
        if (vf >= c->total_vfs)
                return -EINVAL;
        c->vf[vf].busy = busy;
        return 0;
}

void sim_card_set_cmd_latency(struct sim_card *c, uint64_t ns) {
        c->spec.cmd_latency_ns = ns;
}

void sim_card_fault(struct sim_card *c, enum sim_card_fault f, unsigned count) {
        c->fault = f;
        c->fault_count = count;
        if (count == 0 && f == SIM_CARD_FAULT_STUCK)
                /* Disarming releases stuck commands: they end as a hang, without effect. */
                for (unsigned i = 0; i < c->n_windows; i++)
                        if (c->windows[i].stuck) {
                                c->windows[i].stuck = false;
                                c->windows[i].hang = true;
                                c->windows[i].deadline_ns = 0;
                        }
}

/* A VF's quantum in ms: its 2-bit index into the block's four options. */
static unsigned vf_quantum_ms(const uint8_t *block, unsigned vf) {
        uint32_t options = get32(block + SCH_TIME_QUANTA_OPTION);
        unsigned idx = (get32(block + SCH_TIME_QUANTA_PER_VF) >> (2 * vf)) & 3;
        return (options >> (8 * idx)) & 0xff;
}

static unsigned pf_quantum_ms(const uint8_t *block) {
        uint32_t options = get32(block + SCH_TIME_QUANTA_OPTION);
        unsigned idx = get32(block + SCH_PF_QUANTA) >> 30;
        return (options >> (8 * idx)) & 0xff;
}

/* Run one block's round-robin over SHARE_WINDOW_MS of simulated time and write each function's
 * share of GPU time into share[] (by function index). Solid: an idle function keeps its slot and
 * the GPU idles through it; liquid: idle functions are skipped. The software policies are modelled
 * the same way (an inference, docs/gpuiov.md): round_robin keeps an idle VF's slot like solid,
 * fairness gives it to the busy ones like liquid. The PF has no simulated work. */
static void block_shares(const struct sim_card *c, const uint8_t *cap, const struct sched_block *b,
                         double share[SIM_NFUNCS]) {
        struct { unsigned fn, quantum_ms; bool busy; } ring[SIM_NFUNCS];
        unsigned n = 0;
        const uint8_t *block = cap + b->off;
        uint32_t active = get32(block + SCH_ACTIVE_FUNCTIONS);

        for (unsigned f = 0; f < SIM_NFUNCS; f++)
                share[f] = 0;
        if (!b->running)
                return;
        for (unsigned v = 0; v < c->numvfs; v++) {
                unsigned q = vf_quantum_ms(block, v);
                if ((active & (1u << v)) && q > 0) /* a quantum of 0 ms is never scheduled */
                        ring[n++] = (typeof(ring[0])){ 1 + v, q, c->vf[v].busy };
        }
        if ((active & SCH_ACTIVE_PF_BIT) && pf_quantum_ms(block) > 0)
                ring[n++] = (typeof(ring[0])){ 0, pf_quantum_ms(block), false };
        if (n == 0)
                return;
        if (n == 1)
                ring[0].quantum_ms = SINGLE_FUNCTION_SLOT_MS;

        bool liquid = b->mode == GPUIOV_SCHED_LIQUID || b->mode == GPUIOV_SCHED_FAIRNESS;
        uint64_t busy_ms[SIM_NFUNCS] = { 0 };
        uint64_t t = 0;
        while (t < SHARE_WINDOW_MS) {
                bool ran = false;
                for (unsigned i = 0; i < n && t < SHARE_WINDOW_MS; i++) {
                        if (liquid && !ring[i].busy)
                                continue;
                        uint64_t slot = MIN((uint64_t)ring[i].quantum_ms, SHARE_WINDOW_MS - t);
                        if (ring[i].busy)
                                busy_ms[ring[i].fn] += slot;
                        t += slot;
                        ran = true;
                }
                if (!ran)
                        break; /* liquid with nothing to run: the GPU idles */
        }
        for (unsigned f = 0; f < SIM_NFUNCS; f++)
                share[f] = (double)busy_ms[f] / SHARE_WINDOW_MS;
}

static struct json_object *block_json(const uint8_t *cap, const struct sched_block *b) {
        const uint8_t *block = cap + b->off;
        uint32_t options = get32(block + SCH_TIME_QUANTA_OPTION);
        struct json_object *o = json_object_new_object(), *q = json_object_new_array();
        char hex[16];

        json_object_object_add(o, "kind", json_object_new_string(b->gfx ? "gfx" : "mm"));
        json_object_object_add(o, "index", json_object_new_int((int)b->index));
        const char *mode = gpuiov_sched_mode_name(b->mode);
        json_object_object_add(o, "mode", mode ? json_object_new_string(mode) : NULL);
        json_object_object_add(o, "running", json_object_new_boolean(b->running));
        for (unsigned i = 0; i < SCH_QUANTA_ENTRIES; i++)
                json_object_array_add(q, json_object_new_int((options >> (8 * i)) & 0xff));
        json_object_object_add(o, "quanta_options_ms", q);
        snprintf(hex, sizeof(hex), "0x%08x", get32(block + SCH_ACTIVE_FUNCTIONS));
        json_object_object_add(o, "active_functions", json_object_new_string(hex));
        return o;
}

static struct json_object *mib_pair(uint32_t offset_mib, uint32_t size_mib) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "offset_mib", json_object_new_int64(offset_mib));
        json_object_object_add(o, "size_mib", json_object_new_int64(size_mib));
        return o;
}

struct json_object *sim_card_status(struct sim_card *c, const uint8_t config[4096]) {
        const uint8_t *cap = config + c->spec.cap_offset;
        const struct gpuiov_regs *r = c->regs;
        struct json_object *o = json_object_new_object();
        uint32_t available = get16(cap + r->fb_available) * r->fb_total_unit_mib;
        uint32_t consumed = get16(cap + r->fb_consumed) * r->fb_total_unit_mib;
        uint32_t off, size;

        json_object_object_add(o, "layout", json_object_new_string(gpuiov_layout_name(c->spec.layout)));
        json_object_object_add(o, "fb_available_mib", json_object_new_int64(available));
        json_object_object_add(o, "fb_consumed_mib", json_object_new_int64(consumed));
        /* TOTAL_FB_CONSUMED = available - PF reserve (hardware.md 3); 0 = not programmed. */
        json_object_object_add(o, "pf_reserve_mib",
                               json_object_new_int64(consumed && consumed <= available ? available - consumed : 0));
        gpuiov_cntxt_decode(get32(cap + r->cntxt), &off, &size);
        json_object_object_add(o, "context", mib_pair(off, size));

        /* Shares: a VF's share is the mean over the graphics blocks. */
        double share[SIM_NFUNCS] = { 0 }, block_share[SIM_NFUNCS];
        unsigned n_gfx = 0;
        struct json_object *blocks = json_object_new_array();
        for (unsigned i = 0; i < c->n_blocks; i++) {
                json_object_array_add(blocks, block_json(cap, &c->blocks[i]));
                if (!c->blocks[i].gfx)
                        continue;
                n_gfx++;
                block_shares(c, cap, &c->blocks[i], block_share);
                for (unsigned f = 0; f < SIM_NFUNCS; f++)
                        share[f] += block_share[f];
        }
        json_object_object_add(o, "scheduler", block_json(cap, &c->blocks[0]));
        json_object_object_add(o, "schedulers", blocks);

        struct json_object *vfs = json_object_new_array();
        for (unsigned n = 0; n < c->total_vfs; n++) {
                struct json_object *v = json_object_new_object();
                uint32_t raw = get32(cap + r->vf_fb0 + 4 * n);
                off = size = 0;
                if (raw)
                        gpuiov_fb_decode(c->spec.layout, raw, &off, &size);
                json_object_object_add(v, "index", json_object_new_int((int)n));
                json_object_object_add(v, "enabled", json_object_new_boolean(n < c->numvfs));
                json_object_object_add(v, "fb", mib_pair(off, size));
                json_object_object_add(v, "time_quantum_ms",
                                       json_object_new_int((int)vf_quantum_ms(cap + c->blocks[0].off, n)));
                json_object_object_add(v, "load", json_object_new_string(c->vf[n].busy ? "busy" : "idle"));
                char share_text[16];
                snprintf(share_text, sizeof(share_text), "%.4f", n_gfx ? share[1 + n] / n_gfx : 0);
                json_object_object_add(v, "share", json_object_new_double_s(strtod(share_text, NULL), share_text));
                json_object_object_add(v, "state", json_object_new_string(fn_state_names[c->fn_state[1 + n]]));
                json_object_object_add(v, "initialized", json_object_new_boolean(c->vf[n].initialized));
                json_object_object_add(v, "fb_cleared", json_object_new_boolean(c->vf[n].fb_cleared));
                json_object_array_add(vfs, v);
        }
        json_object_object_add(o, "vfs", vfs);
        return o;
}
