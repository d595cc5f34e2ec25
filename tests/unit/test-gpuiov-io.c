// SPDX-License-Identifier: MIT
// Unit tests for gpuiov_io against the simulated card, both layouts: partition, scheduler blocks, commands, faults.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mxgpu/cards.h"
#include "mxgpu/gpuiov_io.h"
#include "mxgpu/macro.h"
#include "regio-sim.h"

struct fx {
        struct regio io;
        struct regio_sim *sim;
        struct gpuiov_dev dev;
};

static struct fx *fx_open(enum gpuiov_layout layout, uint32_t fb_mib, unsigned total_vfs, uint64_t latency_ns) {
        struct fx *f = calloc(1, sizeof(*f));
        assert_non_null(f);
        f->io = regio_sim_new(layout, fb_mib, total_vfs, latency_ns, &f->sim);
        uint16_t cap = 0;
        assert_int_equal(gpuiov_find_cap(&f->io, &cap), 0);
        assert_int_equal(cap, REGIO_SIM_CAP);
        assert_int_equal(gpuiov_open(&f->io, cap, layout, &f->dev), 0);
        return f;
}

static void fx_close(struct fx *f) {
        regio_close(&f->io);
        free(f);
}

/* A value from the card's own decoded view (sim_card_status), by a path of object keys and array indexes. */
static struct json_object *card_status(struct fx *f) {
        return sim_card_status(f->sim->card, f->sim->config);
}

static int64_t status_int(struct json_object *st, const char *key, int vf, const char *sub, const char *subsub) {
        struct json_object *o = st, *v;
        if (vf >= 0) {
                assert_true(json_object_object_get_ex(o, "vfs", &v));
                o = json_object_array_get_idx(v, (size_t)vf);
        }
        assert_true(json_object_object_get_ex(o, key, &o));
        if (sub)
                assert_true(json_object_object_get_ex(o, sub, &o));
        if (subsub)
                assert_true(json_object_object_get_ex(o, subsub, &o));
        return json_object_get_int64(o);
}

static void open_tonga(void **state) {
        struct fx *f = fx_open(GPUIOV_TONGA, 8192, 16, 0);
        assert_int_equal(f->dev.fb_available_mib, 8192);
        assert_int_equal(f->dev.n_sched, 1);
        assert_int_equal(f->dev.n_gfx_sched, 1);
        assert_int_equal(f->dev.sched[0], TONGA_SCH_BLOCK);
        /* the SR-IOV capability is not a GPU-IOV one; GPUIOV_NONE has no registers */
        struct gpuiov_dev d;
        assert_int_equal(gpuiov_open(&f->io, REGIO_SIM_SRIOV_CAP, GPUIOV_TONGA, &d), -EBADMSG);
        assert_int_equal(gpuiov_open(&f->io, REGIO_SIM_CAP, GPUIOV_NONE, &d), -EINVAL);
        assert_int_equal(gpuiov_open(&f->io, 0x40, GPUIOV_TONGA, &d), -EINVAL);
        f->sim->fail_errno = -ENODEV; /* the window's errno comes back unchanged */
        assert_int_equal(gpuiov_open(&f->io, REGIO_SIM_CAP, GPUIOV_TONGA, &d), -ENODEV);
        f->sim->fail_errno = 0;
        fx_close(f);
}

static void open_mi300(void **state) {
        struct fx *f = fx_open(GPUIOV_MI300, 196608, 8, 0);
        assert_int_equal(f->dev.fb_available_mib, 196608); /* 16 MiB units on this layout */
        assert_int_equal(f->dev.n_sched, MI300_GFX_BLOCKS + MI300_MM_BLOCKS);
        assert_int_equal(f->dev.n_gfx_sched, MI300_GFX_BLOCKS);
        for (unsigned i = 0; i < f->dev.n_sched; i++)
                assert_int_equal(f->dev.sched[i], MI300_SCH_FIRST_BLOCK + i * SCH_BLOCK_STRIDE);
        fx_close(f);
}

/* hardware.md 4's real S7150 example: 16 VFs x 480 MiB from 272 MiB. */
static void tonga_default_partition(void **state) {
        struct fx *f = fx_open(GPUIOV_TONGA, 8192, 16, 0);
        struct gpuiov_fb ctx = { 256, 8 }, vfs[16];
        for (unsigned n = 0; n < 16; n++)
                vfs[n] = (struct gpuiov_fb){ 272 + 480 * n, 480 };
        assert_int_equal(gpuiov_write_partition(&f->dev, 256, &ctx, vfs, 16), 0);

        uint32_t raw;
        assert_int_equal(regio_read32(&f->io, REGIO_SIM_CAP + TONGA_VF_FB(0), &raw), 0);
        assert_int_equal(raw, (480 / 16 - 1) | (272 / 16) << 16);
        uint16_t consumed;
        assert_int_equal(regio_read16(&f->io, REGIO_SIM_CAP + TONGA_TOTAL_FB_CONSUMED, &consumed), 0);
        assert_int_equal(consumed, 8192 - 256);

        struct gpuiov_partition p;
        assert_int_equal(gpuiov_read_partition(&f->dev, 16, &p), 0);
        assert_int_equal(p.fb_available_mib, 8192);
        assert_int_equal(p.pf_reserve_mib, 256);
        assert_int_equal(p.context.offset_mib, 256);
        assert_int_equal(p.context.size_mib, 8);
        assert_int_equal(p.vf[0].offset_mib, 272);
        assert_int_equal(p.vf[15].offset_mib, 272 + 15 * 480);
        assert_int_equal(p.vf[15].size_mib, 480);

        /* and as the card itself decodes it */
        sim_card_set_numvfs(f->sim->card, 16);
        struct json_object *st = card_status(f);
        assert_int_equal(status_int(st, "pf_reserve_mib", -1, NULL, NULL), 256);
        assert_int_equal(status_int(st, "fb", 15, "offset_mib", NULL), 272 + 15 * 480);
        assert_int_equal(status_int(st, "fb", 15, "size_mib", NULL), 480);
        json_object_put(st);
        fx_close(f);
}

static void mi300_partition(void **state) {
        struct fx *f = fx_open(GPUIOV_MI300, 196608, 8, 0);
        uint32_t each = ALIGN_DOWN((196608 - 272) / 8, 16);
        struct gpuiov_fb ctx = { 256, 8 }, vfs[8];
        for (unsigned n = 0; n < 8; n++)
                vfs[n] = (struct gpuiov_fb){ 272 + each * n, each };
        assert_int_equal(gpuiov_write_partition(&f->dev, 256, &ctx, vfs, 8), 0);
        uint32_t raw;
        assert_int_equal(regio_read32(&f->io, REGIO_SIM_CAP + MI300_VF_FB(7), &raw), 0);
        assert_int_equal(raw, (each / 16) | ((272 + 7 * each) / 16) << 16); /* no minus one */
        uint16_t consumed;
        assert_int_equal(regio_read16(&f->io, REGIO_SIM_CAP + MI300_TOTAL_FB_CONSUMED, &consumed), 0);
        assert_int_equal(consumed, (196608 - 256) / 16);

        struct gpuiov_partition p;
        assert_int_equal(gpuiov_read_partition(&f->dev, 8, &p), 0);
        assert_int_equal(p.pf_reserve_mib, 256);
        assert_int_equal(p.fb_consumed_mib, 196608 - 256);
        assert_int_equal(p.vf[7].offset_mib, 272 + 7 * each);
        assert_int_equal(p.vf[7].size_mib, each);
        fx_close(f);
}

static void partition_rejected(void **state) {
        struct fx *f = fx_open(GPUIOV_TONGA, 8192, 16, 0);
        struct gpuiov_fb ctx = { 256, 8 }, vfs[17];
        for (unsigned n = 0; n < 17; n++)
                vfs[n] = (struct gpuiov_fb){ 272 + 256 * n, 256 };
        assert_int_equal(gpuiov_write_partition(&f->dev, 256, &ctx, vfs, 17), -ERANGE);
        vfs[1].size_mib = 250; /* not 16 MiB aligned */
        assert_int_equal(gpuiov_write_partition(&f->dev, 256, &ctx, vfs, 2), -EINVAL);
        vfs[1] = (struct gpuiov_fb){ 8192 - 128, 256 }; /* past the end */
        assert_int_equal(gpuiov_write_partition(&f->dev, 256, &ctx, vfs, 2), -EINVAL);
        assert_int_equal(gpuiov_write_partition(&f->dev, 9000, &ctx, vfs, 1), -EINVAL);
        struct gpuiov_fb big_ctx = { 256, 64 }; /* CNTXT size holds < 32 MiB */
        assert_int_equal(gpuiov_write_partition(&f->dev, 256, &big_ctx, vfs, 1), -EINVAL);
        assert_int_equal(f->sim->writes, 0); /* nothing was written */

        /* a register that does not keep its value is found by the read-back, and named: not a card status */
        vfs[1] = (struct gpuiov_fb){ 528, 256 };
        f->sim->drop_write_off = REGIO_SIM_CAP + TONGA_VF_FB(1);
        assert_int_equal(gpuiov_write_partition(&f->dev, 256, &ctx, vfs, 2), -EREMOTEIO);
        char why[256];
        assert_string_equal(gpuiov_strerror(&f->dev, -EREMOTEIO, why, sizeof(why)),
                            "VF1's framebuffer entry (capability +0x30) did not keep the value written: wrote 0x21000f, "
                            "read back 0x0");
        f->sim->drop_write_off = REGIO_SIM_CAP + TONGA_TOTAL_FB_CONSUMED;
        assert_int_equal(gpuiov_write_partition(&f->dev, 512, &ctx, vfs, 2), -EREMOTEIO); /* a new value */
        assert_non_null(strstr(gpuiov_strerror(&f->dev, -EREMOTEIO, why, sizeof(why)), "TOTAL_FB_CONSUMED (capability +0x26)"));
        fx_close(f);
}

/* A config-space write the kernel fails is that errno with the register named, never a command status. */
static void config_write_error(void **state) {
        struct fx *f = fx_open(GPUIOV_MI300, 196608, 8, 0);
        struct gpuiov_fb ctx = { 256, 8 }, vf = { 272, 256 };
        f->sim->fail_errno = -EIO;
        assert_int_equal(gpuiov_write_partition(&f->dev, 256, &ctx, &vf, 1), -EIO);
        assert_false(f->dev.fail.cmd_status);
        char why[256];
        assert_string_equal(gpuiov_strerror(&f->dev, -EIO, why, sizeof(why)),
                            "cannot write TOTAL_FB_CONSUMED (capability +0x2a): Input/output error");
        /* the same on a command's window: the command is named, the status is not */
        assert_int_equal(gpuiov_command(&f->dev, 2, GPUIOV_CMD_IDLE_GPU, GPUIOV_FUNC_PF, 0, 0), -EIO);
        assert_false(f->dev.fail.cmd_status);
        assert_string_equal(gpuiov_strerror(&f->dev, -EIO, why, sizeof(why)),
                            "cannot read CMD_CONTROL of scheduler block 2 (graphics) (capability +0xe4) for command "
                            "IDLE_GPU: Input/output error");
        assert_string_equal(gpuiov_strerror(NULL, -EIO, why, sizeof(why)), "Input/output error");
        fx_close(f);
}

static void mi300_partition_units(void **state) {
        struct fx *f = fx_open(GPUIOV_MI300, 28672, 12, 0);
        struct gpuiov_fb ctx = { 264, 8 };
        /* the consumed amount must be a whole number of 16 MiB units */
        assert_int_equal(gpuiov_write_partition(&f->dev, 264, &ctx, NULL, 0), -EINVAL);
        assert_int_equal(gpuiov_write_partition(&f->dev, 256, &ctx, NULL, 0), 0);
        fx_close(f);
}

static void sched_every_block(enum gpuiov_layout layout, uint32_t fb, unsigned vfs, enum gpuiov_sched_mode mode) {
        struct fx *f = fx_open(layout, fb, vfs, 0);
        sim_card_set_numvfs(f->sim->card, vfs);
        struct gpuiov_sched_cfg cfg = {
                .mode = mode, .quanta_ms = { 6, 10, 20, 255 }, .n_vfs = vfs,
                .pf_index = 1, .active = SCH_ACTIVE_PF_BIT | ((1u << vfs) - 1),
        };
        for (unsigned n = 0; n < vfs; n++)
                cfg.vf_index[n] = n % 4;
        assert_int_equal(gpuiov_write_sched(&f->dev, &cfg), 0);

        struct gpuiov_sched s;
        assert_int_equal(gpuiov_read_sched(&f->dev, &s), 0);
        assert_int_equal(s.n_blocks, f->dev.n_sched);
        for (unsigned i = 0; i < s.n_blocks; i++) {
                assert_memory_equal(s.block[i].quanta_ms, cfg.quanta_ms, 4);
                for (unsigned n = 0; n < vfs; n++)
                        assert_int_equal(s.block[i].vf_index[n], n % 4);
                assert_int_equal(s.block[i].pf_index, 1);
                assert_int_equal(s.block[i].active, cfg.active);
        }
        /* the card ran both commands on every block */
        struct json_object *st = card_status(f), *blocks, *b, *v;
        assert_true(json_object_object_get_ex(st, "schedulers", &blocks));
        assert_int_equal(json_object_array_length(blocks), f->dev.n_sched);
        for (unsigned i = 0; i < f->dev.n_sched; i++) {
                b = json_object_array_get_idx(blocks, i);
                assert_true(json_object_object_get_ex(b, "mode", &v));
                assert_string_equal(json_object_get_string(v), gpuiov_sched_mode_name(mode));
                assert_true(json_object_object_get_ex(b, "running", &v));
                assert_true(json_object_get_boolean(v));
        }
        assert_int_equal(status_int(st, "time_quantum_ms", 3, NULL, NULL), 255);
        json_object_put(st);

        cfg.mode = GPUIOV_SCHED_HYBRID; /* no card runs it */
        assert_int_equal(gpuiov_write_sched(&f->dev, &cfg), -EINVAL);
        cfg.mode = GPUIOV_SCHED_SOLID;
        cfg.vf_index[0] = 4;
        assert_int_equal(gpuiov_write_sched(&f->dev, &cfg), -EINVAL);
        cfg.vf_index[0] = 0;
        cfg.active = 1u << vfs; /* a VF that does not exist */
        assert_int_equal(gpuiov_write_sched(&f->dev, &cfg), -EINVAL);
        fx_close(f);
}

static void sched_tonga(void **state) { sched_every_block(GPUIOV_TONGA, 8192, 16, GPUIOV_SCHED_SOLID); }
static void sched_mi300(void **state) { sched_every_block(GPUIOV_MI300, 196608, 8, GPUIOV_SCHED_LIQUID); }
static void sched_mi300_sw(void **state) { sched_every_block(GPUIOV_MI300, 196608, 8, GPUIOV_SCHED_ROUND_ROBIN); }

/* The Tonga layout's commands are the base set: GIM8's are never sent there (the card would answer INVALID). */
static void tonga_command_set(void **state) {
        struct fx *f = fx_open(GPUIOV_TONGA, 8192, 16, 0);
        sim_card_set_numvfs(f->sim->card, 4);
        unsigned writes = f->sim->writes;
        const enum gpuiov_cmd gim8[] = { GPUIOV_CMD_CLEAR_VF_STATE, GPUIOV_CMD_DISABLE_AUTO_HW_SCHED,
                                         GPUIOV_CMD_DISABLE_AUTO_HW_SCHED_AND_SWITCH, GPUIOV_CMD_SHUTDOWN_GPU,
                                         GPUIOV_CMD_CONFIG_AUTO_HW_SCHED_MODE };
        for (size_t i = 0; i < ARRAY_SIZE(gim8); i++) {
                assert_false(gpuiov_cmd_supported(GPUIOV_TONGA, gim8[i]));
                assert_true(gpuiov_cmd_supported(GPUIOV_MI300, gim8[i]));
                assert_int_equal(gpuiov_command(&f->dev, GPUIOV_WINDOW_MAIN, gim8[i], GPUIOV_FUNC_PF, 0, 0), -EOPNOTSUPP);
        }
        assert_int_equal(gpuiov_clear_vf(&f->dev, 1), -EOPNOTSUPP);
        char why[256];
        assert_string_equal(gpuiov_strerror(&f->dev, -EOPNOTSUPP, why, sizeof(why)),
                            "command CLEAR_VF_STATE is not in the Tonga layout's command set (it is GIM8's)");
        /* only solid, without the mode command: the block runs solid when it gets none */
        struct gpuiov_sched_cfg cfg = { .mode = GPUIOV_SCHED_LIQUID, .quanta_ms = { 6, 6, 6, 6 } };
        assert_int_equal(gpuiov_write_sched(&f->dev, &cfg), -EOPNOTSUPP);
        assert_int_equal(f->sim->writes, writes); /* nothing was written */
        cfg.mode = GPUIOV_SCHED_SOLID;
        assert_int_equal(gpuiov_write_sched(&f->dev, &cfg), 0);
        struct json_object *st = card_status(f), *sch, *v;
        assert_true(json_object_object_get_ex(st, "scheduler", &sch));
        assert_true(json_object_object_get_ex(sch, "running", &v));
        assert_true(json_object_get_boolean(v));
        assert_true(json_object_object_get_ex(sch, "mode", &v));
        assert_string_equal(json_object_get_string(v), "solid");
        json_object_put(st);
        fx_close(f);
}

static void command_with_latency(void **state) {
        struct fx *f = fx_open(GPUIOV_TONGA, 8192, 16, 2000000); /* 2 ms per command */
        sim_card_set_numvfs(f->sim->card, 2);
        assert_int_equal(gpuiov_command(&f->dev, GPUIOV_WINDOW_MAIN, GPUIOV_CMD_INIT_GPU, GPUIOV_FUNC_VF(1), 0, 0), 0);
        struct json_object *st = card_status(f), *vfs, *v;
        assert_true(json_object_object_get_ex(st, "vfs", &vfs));
        assert_true(json_object_object_get_ex(json_object_array_get_idx(vfs, 1), "initialized", &v));
        assert_true(json_object_get_boolean(v));
        json_object_put(st);
        /* a command for a VF that is not enabled: CMD_STATUS INVALID */
        assert_int_equal(gpuiov_command(&f->dev, GPUIOV_WINDOW_MAIN, GPUIOV_CMD_RUN_GPU, GPUIOV_FUNC_VF(5), 0, 0), -EIO);
        assert_int_equal(f->dev.last_status, GPUIOV_STATUS_INVALID);
        assert_int_equal(gpuiov_command(&f->dev, 7, GPUIOV_CMD_RUN_GPU, 0, 0, 0), -EINVAL); /* no block 7 */
        fx_close(f);
}

static void command_stuck(enum gpuiov_layout layout, uint32_t fb, unsigned timeout_ms) {
        struct fx *f = fx_open(layout, fb, 8, 0);
        const char *window = layout == GPUIOV_TONGA ? "the main command window" : "scheduler block 0 (graphics)";
        char why[256], want[256];
        struct gpuiov_pending p;
        assert_int_equal(gpuiov_read_pending(&f->dev, &p), 0);
        assert_int_equal(p.n, 0);
        sim_card_fault(f->sim->card, SIM_CARD_FAULT_STUCK, 1);
        assert_int_equal(gpuiov_command(&f->dev, GPUIOV_WINDOW_MAIN, GPUIOV_CMD_IDLE_GPU, GPUIOV_FUNC_PF, 0, timeout_ms),
                         -ETIMEDOUT);
        snprintf(want, sizeof(want), "command IDLE_GPU on %s did not complete in %u ms (EXECUTE still set): the card is hung",
                 window, timeout_ms ? timeout_ms : GPUIOV_TIMEOUT_MI300_MS);
        assert_string_equal(gpuiov_strerror(&f->dev, -ETIMEDOUT, why, sizeof(why)), want);
        /* still in flight: a new command on the window is refused, not silently lost, and the reason says why */
        assert_int_equal(gpuiov_command(&f->dev, GPUIOV_WINDOW_MAIN, GPUIOV_CMD_RUN_GPU, GPUIOV_FUNC_PF, 0, 20), -EBUSY);
        snprintf(want, sizeof(want), "command RUN_GPU on %s was not started: the previous command there (IDLE_GPU, "
                 "CMD_CONTROL 0x00000011) never completed: the card is hung", window);
        assert_string_equal(gpuiov_strerror(&f->dev, -EBUSY, why, sizeof(why)), want);
        /* a later look finds it too */
        assert_int_equal(gpuiov_read_pending(&f->dev, &p), 0);
        assert_int_equal(p.n, 1);
        assert_int_equal(p.main, layout == GPUIOV_TONGA);
        assert_int_equal(p.blocks, layout == GPUIOV_TONGA ? 0 : 1);
        assert_int_equal(p.first_window, layout == GPUIOV_TONGA ? GPUIOV_WINDOW_MAIN : 0);
        assert_int_equal(p.first_word, 0x11);
        snprintf(want, sizeof(want), "command IDLE_GPU on %s never completed (CMD_CONTROL 0x00000011, EXECUTE still set): "
                 "the card is hung", window);
        assert_string_equal(gpuiov_pending_reason(&f->dev, &p, why, sizeof(why)), want);
        sim_card_fault(f->sim->card, SIM_CARD_FAULT_STUCK, 0); /* released: ends as a hang */
        assert_int_equal(gpuiov_command(&f->dev, GPUIOV_WINDOW_MAIN, GPUIOV_CMD_RUN_GPU, GPUIOV_FUNC_PF, 0, 0), 0);
        assert_int_equal(gpuiov_read_pending(&f->dev, &p), 0);
        assert_int_equal(p.n, 0);
        fx_close(f);
}

/* A command stuck on a later block (the sequence that left 0x0001001f in a block) is found by the observation. */
static void pending_later_block(void **state) {
        struct fx *f = fx_open(GPUIOV_MI300, 196608, 8, 0);
        sim_card_fault(f->sim->card, SIM_CARD_FAULT_STUCK, 1);
        assert_int_equal(gpuiov_command(&f->dev, 9, GPUIOV_CMD_CONFIG_AUTO_HW_SCHED_MODE, GPUIOV_FUNC_PF, 1, 5), -ETIMEDOUT);
        struct gpuiov_pending p;
        assert_int_equal(gpuiov_read_pending(&f->dev, &p), 0);
        assert_int_equal(p.n, 1);
        assert_int_equal(p.blocks, 1u << 9);
        assert_int_equal(p.first_word, 0x0001001f);
        char why[256];
        assert_string_equal(gpuiov_pending_reason(&f->dev, &p, why, sizeof(why)),
                            "command CONFIG_AUTO_HW_SCHED_MODE on scheduler block 9 (multimedia) never completed "
                            "(CMD_CONTROL 0x0001001f, EXECUTE still set): the card is hung");
        /* gpuiov_read_sched() carries the command dword too */
        struct gpuiov_sched s;
        assert_int_equal(gpuiov_read_sched(&f->dev, &s), 0);
        assert_int_equal(s.block[9].cmd_control, 0x0001001f);
        assert_int_equal(s.block[0].cmd_control & GPUIOV_CMD_EXECUTE, 0);
        fx_close(f);
}

/* gpuiov_read_all(): what the three reads give, from one access to the card; a failed read leaves
 * no snapshot behind for later reads. */
static void read_all_layout(enum gpuiov_layout layout, uint32_t fb, unsigned vfs) {
        struct fx *f = fx_open(layout, fb, vfs, 0);
        struct gpuiov_partition want_part, part;
        struct gpuiov_sched want_sched, sched;
        struct gpuiov_pending want_pending, pending;
        assert_int_equal(gpuiov_read_partition(&f->dev, vfs, &want_part), 0);
        assert_int_equal(gpuiov_read_sched(&f->dev, &want_sched), 0);
        assert_int_equal(gpuiov_read_pending(&f->dev, &want_pending), 0);
        assert_true(want_part.n_vfs == vfs && want_sched.n_blocks > 0);
        unsigned reads = f->sim->reads;
        assert_int_equal(gpuiov_read_all(&f->dev, vfs, &part, &sched, &pending), 0);
        assert_int_equal(f->sim->reads - reads, 1);
        assert_memory_equal(&part, &want_part, sizeof(part));
        assert_memory_equal(&sched, &want_sched, sizeof(sched));
        assert_true(pending.n == want_pending.n && pending.main == want_pending.main &&
                    pending.blocks == want_pending.blocks && pending.first_window == want_pending.first_window &&
                    pending.first_word == want_pending.first_word);
        assert_null(f->dev.snap);

        f->sim->fail_errno = -EIO;
        assert_int_equal(gpuiov_read_all(&f->dev, vfs, &part, &sched, &pending), -EIO);
        assert_true(f->dev.fail.set);
        assert_null(f->dev.snap);
        /* the card answers again: later reads go to it, not to an old snapshot */
        f->sim->fail_errno = 0;
        reads = f->sim->reads;
        assert_int_equal(gpuiov_read_sched(&f->dev, &sched), 0);
        assert_true(f->sim->reads > reads);
        fx_close(f);
}
static void read_all_tonga(void **state) { read_all_layout(GPUIOV_TONGA, 8192, 16); }
static void read_all_mi300(void **state) { read_all_layout(GPUIOV_MI300, 196608, 8); }

static void stuck_tonga(void **state) { command_stuck(GPUIOV_TONGA, 8192, 30); }
/* MI300 with the layout's own 500 ms timeout */
static void stuck_mi300(void **state) { command_stuck(GPUIOV_MI300, 196608, 0); }

static void command_hang(void **state) {
        struct fx *f = fx_open(GPUIOV_TONGA, 8192, 16, 0);
        sim_card_fault(f->sim->card, SIM_CARD_FAULT_HANG, 1);
        assert_int_equal(gpuiov_command(&f->dev, GPUIOV_WINDOW_MAIN, GPUIOV_CMD_IDLE_GPU, GPUIOV_FUNC_PF, 0, 0), -EIO);
        assert_int_equal(f->dev.last_status, GPUIOV_STATUS_GFX_HANG);
        assert_true(f->dev.fail.cmd_status);
        assert_string_equal(gpuiov_status_name(f->dev.last_status), "graphics engine hang");
        char why[256];
        assert_string_equal(gpuiov_strerror(&f->dev, -EIO, why, sizeof(why)),
                            "command IDLE_GPU on the main command window failed: the card reported status 0x0e "
                            "(graphics engine hang)");
        /* a hang during the scheduler set-up fails it with the same status */
        sim_card_fault(f->sim->card, SIM_CARD_FAULT_HANG, 1);
        struct gpuiov_sched_cfg cfg = { .mode = GPUIOV_SCHED_SOLID, .quanta_ms = { 6, 6, 6, 6 } };
        assert_int_equal(gpuiov_write_sched(&f->dev, &cfg), -EIO);
        assert_int_equal(f->dev.last_status, GPUIOV_STATUS_GFX_HANG);
        fx_close(f);
}

static void clear_vf(void **state) {
        struct fx *f = fx_open(GPUIOV_MI300, 196608, 8, 0);
        sim_card_set_numvfs(f->sim->card, 8);
        sim_card_vf_used(f->sim->card, 2);
        struct json_object *st = card_status(f), *vfs, *v;
        assert_true(json_object_object_get_ex(st, "vfs", &vfs));
        assert_true(json_object_object_get_ex(json_object_array_get_idx(vfs, 2), "fb_cleared", &v));
        assert_false(json_object_get_boolean(v));
        json_object_put(st);

        assert_int_equal(gpuiov_clear_vf(&f->dev, 2), 0); /* MI300: on scheduler block 0's window */
        st = card_status(f);
        assert_true(json_object_object_get_ex(st, "vfs", &vfs));
        assert_true(json_object_object_get_ex(json_object_array_get_idx(vfs, 2), "fb_cleared", &v));
        assert_true(json_object_get_boolean(v));
        json_object_put(st);
        assert_int_equal(gpuiov_clear_vf(&f->dev, 16), -EINVAL);
        fx_close(f);
}

/* The tear-down's stop: no block switches to a VF any more, GIM8's layout after DISABLE_AUTO_HW_SCHED on
 * each block's own window, Tonga's by ACTIVE_FUNCTIONS alone (it has no such command). A register that
 * did not keep the 0 is named like any other, with no command attached to it. */
static void stop_every_block(enum gpuiov_layout layout, uint32_t fb, unsigned vfs) {
        struct fx *f = fx_open(layout, fb, vfs, 0);
        sim_card_set_numvfs(f->sim->card, vfs);
        struct gpuiov_sched_cfg cfg = { .mode = GPUIOV_SCHED_SOLID, .quanta_ms = { 6, 6, 6, 6 }, .n_vfs = vfs,
                                        .active = (1u << vfs) - 1 };
        assert_int_equal(gpuiov_write_sched(&f->dev, &cfg), 0);
        bool mi300 = layout == GPUIOV_MI300;
        unsigned writes = f->sim->writes;
        assert_int_equal(gpuiov_stop_sched(&f->dev), 0);
        /* one write per block (ACTIVE_FUNCTIONS), and on MI300 the command before it */
        assert_int_equal(f->sim->writes - writes, f->dev.n_sched * (mi300 ? 2 : 1));
        struct gpuiov_sched s;
        assert_int_equal(gpuiov_read_sched(&f->dev, &s), 0);
        for (unsigned i = 0; i < s.n_blocks; i++)
                assert_int_equal(s.block[i].active, 0);
        if (mi300) {
                struct json_object *st = card_status(f), *blocks, *v;
                assert_true(json_object_object_get_ex(st, "schedulers", &blocks));
                for (unsigned i = 0; i < f->dev.n_sched; i++) {
                        assert_true(json_object_object_get_ex(json_object_array_get_idx(blocks, i), "running", &v));
                        assert_false(json_object_get_boolean(v));
                }
                json_object_put(st);
        }

        /* ACTIVE_FUNCTIONS of the last block does not keep the 0: -EREMOTEIO, that register named */
        assert_int_equal(gpuiov_write_sched(&f->dev, &cfg), 0);
        unsigned last = f->dev.n_sched - 1, off = f->dev.sched[last] + SCH_ACTIVE_FUNCTIONS;
        f->sim->drop_write_off = REGIO_SIM_CAP + (int)off;
        assert_int_equal(gpuiov_stop_sched(&f->dev), -EREMOTEIO);
        assert_int_equal(f->dev.fail.cmd, 0);
        char why[256], want[256];
        snprintf(want, sizeof(want), "ACTIVE_FUNCTIONS of %s (capability +0x%02x) did not keep the value written: "
                 "wrote 0x0, read back 0x%x", mi300 ? "scheduler block 19 (multimedia)" : "scheduler block 0", off,
                 cfg.active);
        assert_string_equal(gpuiov_strerror(&f->dev, -EREMOTEIO, why, sizeof(why)), want);
        f->sim->drop_write_off = -1;

        /* a config write the kernel fails is that errno, with the register named */
        f->sim->fail_errno = -EIO;
        assert_int_equal(gpuiov_stop_sched(&f->dev), -EIO);
        assert_false(f->dev.fail.cmd_status);
        f->sim->fail_errno = 0;
        fx_close(f);
}

static void stop_tonga(void **state) { stop_every_block(GPUIOV_TONGA, 8192, 16); }
static void stop_mi300(void **state) { stop_every_block(GPUIOV_MI300, 196608, 8); }

/* A command that fails during the stop is the command's error; the blocks before it stay stopped. */
static void stop_hang_mi300(void **state) {
        struct fx *f = fx_open(GPUIOV_MI300, 196608, 8, 0);
        sim_card_set_numvfs(f->sim->card, 8);
        struct gpuiov_sched_cfg cfg = { .mode = GPUIOV_SCHED_ROUND_ROBIN, .quanta_ms = { 6, 6, 6, 6 }, .n_vfs = 8, .active = 0xff };
        assert_int_equal(gpuiov_write_sched(&f->dev, &cfg), 0);
        sim_card_fault(f->sim->card, SIM_CARD_FAULT_HANG, 1);
        assert_int_equal(gpuiov_stop_sched(&f->dev), -EIO);
        assert_true(f->dev.fail.cmd_status);
        char why[256];
        assert_string_equal(gpuiov_strerror(&f->dev, -EIO, why, sizeof(why)),
                            "command DISABLE_AUTO_HW_SCHED on scheduler block 0 (graphics) failed: the card reported "
                            "status 0x0e (graphics engine hang)");
        struct gpuiov_sched s;
        assert_int_equal(gpuiov_read_sched(&f->dev, &s), 0);
        assert_int_equal(s.block[0].active, 0xff); /* not stopped: its command failed */
        fx_close(f);
}

/* The framebuffer entries of the VFs that go are cleared, each read back; the others stay. */
static void clear_vf_fb(enum gpuiov_layout layout, uint32_t fb, unsigned total) {
        struct fx *f = fx_open(layout, fb, total, 0);
        struct gpuiov_fb ctx = { 256, 8 }, vfs[4];
        for (unsigned n = 0; n < 4; n++)
                vfs[n] = (struct gpuiov_fb){ 272 + 480 * n, 480 };
        assert_int_equal(gpuiov_write_partition(&f->dev, 256, &ctx, vfs, 4), 0);
        assert_int_equal(gpuiov_clear_vf_fb(&f->dev, 0), 0);
        assert_int_equal(gpuiov_clear_vf_fb(&f->dev, 1u << 1 | 1u << 3), 0);
        struct gpuiov_partition p;
        assert_int_equal(gpuiov_read_partition(&f->dev, 4, &p), 0);
        assert_int_equal(p.vf[0].offset_mib, 272);
        assert_int_equal(p.vf[2].offset_mib, 272 + 960);
        uint32_t raw;
        for (unsigned n = 1; n < 4; n += 2) {
                assert_int_equal(regio_read32(&f->io, REGIO_SIM_CAP + f->dev.regs->vf_fb0 + 4 * n, &raw), 0);
                assert_int_equal(raw, 0);
        }
        /* an entry that does not keep the 0 is named, with what it holds */
        unsigned off = f->dev.regs->vf_fb0 + 8;
        f->sim->drop_write_off = REGIO_SIM_CAP + (int)off;
        assert_int_equal(gpuiov_clear_vf_fb(&f->dev, 1u << 2), -EREMOTEIO);
        char why[256], want[256];
        snprintf(want, sizeof(want), "VF2's framebuffer entry (capability +0x%02x) did not keep the value written: "
                 "wrote 0x0, read back 0x%x", off, gpuiov_fb_encode(layout, 272 + 960, 480));
        assert_string_equal(gpuiov_strerror(&f->dev, -EREMOTEIO, why, sizeof(why)), want);
        f->sim->drop_write_off = -1;
        /* a VF beyond the layout's: nothing written */
        unsigned writes = f->sim->writes;
        assert_int_equal(gpuiov_clear_vf_fb(&f->dev, 1u << f->dev.regs->max_vfs | 1u), -EINVAL);
        assert_int_equal(f->sim->writes, writes);
        fx_close(f);
}

static void clear_vf_fb_tonga(void **state) { clear_vf_fb(GPUIOV_TONGA, 8192, 16); }
static void clear_vf_fb_mi300(void **state) { clear_vf_fb(GPUIOV_MI300, 196608, 8); }

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(open_tonga),
                cmocka_unit_test(open_mi300),
                cmocka_unit_test(tonga_default_partition),
                cmocka_unit_test(mi300_partition),
                cmocka_unit_test(partition_rejected),
                cmocka_unit_test(mi300_partition_units),
                cmocka_unit_test(config_write_error),
                cmocka_unit_test(sched_tonga),
                cmocka_unit_test(sched_mi300),
                cmocka_unit_test(sched_mi300_sw),
                cmocka_unit_test(tonga_command_set),
                cmocka_unit_test(command_with_latency),
                cmocka_unit_test(stuck_tonga),
                cmocka_unit_test(stuck_mi300),
                cmocka_unit_test(pending_later_block),
                cmocka_unit_test(read_all_tonga),
                cmocka_unit_test(read_all_mi300),
                cmocka_unit_test(command_hang),
                cmocka_unit_test(clear_vf),
                cmocka_unit_test(stop_tonga),
                cmocka_unit_test(stop_mi300),
                cmocka_unit_test(stop_hang_mi300),
                cmocka_unit_test(clear_vf_fb_tonga),
                cmocka_unit_test(clear_vf_fb_mi300),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
