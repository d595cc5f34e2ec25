// SPDX-License-Identifier: MIT
// Unit tests for the simulated card: the GPU-IOV capability's registers, commands, faults and the
// hardware scheduler's measured shares, for both register layouts.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mxgpu/gpuiov.h"
#include "../../src/sim/card.h"

#define CAP 0x200      /* where these tests place the GPU-IOV capability */
#define SRIOV_CAP 0x100
#define ALIGN16(x) (((x) + 15) / 16 * 16)

struct fx {
        uint8_t config[4096];
        struct sim_card *card;
        enum gpuiov_layout layout;
        uint64_t now;
};

static uint32_t get32(const uint8_t *p) {
        return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put32(uint8_t *p, uint32_t v) {
        p[0] = v & 0xff; p[1] = (v >> 8) & 0xff; p[2] = (v >> 16) & 0xff; p[3] = v >> 24;
}

/* sched_modes: the card's policies (0: the MI300 layout's four) */
static struct fx *fx_new_modes(enum gpuiov_layout layout, unsigned total_vfs, uint32_t fb_mib, uint64_t latency_ns,
                               uint8_t sched_modes) {
        struct fx *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        f->layout = layout;
        /* An SR-IOV extended capability first, whose next pointer leads to the card's. */
        put32(f->config + SRIOV_CAP, 0x0010 | 1 << 16 | (uint32_t)CAP << 20);
        struct sim_card_spec spec = {
                .layout = layout, .cap_offset = CAP, .fb_mib = fb_mib,
                .total_vfs = total_vfs, .cmd_latency_ns = latency_ns, .sched_modes = sched_modes,
        };
        f->card = sim_card_new(&spec, f->config);
        assert_non_null(f->card);
        f->now = 1000;
        return f;
}

static struct fx *fx_new(enum gpuiov_layout layout, unsigned total_vfs, uint32_t fb_mib, uint64_t latency_ns) {
        return fx_new_modes(layout, total_vfs, fb_mib, latency_ns, 0);
}

static void fx_free(struct fx *f) {
        sim_card_free(f->card);
        free(f);
}

/* Config-space access the way the simulator's kernel model does it: store, then tell the card. */
static void wr32(struct fx *f, unsigned off, uint32_t v) {
        put32(f->config + CAP + off, v);
        sim_card_config_written(f->card, f->config, CAP + off, 4, f->now);
}
static void wr16(struct fx *f, unsigned off, uint16_t v) {
        f->config[CAP + off] = v & 0xff;
        f->config[CAP + off + 1] = v >> 8;
        sim_card_config_written(f->card, f->config, CAP + off, 2, f->now);
}
static void wr8(struct fx *f, unsigned off, uint8_t v) {
        f->config[CAP + off] = v;
        sim_card_config_written(f->card, f->config, CAP + off, 1, f->now);
}
static uint32_t rd32(struct fx *f, unsigned off) {
        sim_card_tick(f->card, f->config, f->now);
        return get32(f->config + CAP + off);
}
static uint16_t rd16(struct fx *f, unsigned off) {
        return rd32(f, off) & 0xffff;
}
static uint8_t rd8(struct fx *f, unsigned off) {
        return rd32(f, off) & 0xff;
}

/* Offset of scheduler block i from the capability, found the way a manager finds it. */
static unsigned block_off(struct fx *f, unsigned i) {
        if (f->layout == GPUIOV_TONGA)
                return (unsigned)rd8(f, TONGA_AUTO_SCH_OFFSET) << 4;
        return ((unsigned)rd8(f, MI300_SCH_OFFSET) << 4) + i * SCH_BLOCK_STRIDE;
}

/* The main command window: Tonga's at cap+0x0c, MI300's is block 0. */
static unsigned main_cmd(struct fx *f) {
        return f->layout == GPUIOV_TONGA ? TONGA_CMD_CONTROL : block_off(f, 0) + SCH_CMD_CONTROL;
}
static unsigned main_status(struct fx *f) {
        return f->layout == GPUIOV_TONGA ? TONGA_CMD_STATUS : block_off(f, 0) + SCH_CMD_STATUS;
}

/* Issue a command on a window and return its status once EXECUTE cleared (-1 if it did not). */
static int command_at(struct fx *f, unsigned cmd_off, unsigned status_off, unsigned cmd, uint8_t func, uint8_t next) {
        wr32(f, cmd_off, gpuiov_cmd_word(cmd, func, next));
        if (rd8(f, cmd_off) & GPUIOV_CMD_EXECUTE)
                return -1;
        return rd8(f, status_off);
}
static int command(struct fx *f, unsigned cmd, uint8_t func, uint8_t next) {
        return command_at(f, main_cmd(f), main_status(f), cmd, func, next);
}

/* Walk the extended capability list from 0x100 to the GPU-IOV VSEC; 0 if absent. */
static unsigned find_gpuiov(const uint8_t *config) {
        unsigned off = 0x100;
        for (int hops = 0; off >= 0x100 && hops < 64; hops++) {
                uint32_t hdr = get32(config + off);
                if ((hdr & 0xffff) == GPUIOV_EXT_CAP_ID && (get32(config + off + GPUIOV_VSEC_HDR) & 0xffff) == GPUIOV_VSEC_ID)
                        return off;
                off = hdr >> 20;
        }
        return 0;
}

static struct json_object *status_get(struct fx *f) {
        sim_card_tick(f->card, f->config, f->now);
        struct json_object *st = sim_card_status(f->card, f->config);
        assert_non_null(st);
        return st;
}
static struct json_object *path(struct json_object *o, const char *key) {
        struct json_object *v = NULL;
        assert_true(json_object_object_get_ex(o, key, &v));
        return v;
}
static struct json_object *vf_json(struct json_object *st, unsigned n) {
        struct json_object *v = json_object_array_get_idx(path(st, "vfs"), n);
        assert_non_null(v);
        return v;
}
static double vf_share(struct fx *f, unsigned n) {
        struct json_object *st = status_get(f);
        double s = json_object_get_double(path(vf_json(st, n), "share"));
        json_object_put(st);
        return s;
}
static const char *vf_string(struct json_object *st, unsigned n, const char *key) {
        return json_object_get_string(path(vf_json(st, n), key));
}
static bool vf_bool(struct fx *f, unsigned n, const char *key) {
        struct json_object *st = status_get(f);
        bool b = json_object_get_boolean(path(vf_json(st, n), key));
        json_object_put(st);
        return b;
}

/* --- capability discovery and read-only fields --- */

static void tonga_capability(void **state) {
        struct fx *f = fx_new(GPUIOV_TONGA, 16, 8192, 0);
        assert_int_equal(find_gpuiov(f->config), CAP);
        uint32_t hdr = rd32(f, 0), vsec = rd32(f, GPUIOV_VSEC_HDR);
        assert_int_equal(hdr, 0x000b | 1 << 16);            /* ID 0x0b, version 1, next 0 */
        assert_int_equal(vsec & 0xffff, 0x0002);
        assert_int_equal((vsec >> 16) & 0xf, 1);
        assert_int_equal(vsec >> 20, sim_card_cap_len(f->card));
        assert_int_equal(rd16(f, TONGA_TOTAL_FB_AVAILABLE), 8192);
        /* One scheduler block after the VF framebuffer table, 16-byte aligned, inside the capability. */
        unsigned blk = block_off(f, 0);
        assert_true(blk >= TONGA_CAP_LEN);
        assert_int_equal(blk % 16, 0);
        assert_int_equal(sim_card_cap_len(f->card), blk + SCH_BLOCK_LEN);
        assert_int_equal(rd8(f, TONGA_DISP_OFFSET), 0);
        /* Writable registers start at 0. */
        assert_int_equal(rd32(f, TONGA_CMD_CONTROL), 0);
        assert_int_equal(rd32(f, TONGA_VF_FB(0)), 0);
        assert_int_equal(rd32(f, blk + SCH_TIME_QUANTA_OPTION), 0);
        fx_free(f);
}

static void mi300_capability(void **state) {
        struct fx *f = fx_new(GPUIOV_MI300, 8, 196608, 0);
        assert_int_equal(find_gpuiov(f->config), CAP);
        assert_int_equal(rd32(f, 0), 0x000b | 1 << 16);
        uint32_t vsec = rd32(f, GPUIOV_VSEC_HDR);
        assert_int_equal(vsec & 0xfffff, 0x10002);
        assert_int_equal(vsec >> 20, sim_card_cap_len(f->card));
        assert_int_equal(rd16(f, MI300_TOTAL_FB_AVAILABLE), 196608 / MI300_FB_TOTAL_UNIT_MIB);
        assert_int_equal(rd8(f, MI300_SCH_OFFSET) << 4, 0x80);
        assert_int_equal(rd8(f, MI300_SCH_GFX_COUNT), 8);
        assert_int_equal(rd8(f, MI300_SCH_MM_COUNT), 12);
        assert_int_equal(sim_card_cap_len(f->card), 0x80 + 19 * SCH_BLOCK_STRIDE + SCH_BLOCK_LEN);
        fx_free(f);
}

static void read_only_fields(enum gpuiov_layout l) {
        struct fx *f = l == GPUIOV_TONGA ? fx_new(l, 16, 8192, 0) : fx_new(l, 8, 196608, 0);
        const struct gpuiov_regs *r = gpuiov_regs(l);
        uint32_t vsec = rd32(f, GPUIOV_VSEC_HDR), avail = rd16(f, r->fb_available);
        uint32_t sch = l == GPUIOV_TONGA ? rd32(f, 0x28) & 0xffff0000 : rd32(f, 0x2c) & 0x00ffffff;

        /* The next pointer is the caller's; ID and version are not. */
        wr32(f, 0, 0xabcfffff);
        assert_int_equal(rd32(f, 0), 0xabc00000 | 1 << 16 | 0x000b);
        wr32(f, GPUIOV_VSEC_HDR, 0xffffffff);
        assert_int_equal(rd32(f, GPUIOV_VSEC_HDR), vsec);
        /* TOTAL_FB_AVAILABLE is read-only, TOTAL_FB_CONSUMED next to it is not. */
        wr32(f, r->fb_available, 0xffffffff);
        assert_int_equal(rd16(f, r->fb_available), avail);
        assert_int_equal(rd16(f, r->fb_consumed), 0xffff);
        wr16(f, r->fb_available, 1);
        assert_int_equal(rd16(f, r->fb_available), avail);
        if (l == GPUIOV_TONGA) {
                wr32(f, 0x28, 0xffffffff);
                assert_int_equal(rd32(f, 0x28) & 0xffff0000, sch);
        } else {
                wr32(f, 0x2c, 0xffffffff);
                assert_int_equal(rd32(f, 0x2c) & 0x00ffffff, sch);
        }
        /* Everything at once: a write of all ones over the whole capability. */
        memset(f->config + CAP + 8, 0xff, sim_card_cap_len(f->card) - 8);
        sim_card_config_written(f->card, f->config, CAP + 8, sim_card_cap_len(f->card) - 8, f->now);
        assert_int_equal(rd32(f, GPUIOV_VSEC_HDR), vsec);
        assert_int_equal(rd16(f, r->fb_available), avail);
        assert_int_equal(block_off(f, 0), l == GPUIOV_TONGA ? TONGA_SCH_BLOCK : MI300_SCH_FIRST_BLOCK);
        /* Writable registers hold what was written. */
        assert_int_equal(rd32(f, r->vf_fb0 + 4), 0xffffffff);
        assert_int_equal(rd32(f, r->cntxt), 0xffffffff);
        fx_free(f);
}
static void tonga_read_only(void **state) { read_only_fields(GPUIOV_TONGA); }
static void mi300_read_only(void **state) { read_only_fields(GPUIOV_MI300); }

/* --- framebuffer registers --- */

static void program_fb(struct fx *f, uint32_t pf_reserve, unsigned vfs, uint32_t vf_mib) {
        const struct gpuiov_regs *r = gpuiov_regs(f->layout);
        uint32_t avail = rd16(f, r->fb_available) * r->fb_total_unit_mib;
        wr16(f, r->fb_consumed, (avail - pf_reserve) / r->fb_total_unit_mib);
        wr32(f, r->cntxt, gpuiov_cntxt_encode(pf_reserve, GPUIOV_CNTXT_MIB));
        uint32_t start = ALIGN16(pf_reserve + GPUIOV_CNTXT_MIB);
        for (unsigned n = 0; n < vfs; n++)
                wr32(f, r->vf_fb0 + 4 * n, gpuiov_fb_encode(f->layout, start + n * vf_mib, vf_mib));
}

static void check_fb(struct fx *f, uint32_t pf_reserve, unsigned vfs, uint32_t vf_mib, unsigned total) {
        const struct gpuiov_regs *r = gpuiov_regs(f->layout);
        struct json_object *st = status_get(f);
        uint32_t start = ALIGN16(pf_reserve + GPUIOV_CNTXT_MIB);
        assert_string_equal(json_object_get_string(path(st, "layout")), gpuiov_layout_name(f->layout));
        assert_int_equal(json_object_get_int64(path(st, "pf_reserve_mib")), pf_reserve);
        assert_int_equal(json_object_get_int64(path(st, "fb_available_mib")),
                         json_object_get_int64(path(st, "fb_consumed_mib")) + pf_reserve);
        assert_int_equal(json_object_get_int64(path(path(st, "context"), "offset_mib")), pf_reserve);
        assert_int_equal(json_object_get_int64(path(path(st, "context"), "size_mib")), GPUIOV_CNTXT_MIB);
        assert_int_equal(json_object_array_length(path(st, "vfs")), total);
        for (unsigned n = 0; n < vfs; n++) {
                uint32_t raw = rd32(f, r->vf_fb0 + 4 * n), off, size;
                assert_int_equal(raw, gpuiov_fb_encode(f->layout, start + n * vf_mib, vf_mib));
                gpuiov_fb_decode(f->layout, raw, &off, &size);
                assert_int_equal(off, start + n * vf_mib);
                assert_int_equal(size, vf_mib);
                struct json_object *fb = path(vf_json(st, n), "fb");
                assert_int_equal(json_object_get_int64(path(fb, "offset_mib")), start + n * vf_mib);
                assert_int_equal(json_object_get_int64(path(fb, "size_mib")), vf_mib);
        }
        for (unsigned n = vfs; n < total; n++) /* not programmed */
                assert_int_equal(json_object_get_int64(path(path(vf_json(st, n), "fb"), "size_mib")), 0);
        json_object_put(st);
}

static void tonga_fb(void **state) {
        /* hardware.md 4: a real S7150, 16 VFs x 480 MiB from 272 MiB. */
        struct fx *f = fx_new(GPUIOV_TONGA, 16, 8192, 0);
        assert_int_equal(ALIGN16(256 + 8), 272);
        program_fb(f, 256, 16, 480);
        assert_int_equal(rd32(f, TONGA_VF_FB(0)), (480 / 16 - 1) | (272 / 16) << 16);
        check_fb(f, 256, 16, 480, 16);
        fx_free(f);
        /* Part of the VFs programmed: the others read as not programmed. */
        f = fx_new(GPUIOV_TONGA, 16, 8192, 0);
        program_fb(f, 16, 4, 1024);
        check_fb(f, 16, 4, 1024, 16);
        fx_free(f);
}

static void mi300_fb(void **state) {
        /* MI300X: 192 GiB, 8 VFs, PF reserve 256 MiB, the rest split evenly in 16 MiB steps. */
        struct fx *f = fx_new(GPUIOV_MI300, 8, 196608, 0);
        uint32_t vf_mib = (196608 - 272) / 8 / 16 * 16;
        program_fb(f, 256, 8, vf_mib);
        assert_int_equal(rd32(f, MI300_VF_FB(1)), vf_mib / 16 | (272 + vf_mib) / 16 << 16);
        check_fb(f, 256, 8, vf_mib, 8);
        fx_free(f);
}

/* --- commands --- */

static void commands(enum gpuiov_layout l) {
        struct fx *f = fx_new(l, 8, l == GPUIOV_TONGA ? 8192 : 196608, 0);
        unsigned blk = block_off(f, 0);
        sim_card_set_numvfs(f->card, 4);

        assert_int_equal(command(f, GPUIOV_CMD_INIT_GPU, GPUIOV_FUNC_VF(2), 0), GPUIOV_STATUS_OK);
        assert_true(vf_bool(f, 2, "initialized"));
        assert_false(vf_bool(f, 1, "initialized"));
        if (l == GPUIOV_TONGA)
                assert_int_equal(rd32(f, TONGA_VM_INIT_STATUS), 1u << 2);
        /* The command word stays, EXECUTE cleared. */
        assert_int_equal(rd32(f, main_cmd(f)), gpuiov_cmd_word(GPUIOV_CMD_INIT_GPU, GPUIOV_FUNC_VF(2), 0) & ~0x10u);

        struct { unsigned cmd; const char *state; } steps[] = {
                { GPUIOV_CMD_RUN_GPU, "running" }, { GPUIOV_CMD_IDLE_GPU, "idle" },
                { GPUIOV_CMD_SAVE_GPU_STATE, "saved" }, { GPUIOV_CMD_LOAD_GPU_STATE, "loaded" },
                { GPUIOV_CMD_SAVE_RLCV_STATE, "saved" }, { GPUIOV_CMD_LOAD_RLCV_STATE, "loaded" },
        };
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
                assert_int_equal(command(f, steps[i].cmd, GPUIOV_FUNC_VF(2), 0), GPUIOV_STATUS_OK);
                struct json_object *st = status_get(f);
                assert_string_equal(vf_string(st, 2, "state"), steps[i].state);
                json_object_put(st);
        }
        assert_int_equal(command(f, GPUIOV_CMD_RUN_GPU, GPUIOV_FUNC_VF(1), 0), GPUIOV_STATUS_OK);
        assert_int_equal(rd32(f, blk + SCH_ACTIVE_FUNCTION_ID), GPUIOV_FUNC_VF(1));
        /* A world switch in one command. */
        assert_int_equal(command(f, GPUIOV_CMD_CONTEXT_SWITCH, GPUIOV_FUNC_VF(1), GPUIOV_FUNC_VF(3)), GPUIOV_STATUS_OK);
        assert_int_equal(rd32(f, blk + SCH_ACTIVE_FUNCTION_ID), GPUIOV_FUNC_VF(3));
        struct json_object *st = status_get(f);
        assert_string_equal(vf_string(st, 1, "state"), "saved");
        assert_string_equal(vf_string(st, 3, "state"), "running");
        json_object_put(st);
        /* ACTIVE_FUNCTION_ID is the card's. */
        wr32(f, blk + SCH_ACTIVE_FUNCTION_ID, 0x85);
        assert_int_equal(rd32(f, blk + SCH_ACTIVE_FUNCTION_ID), GPUIOV_FUNC_VF(3));

        /* Tenant data until CLEAR_VF_STATE, a GIM8 command: INVALID on Tonga, whose set is codes 1-9. */
        assert_true(vf_bool(f, 0, "fb_cleared"));
        sim_card_vf_used(f->card, 0);
        assert_false(vf_bool(f, 0, "fb_cleared"));
        if (l == GPUIOV_TONGA) {
                assert_int_equal(command(f, GPUIOV_CMD_CLEAR_VF_STATE, GPUIOV_FUNC_VF(0), 0), GPUIOV_STATUS_INVALID);
                assert_false(vf_bool(f, 0, "fb_cleared"));
        } else {
                assert_int_equal(command(f, GPUIOV_CMD_CLEAR_VF_STATE, GPUIOV_FUNC_VF(0), 0), GPUIOV_STATUS_OK);
                assert_true(vf_bool(f, 0, "fb_cleared"));
        }

        /* Scheduler on/off and mode. Tonga's block takes no mode command and runs solid. */
        st = status_get(f);
        assert_false(json_object_get_boolean(path(path(st, "scheduler"), "running")));
        if (l == GPUIOV_TONGA)
                assert_string_equal(json_object_get_string(path(path(st, "scheduler"), "mode")), "solid");
        else
                assert_null(path(path(st, "scheduler"), "mode"));
        json_object_put(st);
        assert_int_equal(command(f, GPUIOV_CMD_CONFIG_AUTO_HW_SCHED_MODE, GPUIOV_FUNC_PF, GPUIOV_SCHED_LIQUID),
                         l == GPUIOV_TONGA ? GPUIOV_STATUS_INVALID : GPUIOV_STATUS_OK);
        assert_int_equal(command(f, GPUIOV_CMD_ENABLE_AUTO_HW_SWITCH, GPUIOV_FUNC_PF, 0), 0);
        st = status_get(f);
        assert_true(json_object_get_boolean(path(path(st, "scheduler"), "running")));
        assert_string_equal(json_object_get_string(path(path(st, "scheduler"), "mode")), l == GPUIOV_TONGA ? "solid" : "liquid");
        json_object_put(st);
        unsigned stops[] = { GPUIOV_CMD_DISABLE_AUTO_HW_SCHED, GPUIOV_CMD_DISABLE_AUTO_HW_SCHED_AND_SWITCH,
                             GPUIOV_CMD_SHUTDOWN_GPU };
        if (l == GPUIOV_TONGA) {
                /* none of GIM8's commands: each INVALID, without effect */
                for (size_t i = 0; i < 3; i++)
                        assert_int_equal(command(f, stops[i], GPUIOV_FUNC_PF, 0), GPUIOV_STATUS_INVALID);
                st = status_get(f);
                assert_true(json_object_get_boolean(path(path(st, "scheduler"), "running")));
                json_object_put(st);
        } else {
                assert_int_equal(command(f, GPUIOV_CMD_CONFIG_AUTO_HW_SCHED_MODE, GPUIOV_FUNC_PF, GPUIOV_SCHED_SOLID), 0);
                assert_int_equal(command(f, GPUIOV_CMD_CONFIG_AUTO_HW_SCHED_MODE, GPUIOV_FUNC_PF, GPUIOV_SCHED_HYBRID),
                                 GPUIOV_STATUS_INVALID);
                for (size_t i = 0; i < 3; i++) {
                        assert_int_equal(command(f, GPUIOV_CMD_ENABLE_AUTO_HW_SWITCH, GPUIOV_FUNC_PF, 0), 0);
                        assert_int_equal(command(f, stops[i], GPUIOV_FUNC_PF, 0), 0);
                        st = status_get(f);
                        assert_false(json_object_get_boolean(path(path(st, "scheduler"), "running")));
                        assert_string_equal(json_object_get_string(path(path(st, "scheduler"), "mode")), "solid");
                        json_object_put(st);
                }
        }

        /* Disabling VFs drops their runtime state. */
        sim_card_set_numvfs(f->card, 2);
        assert_false(vf_bool(f, 2, "initialized"));
        assert_false(vf_bool(f, 2, "enabled"));
        assert_true(vf_bool(f, 1, "enabled"));
        if (l == GPUIOV_TONGA)
                assert_int_equal(rd32(f, TONGA_VM_INIT_STATUS), 0);
        fx_free(f);
}
static void tonga_commands(void **state) { commands(GPUIOV_TONGA); }
static void mi300_commands(void **state) { commands(GPUIOV_MI300); }

static void mi300_blocks_are_independent(void **state) {
        struct fx *f = fx_new(GPUIOV_MI300, 8, 196608, 0);
        sim_card_set_numvfs(f->card, 8);
        unsigned b3 = block_off(f, 3), mm0 = block_off(f, MI300_GFX_BLOCKS);
        assert_int_equal(command_at(f, b3 + SCH_CMD_CONTROL, b3 + SCH_CMD_STATUS,
                                    GPUIOV_CMD_ENABLE_AUTO_HW_SWITCH, GPUIOV_FUNC_PF, 0), 0);
        assert_int_equal(command_at(f, mm0 + SCH_CMD_CONTROL, mm0 + SCH_CMD_STATUS,
                                    GPUIOV_CMD_CONFIG_AUTO_HW_SCHED_MODE, GPUIOV_FUNC_PF, GPUIOV_SCHED_LIQUID), 0);
        struct json_object *st = status_get(f), *blocks = path(st, "schedulers");
        assert_int_equal(json_object_array_length(blocks), 20);
        for (unsigned i = 0; i < 20; i++) {
                struct json_object *b = json_object_array_get_idx(blocks, i);
                assert_string_equal(json_object_get_string(path(b, "kind")), i < 8 ? "gfx" : "mm");
                assert_int_equal(json_object_get_int(path(b, "index")), i < 8 ? i : i - 8);
                assert_int_equal(json_object_get_boolean(path(b, "running")), i == 3);
                if (i == 8)
                        assert_string_equal(json_object_get_string(path(b, "mode")), "liquid");
                else
                        assert_null(path(b, "mode"));
        }
        assert_false(json_object_get_boolean(path(path(st, "scheduler"), "running")));
        json_object_put(st);
        fx_free(f);
}

static void invalid_commands(enum gpuiov_layout l) {
        struct fx *f = fx_new(l, 8, l == GPUIOV_TONGA ? 8192 : 196608, 0);
        sim_card_set_numvfs(f->card, 4);
        /* A VF that is not enabled, a VF beyond TotalVFs, a malformed function id. */
        assert_int_equal(command(f, GPUIOV_CMD_INIT_GPU, GPUIOV_FUNC_VF(4), 0), GPUIOV_STATUS_INVALID);
        assert_false(vf_bool(f, 4, "initialized"));
        assert_int_equal(command(f, GPUIOV_CMD_RUN_GPU, GPUIOV_FUNC_VF(20), 0), GPUIOV_STATUS_INVALID);
        assert_int_equal(command(f, GPUIOV_CMD_RUN_GPU, 0x02, 0), GPUIOV_STATUS_INVALID);
        assert_int_equal(command(f, GPUIOV_CMD_CONTEXT_SWITCH, GPUIOV_FUNC_VF(0), GPUIOV_FUNC_VF(7)),
                         GPUIOV_STATUS_INVALID);
        /* Unknown command codes. */
        assert_int_equal(command(f, 0xe, GPUIOV_FUNC_PF, 0), GPUIOV_STATUS_INVALID);
        assert_int_equal(command(f, 0, GPUIOV_FUNC_PF, 0), GPUIOV_STATUS_INVALID);
        wr32(f, main_cmd(f), 0x40 | GPUIOV_CMD_EXECUTE | GPUIOV_CMD_RUN_GPU);
        assert_int_equal(rd8(f, main_cmd(f)) & GPUIOV_CMD_EXECUTE, 0);
        assert_int_equal(rd8(f, main_status(f)), GPUIOV_STATUS_INVALID);
        /* And a valid one afterwards is fine; CMD_STATUS cannot be written by software. */
        assert_int_equal(command(f, GPUIOV_CMD_RUN_GPU, GPUIOV_FUNC_VF(3), 0), GPUIOV_STATUS_OK);
        wr8(f, main_status(f), 0x55);
        assert_int_equal(rd8(f, main_status(f)), GPUIOV_STATUS_OK);
        /* A write without EXECUTE starts nothing. */
        wr32(f, main_cmd(f), GPUIOV_CMD_INIT_GPU | GPUIOV_FUNC_VF(1) << 8);
        assert_false(vf_bool(f, 1, "initialized"));
        fx_free(f);
}
static void tonga_invalid(void **state) { invalid_commands(GPUIOV_TONGA); }
static void mi300_invalid(void **state) { invalid_commands(GPUIOV_MI300); }

static void faults(enum gpuiov_layout l) {
        struct fx *f = fx_new(l, 8, l == GPUIOV_TONGA ? 8192 : 196608, 0);
        sim_card_set_numvfs(f->card, 4);
        sim_card_fault(f->card, SIM_CARD_FAULT_HANG, 1);
        assert_int_equal(command(f, GPUIOV_CMD_INIT_GPU, GPUIOV_FUNC_VF(1), 0), GPUIOV_STATUS_GFX_HANG);
        assert_false(vf_bool(f, 1, "initialized"));
        /* Only one command was armed. */
        assert_int_equal(command(f, GPUIOV_CMD_INIT_GPU, GPUIOV_FUNC_VF(1), 0), GPUIOV_STATUS_OK);
        assert_true(vf_bool(f, 1, "initialized"));

        sim_card_fault(f->card, SIM_CARD_FAULT_STUCK, 1);
        assert_int_equal(command(f, GPUIOV_CMD_INIT_GPU, GPUIOV_FUNC_VF(2), 0), -1);
        f->now += 60ull * 1000 * 1000 * 1000; /* a minute later: still executing */
        assert_true(rd8(f, main_cmd(f)) & GPUIOV_CMD_EXECUTE);
        assert_false(vf_bool(f, 2, "initialized"));
        /* The window ignores writes while its command is in flight. */
        wr32(f, main_cmd(f), gpuiov_cmd_word(GPUIOV_CMD_RUN_GPU, GPUIOV_FUNC_VF(3), 0));
        assert_int_equal(rd32(f, main_cmd(f)), gpuiov_cmd_word(GPUIOV_CMD_INIT_GPU, GPUIOV_FUNC_VF(2), 0));
        /* Disarming releases it as a hang, without effect. */
        sim_card_fault(f->card, SIM_CARD_FAULT_STUCK, 0);
        assert_int_equal(rd8(f, main_cmd(f)) & GPUIOV_CMD_EXECUTE, 0);
        assert_int_equal(rd8(f, main_status(f)), GPUIOV_STATUS_GFX_HANG);
        assert_false(vf_bool(f, 2, "initialized"));
        assert_int_equal(command(f, GPUIOV_CMD_INIT_GPU, GPUIOV_FUNC_VF(2), 0), GPUIOV_STATUS_OK);
        fx_free(f);
}
static void tonga_faults(void **state) { faults(GPUIOV_TONGA); }
static void mi300_faults(void **state) { faults(GPUIOV_MI300); }

static void latency(enum gpuiov_layout l) {
        const uint64_t ms = 1000 * 1000;
        struct fx *f = fx_new(l, 8, l == GPUIOV_TONGA ? 8192 : 196608, 2 * ms);
        sim_card_set_numvfs(f->card, 4);
        wr32(f, main_cmd(f), gpuiov_cmd_word(GPUIOV_CMD_INIT_GPU, GPUIOV_FUNC_VF(0), 0));
        assert_true(rd8(f, main_cmd(f)) & GPUIOV_CMD_EXECUTE);
        f->now += 2 * ms - 1;
        assert_true(rd8(f, main_cmd(f)) & GPUIOV_CMD_EXECUTE);
        assert_false(vf_bool(f, 0, "initialized"));
        f->now += 1;
        assert_false(rd8(f, main_cmd(f)) & GPUIOV_CMD_EXECUTE);
        assert_int_equal(rd8(f, main_status(f)), GPUIOV_STATUS_OK);
        assert_true(vf_bool(f, 0, "initialized"));
        /* A late write still sees the earlier command completed first; latency can change. */
        sim_card_set_cmd_latency(f->card, 0);
        assert_int_equal(command(f, GPUIOV_CMD_INIT_GPU, GPUIOV_FUNC_VF(1), 0), GPUIOV_STATUS_OK);
        sim_card_set_cmd_latency(f->card, 5 * ms);
        wr32(f, main_cmd(f), gpuiov_cmd_word(GPUIOV_CMD_INIT_GPU, GPUIOV_FUNC_VF(3), 0));
        f->now += 5 * ms;
        /* Completed by the write path too, not only by a read's tick. */
        wr32(f, gpuiov_regs(l)->vf_fb0 + 12, 0);
        assert_false(f->config[CAP + main_cmd(f)] & GPUIOV_CMD_EXECUTE);
        assert_true(vf_bool(f, 3, "initialized"));
        fx_free(f);
}
static void tonga_latency(void **state) { latency(GPUIOV_TONGA); }
static void mi300_latency(void **state) { latency(GPUIOV_MI300); }

/* --- the hardware scheduler --- */

/* Program block b: quanta options, per-VF indices, active bitmap; mode; start it. */
static void sched_setup(struct fx *f, unsigned b, uint32_t options, uint32_t per_vf, uint32_t active,
                        enum gpuiov_sched_mode mode) {
        unsigned blk = block_off(f, b), cmd = blk + SCH_CMD_CONTROL, status = blk + SCH_CMD_STATUS;
        wr32(f, blk + SCH_TIME_QUANTA_OPTION, options);
        wr32(f, blk + SCH_TIME_QUANTA_PER_VF, per_vf);
        wr32(f, blk + SCH_ACTIVE_FUNCTIONS, active);
        if (f->layout == GPUIOV_TONGA) /* no mode command: the block runs solid */
                assert_int_equal(mode, GPUIOV_SCHED_SOLID);
        else
                assert_int_equal(command_at(f, cmd, status, GPUIOV_CMD_CONFIG_AUTO_HW_SCHED_MODE, GPUIOV_FUNC_PF, mode), 0);
        assert_int_equal(command_at(f, cmd, status, GPUIOV_CMD_ENABLE_AUTO_HW_SWITCH, GPUIOV_FUNC_PF, 0), 0);
}

#define SHARE_EPS 0.01
static void shares(enum gpuiov_layout l) {
        struct fx *f = fx_new(l, 8, l == GPUIOV_TONGA ? 8192 : 196608, 0);
        unsigned blocks = l == GPUIOV_TONGA ? 1 : MI300_GFX_BLOCKS;
        sim_card_set_numvfs(f->card, 3);
        /* Options 6 and 12 ms; VF0, VF1 -> 6 ms, VF2 -> 12 ms. */
        uint32_t options = 6 | 12 << 8, per_vf = 1 << 4;
        for (unsigned b = 0; b < blocks; b++)
                sched_setup(f, b, options, per_vf, 0x7, GPUIOV_SCHED_SOLID);
        struct json_object *st = status_get(f);
        assert_int_equal(json_object_get_int(path(vf_json(st, 2), "time_quantum_ms")), 12);
        assert_int_equal(json_object_get_int(path(vf_json(st, 0), "time_quantum_ms")), 6);
        assert_string_equal(json_object_get_string(path(path(st, "scheduler"), "active_functions")), "0x00000007");
        struct json_object *q = path(path(st, "scheduler"), "quanta_options_ms");
        assert_int_equal(json_object_get_int(json_object_array_get_idx(q, 1)), 12);
        json_object_put(st);

        /* Solid, all busy: s_i / sum(s). */
        assert_float_equal(vf_share(f, 0), 0.25, SHARE_EPS);
        assert_float_equal(vf_share(f, 1), 0.25, SHARE_EPS);
        assert_float_equal(vf_share(f, 2), 0.50, SHARE_EPS);
        /* Solid, VF1 idle: its slot stays, the GPU idles through it. */
        assert_int_equal(sim_card_set_load(f->card, 1, false), 0);
        assert_float_equal(vf_share(f, 0), 0.25, SHARE_EPS);
        assert_float_equal(vf_share(f, 1), 0.0, SHARE_EPS);
        assert_float_equal(vf_share(f, 2), 0.50, SHARE_EPS);
        /* Liquid (not on Tonga), VF1 idle: skipped, the others split the GPU 6:12. */
        for (unsigned b = 0; l != GPUIOV_TONGA && b < blocks; b++)
                sched_setup(f, b, options, per_vf, 0x7, GPUIOV_SCHED_LIQUID);
        if (l != GPUIOV_TONGA) {
                assert_float_equal(vf_share(f, 0), 1.0 / 3, SHARE_EPS);
                assert_float_equal(vf_share(f, 1), 0.0, SHARE_EPS);
                assert_float_equal(vf_share(f, 2), 2.0 / 3, SHARE_EPS);
        }
        /* A VF whose quantum is 0 ms (option 2 is 0) gets nothing. */
        assert_int_equal(sim_card_set_load(f->card, 1, true), 0);
        for (unsigned b = 0; b < blocks; b++)
                sched_setup(f, b, options, per_vf | 2 << 2, 0x7 | SCH_ACTIVE_PF_BIT, GPUIOV_SCHED_SOLID);
        assert_float_equal(vf_share(f, 1), 0.0, SHARE_EPS);
        /* The PF (no work, index 0 = 6 ms) keeps its solid slot: 6 + 6 + 12. */
        assert_float_equal(vf_share(f, 0), 0.25, SHARE_EPS);
        assert_float_equal(vf_share(f, 2), 0.50, SHARE_EPS);
        /* ... even when it is the only active one. */
        for (unsigned b = 0; b < blocks; b++)
                sched_setup(f, b, options, per_vf | 2 << 2, 0x2, GPUIOV_SCHED_SOLID);
        assert_float_equal(vf_share(f, 1), 0.0, SHARE_EPS);
        /* A single active function runs alone. */
        for (unsigned b = 0; b < blocks; b++)
                sched_setup(f, b, options, per_vf, 0x4, GPUIOV_SCHED_SOLID);
        assert_float_equal(vf_share(f, 2), 1.0, SHARE_EPS);
        assert_float_equal(vf_share(f, 0), 0.0, SHARE_EPS);
        /* Active bits of VFs that are not enabled do not count. */
        for (unsigned b = 0; b < blocks; b++)
                sched_setup(f, b, options, per_vf, 0xf4, GPUIOV_SCHED_SOLID);
        assert_float_equal(vf_share(f, 2), 1.0, SHARE_EPS);

        /* Not running: no shares (Tonga has no command that stops its block). */
        if (l == GPUIOV_TONGA) {
                fx_free(f);
                return;
        }
        for (unsigned b = 0; b < blocks; b++) {
                unsigned blk = block_off(f, b);
                assert_int_equal(command_at(f, blk + SCH_CMD_CONTROL, blk + SCH_CMD_STATUS,
                                            GPUIOV_CMD_DISABLE_AUTO_HW_SCHED, GPUIOV_FUNC_PF, 0), 0);
        }
        assert_float_equal(vf_share(f, 2), 0.0, SHARE_EPS);
        fx_free(f);
}
static void tonga_shares(void **state) { shares(GPUIOV_TONGA); }
static void mi300_shares(void **state) { shares(GPUIOV_MI300); }

static void mi300_share_is_mean_over_gfx_blocks(void **state) {
        struct fx *f = fx_new(GPUIOV_MI300, 8, 196608, 0);
        sim_card_set_numvfs(f->card, 2);
        /* Only graphics block 0 runs, VF0 10 ms and VF1 30 ms: VF1 gets 3/4 there, 0 elsewhere. */
        sched_setup(f, 0, 10 | 30 << 8, 1 << 2, 0x3, GPUIOV_SCHED_SOLID);
        assert_float_equal(vf_share(f, 1), 0.75 / 8, 0.001);
        /* Multimedia blocks do not count. */
        sched_setup(f, MI300_GFX_BLOCKS, 10 | 30 << 8, 1 << 2, 0x3, GPUIOV_SCHED_SOLID);
        assert_float_equal(vf_share(f, 1), 0.75 / 8, 0.001);
        fx_free(f);
}

/* MI300X runs only the software policies (hardware.md 5): the hardware ones are INVALID and change nothing.
 * The simulator models round_robin like solid and fairness like liquid (docs/gpuiov.md). */
static void mi300x_policies(void **state) {
        struct fx *f = fx_new_modes(GPUIOV_MI300, 8, 196608, 0, GPUIOV_SCHED_BIT(GPUIOV_SCHED_FAIRNESS) |
                                    GPUIOV_SCHED_BIT(GPUIOV_SCHED_ROUND_ROBIN));
        sim_card_set_numvfs(f->card, 3);
        unsigned cmd = main_cmd(f), status = main_status(f);
        const struct { uint8_t mode, status; const char *now; } steps[] = {
                { GPUIOV_SCHED_SOLID, GPUIOV_STATUS_INVALID, NULL },
                { GPUIOV_SCHED_HYBRID, GPUIOV_STATUS_INVALID, NULL },
                { GPUIOV_SCHED_FAIRNESS, GPUIOV_STATUS_OK, "fairness" },
                { GPUIOV_SCHED_LIQUID, GPUIOV_STATUS_INVALID, "fairness" },
                { GPUIOV_SCHED_ROUND_ROBIN, GPUIOV_STATUS_OK, "round_robin" },
        };
        for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
                assert_int_equal(command_at(f, cmd, status, GPUIOV_CMD_CONFIG_AUTO_HW_SCHED_MODE, GPUIOV_FUNC_PF,
                                            steps[i].mode), steps[i].status);
                struct json_object *st = status_get(f), *mode = path(path(st, "scheduler"), "mode");
                if (steps[i].now)
                        assert_string_equal(json_object_get_string(mode), steps[i].now);
                else
                        assert_null(mode);
                json_object_put(st);
        }
        uint32_t options = 6 | 12 << 8, per_vf = 1 << 4;
        assert_int_equal(sim_card_set_load(f->card, 1, false), 0);
        for (unsigned b = 0; b < MI300_GFX_BLOCKS; b++)
                sched_setup(f, b, options, per_vf, 0x7, GPUIOV_SCHED_ROUND_ROBIN);
        assert_float_equal(vf_share(f, 0), 0.25, SHARE_EPS); /* VF1's slot kept */
        assert_float_equal(vf_share(f, 2), 0.50, SHARE_EPS);
        for (unsigned b = 0; b < MI300_GFX_BLOCKS; b++)
                sched_setup(f, b, options, per_vf, 0x7, GPUIOV_SCHED_FAIRNESS);
        assert_float_equal(vf_share(f, 0), 1.0 / 3, SHARE_EPS); /* VF1's slot given to the busy ones */
        assert_float_equal(vf_share(f, 2), 2.0 / 3, SHARE_EPS);
        fx_free(f);
}

static void bad_specs(void **state) {
        uint8_t config[4096] = { 0 };
        struct sim_card_spec spec = { .layout = GPUIOV_NONE, .cap_offset = 0x200, .fb_mib = 8192, .total_vfs = 16 };
        assert_null(sim_card_new(&spec, config));
        spec.layout = GPUIOV_TONGA;
        spec.total_vfs = 17;
        assert_null(sim_card_new(&spec, config));
        spec.total_vfs = 16;
        spec.cap_offset = 0xff0; /* does not fit */
        assert_null(sim_card_new(&spec, config));
        spec.cap_offset = 0x200;
        spec.fb_mib = 70000; /* does not fit 16 bits of MiB */
        assert_null(sim_card_new(&spec, config));
        struct sim_card *c = sim_card_new(&(struct sim_card_spec){ .layout = GPUIOV_MI300, .cap_offset = 0x200,
                                                                  .fb_mib = 196608, .total_vfs = 8 }, config);
        assert_non_null(c);
        assert_int_equal(sim_card_set_load(c, 8, true), -EINVAL);
        sim_card_free(c);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(tonga_capability),
                cmocka_unit_test(mi300_capability),
                cmocka_unit_test(tonga_read_only),
                cmocka_unit_test(mi300_read_only),
                cmocka_unit_test(tonga_fb),
                cmocka_unit_test(mi300_fb),
                cmocka_unit_test(tonga_commands),
                cmocka_unit_test(mi300_commands),
                cmocka_unit_test(mi300_blocks_are_independent),
                cmocka_unit_test(tonga_invalid),
                cmocka_unit_test(mi300_invalid),
                cmocka_unit_test(tonga_faults),
                cmocka_unit_test(mi300_faults),
                cmocka_unit_test(tonga_latency),
                cmocka_unit_test(mi300_latency),
                cmocka_unit_test(tonga_shares),
                cmocka_unit_test(mi300_shares),
                cmocka_unit_test(mi300_share_is_mean_over_gfx_blocks),
                cmocka_unit_test(mi300x_policies),
                cmocka_unit_test(bad_specs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
