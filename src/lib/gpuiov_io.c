// SPDX-License-Identifier: MIT
// Reading and programming a PF's GPU-IOV capability (partition, scheduler blocks, commands) through a regio window.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mxgpu/clock.h"
#include "mxgpu/cards.h"
#include "mxgpu/gpuiov_io.h"
#include "mxgpu/macro.h"

#define EXT_CAP_START 0x100
#define EXT_CAP_ID_VNDR 0x000b

/* Note where a call failed, for gpuiov_strerror(); returns err. */
static int failed(struct gpuiov_dev *d, int err, unsigned reg, bool write) {
        d->fail = (struct gpuiov_failure){ .set = true, .write = write, .reg = (uint16_t)reg,
                                           .window = d->fail.window, .cmd = d->fail.cmd };
        return err;
}

/* Register accessors relative to the capability; a failure records the register. */
static int rd8(struct gpuiov_dev *d, unsigned off, uint8_t *v) {
        int r = regio_read8(&d->io, d->cap + off, v);
        return r < 0 ? failed(d, r, off, false) : r;
}
static int rd16(struct gpuiov_dev *d, unsigned off, uint16_t *v) {
        int r = regio_read16(&d->io, d->cap + off, v);
        return r < 0 ? failed(d, r, off, false) : r;
}
/* Reads within gpuiov_read_all()'s snapshot come from it. */
static bool from_snap(const struct gpuiov_dev *d, unsigned off, void *buf, size_t len) {
        if (!d->snap || off + len > d->snap_len)
                return false;
        memcpy(buf, d->snap + off, len);
        return true;
}
static int rd32(struct gpuiov_dev *d, unsigned off, uint32_t *v) {
        uint8_t b[4];
        if (from_snap(d, off, b, sizeof(b))) {
                *v = regio_le32(b, 0);
                return 0;
        }
        int r = regio_read32(&d->io, d->cap + off, v);
        return r < 0 ? failed(d, r, off, false) : r;
}
static int wr32(struct gpuiov_dev *d, unsigned off, uint32_t v) {
        int r = regio_write32(&d->io, d->cap + off, v);
        return r < 0 ? failed(d, r, off, true) : r;
}
static int rd_block(struct gpuiov_dev *d, unsigned off, void *buf, size_t len) {
        if (from_snap(d, off, buf, len))
                return 0;
        int r = regio_read_block(&d->io, d->cap + off, buf, len);
        return r < 0 ? failed(d, r, off, false) : r;
}

/* A register that did not keep the value written: -EREMOTEIO, not -EIO, which the kernel gives for a
 * config access that failed. */
static int not_kept(struct gpuiov_dev *d, unsigned off, uint32_t wrote, uint32_t read) {
        failed(d, -EREMOTEIO, off, true);
        d->fail.wrote = wrote;
        d->fail.read = read;
        return -EREMOTEIO;
}

/* Write, then read back. */
static int wr16_verify(struct gpuiov_dev *d, unsigned off, uint16_t v) {
        uint16_t back;
        int r = regio_write16(&d->io, d->cap + off, v);
        if (r < 0)
                return failed(d, r, off, true);
        r = rd16(d, off, &back);
        return r < 0 ? r : back == v ? 0 : not_kept(d, off, v, back);
}

static int wr32_verify(struct gpuiov_dev *d, unsigned off, uint32_t v) {
        uint32_t back;
        int r = wr32(d, off, v);
        if (r < 0)
                return r;
        r = rd32(d, off, &back);
        return r < 0 ? r : back == v ? 0 : not_kept(d, off, v, back);
}

int gpuiov_find_cap(const struct regio *io, uint16_t *ret) {
        unsigned off = EXT_CAP_START;
        /* Each capability takes at least 4 bytes: more hops than that means a loop in the list. */
        for (unsigned hops = 0; hops < (REGIO_CONFIG_SIZE - EXT_CAP_START) / 4; hops++) {
                uint32_t hdr;
                int r = regio_read32(io, off, &hdr);
                if (r < 0)
                        return r;
                if (hdr == 0 || hdr == 0xffffffff)
                        return -ENOENT;
                if ((hdr & 0xffff) == EXT_CAP_ID_VNDR) {
                        uint32_t vsec;
                        r = regio_read32(io, off + GPUIOV_VSEC_HDR, &vsec);
                        if (r < 0)
                                return r;
                        if ((vsec & 0xffff) == GPUIOV_VSEC_ID) {
                                *ret = (uint16_t)off;
                                return 0;
                        }
                }
                unsigned next = hdr >> 20;
                if (next < EXT_CAP_START || next % 4)
                        return -ENOENT;
                off = next;
        }
        return -ENOENT;
}

/* Block offsets: Tonga's one block at AUTO_SCH (inferred layout, hardware.md 3); MI300's blocks from
 * MI300_SCH_OFFSET, graphics then multimedia, SCH_BLOCK_STRIDE apart (docs/gpuiov.md). `fixed` is the
 * layout's fixed registers as gpuiov_open() read them. */
static int find_sched_blocks(struct gpuiov_dev *d, const uint8_t *fixed) {
        uint8_t first, gfx = 1, mm = 0;
        if (d->layout == GPUIOV_MI300) {
                first = fixed[MI300_SCH_OFFSET];
                gfx = fixed[MI300_SCH_GFX_COUNT];
                mm = fixed[MI300_SCH_MM_COUNT];
        } else
                first = fixed[TONGA_AUTO_SCH_OFFSET];
        d->n_sched = d->n_gfx_sched = 0;
        if (first == 0) /* no scheduler block advertised (GIM1 never used one) */
                return 0;
        if ((unsigned)gfx + mm > GPUIOV_MAX_SCHED_BLOCKS)
                return -EBADMSG;
        for (unsigned i = 0; i < (unsigned)gfx + mm; i++) {
                unsigned off = ((unsigned)first << 4) + i * SCH_BLOCK_STRIDE;
                /* inside the capability, clear of the layout's fixed registers */
                if (off < d->regs->cap_len || off + SCH_BLOCK_LEN > d->cap_len)
                        return -EBADMSG;
                d->sched[i] = (uint16_t)off;
        }
        d->n_sched = (unsigned)gfx + mm;
        d->n_gfx_sched = gfx;
        return 0;
}

int gpuiov_open(const struct regio *io, uint16_t cap, enum gpuiov_layout layout, struct gpuiov_dev *ret) {
        const struct gpuiov_regs *regs = gpuiov_regs(layout);
        if (!io || !io->ops || !regs || cap < EXT_CAP_START || cap % 4 || cap + regs->cap_len > REGIO_CONFIG_SIZE)
                return -EINVAL;
        struct gpuiov_dev d = { .io = *io, .cap = cap, .layout = layout, .regs = regs };
        /* the layout's fixed registers, header to the last VF entry, in one read */
        uint8_t fixed[MAX(TONGA_CAP_LEN, MI300_CAP_LEN)];
        int r = regio_read_block(io, cap, fixed, regs->cap_len);
        if (r < 0)
                return r;
        uint32_t hdr = regio_le32(fixed, 0), vsec = regio_le32(fixed, GPUIOV_VSEC_HDR);
        if ((hdr & 0xffff) != EXT_CAP_ID_VNDR || (vsec & 0xffff) != GPUIOV_VSEC_ID)
                return -EBADMSG;
        d.cap_len = vsec >> 20;
        if (d.cap_len < regs->cap_len || cap + d.cap_len > REGIO_CONFIG_SIZE)
                return -EBADMSG;

        uint16_t avail = regio_le16(fixed, regs->fb_available);
        if (avail == 0 || avail == 0xffff) /* no memory, or a device that stopped answering */
                return -EBADMSG;
        d.fb_available_mib = (uint32_t)avail * regs->fb_total_unit_mib;

        r = find_sched_blocks(&d, fixed);
        if (r < 0)
                return r;
        *ret = d;
        return 0;
}

int gpuiov_read_partition(struct gpuiov_dev *d, unsigned n_vfs, struct gpuiov_partition *ret) {
        d->fail = (struct gpuiov_failure){};
        if (n_vfs > d->regs->max_vfs)
                return -ERANGE;
        struct gpuiov_partition p = { .n_vfs = n_vfs };
        /* CNTXT, the framebuffer totals and the VF table in one read: from the lowest of them to
         * the last VF entry (both layouts keep them in that order, the table last) */
        const struct gpuiov_regs *g = d->regs;
        unsigned from = MIN(g->cntxt, MIN(g->fb_available, g->fb_consumed)), to = g->vf_fb0 + 4 * n_vfs;
        uint8_t regs[MAX(TONGA_CAP_LEN, MI300_CAP_LEN)];
        if (to > sizeof(regs) || from >= to)
                return -EINVAL;
        int r = rd_block(d, from, regs, to - from);
        if (r < 0)
                return r;
        uint16_t avail = regio_le16(regs, g->fb_available - from), consumed = regio_le16(regs, g->fb_consumed - from);
        uint32_t cntxt = regio_le32(regs, g->cntxt - from);
        p.fb_available_mib = (uint32_t)avail * g->fb_total_unit_mib;
        p.fb_consumed_mib = (uint32_t)consumed * g->fb_total_unit_mib;
        p.pf_reserve_mib = p.fb_available_mib >= p.fb_consumed_mib ? p.fb_available_mib - p.fb_consumed_mib : 0;
        gpuiov_cntxt_decode(cntxt, &p.context.offset_mib, &p.context.size_mib);
        for (unsigned n = 0; n < n_vfs; n++)
                gpuiov_fb_decode(d->layout, regio_le32(regs, g->vf_fb0 - from + 4 * n), &p.vf[n].offset_mib, &p.vf[n].size_mib);
        *ret = p;
        return 0;
}

static bool fb_encodable(const struct gpuiov_dev *d, const struct gpuiov_fb *f) {
        uint64_t end = (uint64_t)f->offset_mib + f->size_mib;
        return f->size_mib >= FB_ALIGN_MIB && f->offset_mib % FB_ALIGN_MIB == 0 && f->size_mib % FB_ALIGN_MIB == 0 &&
               end <= d->fb_available_mib && f->offset_mib / FB_ALIGN_MIB <= 0xffff &&
               f->size_mib / FB_ALIGN_MIB <= 0xffff;
}

int gpuiov_write_partition(struct gpuiov_dev *d, uint32_t pf_reserve_mib, const struct gpuiov_fb *context,
                           const struct gpuiov_fb *vfs, unsigned n_vfs) {
        const struct gpuiov_regs *regs = d->regs;
        d->fail = (struct gpuiov_failure){};
        if (n_vfs > regs->max_vfs)
                return -ERANGE;
        if (!context || (n_vfs && !vfs) || pf_reserve_mib > d->fb_available_mib)
                return -EINVAL;
        uint32_t consumed = d->fb_available_mib - pf_reserve_mib;
        if (consumed % regs->fb_total_unit_mib) /* MI300 counts 16 MiB units */
                return -EINVAL;
        /* CNTXT holds 7 bits of size and 22 bits of offset in 256 KiB units. */
        uint32_t per_mib = 1024 / GPUIOV_CNTXT_UNIT_KIB;
        if (context->size_mib * per_mib > 0x7f || (uint64_t)context->offset_mib * per_mib > 0x3fffff ||
            (uint64_t)context->offset_mib + context->size_mib > d->fb_available_mib)
                return -EINVAL;
        for (unsigned n = 0; n < n_vfs; n++)
                if (!fb_encodable(d, &vfs[n]))
                        return -EINVAL;

        /* hardware.md 4: TOTAL_FB_CONSUMED, CNTXT, then each VF's size/offset. */
        int r = wr16_verify(d, regs->fb_consumed, (uint16_t)(consumed / regs->fb_total_unit_mib));
        if (r < 0)
                return r;
        r = wr32_verify(d, regs->cntxt, gpuiov_cntxt_encode(context->offset_mib, context->size_mib));
        if (r < 0)
                return r;
        /* each VF's entry, then the table read back in one go */
        uint32_t want[GPUIOV_MAX_VFS];
        for (unsigned n = 0; n < n_vfs; n++) {
                want[n] = gpuiov_fb_encode(d->layout, vfs[n].offset_mib, vfs[n].size_mib);
                r = wr32(d, regs->vf_fb0 + 4 * n, want[n]);
                if (r < 0)
                        return r;
        }
        uint8_t back[4 * GPUIOV_MAX_VFS];
        r = n_vfs ? rd_block(d, regs->vf_fb0, back, 4 * n_vfs) : 0;
        if (r < 0)
                return r;
        for (unsigned n = 0; n < n_vfs; n++)
                if (regio_le32(back, 4 * n) != want[n])
                        return not_kept(d, regs->vf_fb0 + 4 * n, want[n], regio_le32(back, 4 * n));
        return 0;
}

int gpuiov_read_sched(struct gpuiov_dev *d, struct gpuiov_sched *ret) {
        d->fail = (struct gpuiov_failure){};
        struct gpuiov_sched s = { .n_blocks = d->n_sched };
        for (unsigned i = 0; i < d->n_sched; i++) {
                struct gpuiov_sched_block *b = &s.block[i];
                unsigned o = d->sched[i];
                /* the block's registers from CMD_CONTROL on, in one read */
                uint8_t blk[SCH_BLOCK_LEN - SCH_CMD_CONTROL];
                int r = rd_block(d, o + SCH_CMD_CONTROL, blk, sizeof(blk));
                if (r < 0)
                        return r;
#define SCH_REG(off) regio_le32(blk, (off) - SCH_CMD_CONTROL)
                uint32_t options = SCH_REG(SCH_TIME_QUANTA_OPTION), per_vf = SCH_REG(SCH_TIME_QUANTA_PER_VF),
                         pf = SCH_REG(SCH_PF_QUANTA);
                b->active = SCH_REG(SCH_ACTIVE_FUNCTIONS);
                b->busy = SCH_REG(SCH_VM_BUSY_STATUS);
                b->active_function_id = SCH_REG(SCH_ACTIVE_FUNCTION_ID);
                b->cmd_control = SCH_REG(SCH_CMD_CONTROL);
#undef SCH_REG
                b->offset = (uint16_t)o;
                b->gfx = i < d->n_gfx_sched;
                for (unsigned q = 0; q < SCH_QUANTA_ENTRIES; q++)
                        b->quanta_ms[q] = (options >> (8 * q)) & 0xff;
                for (unsigned n = 0; n < GPUIOV_MAX_VFS; n++)
                        b->vf_index[n] = (per_vf >> (2 * n)) & 3;
                b->pf_index = pf >> 30;
        }
        *ret = s;
        return 0;
}

int gpuiov_write_sched(struct gpuiov_dev *d, const struct gpuiov_sched_cfg *cfg) {
        d->fail = (struct gpuiov_failure){};
        if (d->n_sched == 0)
                return -EOPNOTSUPP;
        if (!cfg || cfg->mode < GPUIOV_SCHED_SOLID || cfg->mode > GPUIOV_SCHED_ROUND_ROBIN ||
            cfg->n_vfs > GPUIOV_MAX_VFS || cfg->pf_index >= SCH_QUANTA_ENTRIES)
                return -EINVAL;
        /* Without CONFIG_AUTO_HW_SCHED_MODE (not in the Tonga set) a block runs solid, and only that. */
        bool mode_cmd = gpuiov_cmd_supported(d->layout, GPUIOV_CMD_CONFIG_AUTO_HW_SCHED_MODE);
        if (!mode_cmd && cfg->mode != GPUIOV_SCHED_SOLID)
                return -EOPNOTSUPP;
        uint32_t vf_bits = cfg->n_vfs >= 32 ? ~0u : (1u << cfg->n_vfs) - 1;
        if (cfg->active & ~(vf_bits | SCH_ACTIVE_PF_BIT))
                return -EINVAL;
        uint32_t options = 0, per_vf = 0;
        for (unsigned q = 0; q < SCH_QUANTA_ENTRIES; q++)
                options |= (uint32_t)cfg->quanta_ms[q] << (8 * q);
        for (unsigned n = 0; n < cfg->n_vfs; n++) {
                if (cfg->vf_index[n] >= SCH_QUANTA_ENTRIES)
                        return -EINVAL;
                per_vf |= (uint32_t)cfg->vf_index[n] << (2 * n);
        }

        for (unsigned i = 0; i < d->n_sched; i++) {
                unsigned o = d->sched[i];
                uint32_t pf;
                int r = wr32_verify(d, o + SCH_TIME_QUANTA_OPTION, options);
                if (r >= 0)
                        r = wr32_verify(d, o + SCH_TIME_QUANTA_PER_VF, per_vf);
                if (r >= 0)
                        r = rd32(d, o + SCH_PF_QUANTA, &pf);
                if (r >= 0) /* the PF's index is bits 31:30; the rest of the dword is kept */
                        r = wr32_verify(d, o + SCH_PF_QUANTA, (pf & 0x3fffffffu) | (uint32_t)cfg->pf_index << 30);
                if (r >= 0)
                        r = wr32_verify(d, o + SCH_ACTIVE_FUNCTIONS, cfg->active);
                if (r < 0)
                        return r;
        }
        /* Each scheduler runs on its own: every block gets the mode (where the layout has the command),
         * then the switch-on. */
        for (unsigned i = 0; i < d->n_sched; i++) {
                int r = 0;
                if (mode_cmd)
                        r = gpuiov_command(d, (int)i, GPUIOV_CMD_CONFIG_AUTO_HW_SCHED_MODE, GPUIOV_FUNC_PF,
                                           (uint8_t)cfg->mode, 0);
                if (r >= 0)
                        r = gpuiov_command(d, (int)i, GPUIOV_CMD_ENABLE_AUTO_HW_SWITCH, GPUIOV_FUNC_PF, 0, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

int gpuiov_stop_sched(struct gpuiov_dev *d) {
        d->fail = (struct gpuiov_failure){};
        bool disable = gpuiov_cmd_supported(d->layout, GPUIOV_CMD_DISABLE_AUTO_HW_SCHED);
        for (unsigned i = 0; i < d->n_sched; i++) {
                if (disable) {
                        int r = gpuiov_command(d, (int)i, GPUIOV_CMD_DISABLE_AUTO_HW_SCHED, GPUIOV_FUNC_PF, 0, 0);
                        if (r < 0)
                                return r;
                        d->fail = (struct gpuiov_failure){}; /* a failed write below is not the command's */
                }
                int r = wr32_verify(d, d->sched[i] + SCH_ACTIVE_FUNCTIONS, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

int gpuiov_clear_vf_fb(struct gpuiov_dev *d, uint32_t vf_mask) {
        d->fail = (struct gpuiov_failure){};
        if (d->regs->max_vfs < 32 && vf_mask >> d->regs->max_vfs)
                return -EINVAL;
        for (unsigned n = 0; n < d->regs->max_vfs; n++) {
                if (!(vf_mask & (1u << n)))
                        continue;
                int r = wr32_verify(d, d->regs->vf_fb0 + 4 * n, 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int window_regs(const struct gpuiov_dev *d, int window, unsigned *cmd_off, unsigned *status_off) {
        if (window == GPUIOV_WINDOW_MAIN && d->regs->cmd_control) {
                *cmd_off = d->regs->cmd_control;
                *status_off = d->regs->cmd_status;
                return 0;
        }
        if (window == GPUIOV_WINDOW_MAIN) /* MI300: scheduler block 0 */
                window = 0;
        if (window < 0 || (unsigned)window >= d->n_sched)
                return d->n_sched == 0 ? -EOPNOTSUPP : -EINVAL;
        *cmd_off = d->sched[window] + SCH_CMD_CONTROL;
        *status_off = d->sched[window] + SCH_CMD_STATUS;
        return 0;
}

static unsigned default_timeout_ms(const struct gpuiov_dev *d, enum gpuiov_cmd cmd) {
        if (d->layout == GPUIOV_MI300)
                return GPUIOV_TIMEOUT_MI300_MS;
        return cmd == GPUIOV_CMD_INIT_GPU ? GPUIOV_TIMEOUT_TONGA_INIT_MS : GPUIOV_TIMEOUT_TONGA_MS;
}

int gpuiov_command(struct gpuiov_dev *d, int window, enum gpuiov_cmd cmd, uint8_t func, uint8_t next,
                   unsigned timeout_ms) {
        d->fail = (struct gpuiov_failure){ .cmd = (uint8_t)cmd, .window = window };
        unsigned cmd_off, status_off;
        int r = window_regs(d, window, &cmd_off, &status_off);
        if (r < 0)
                return r;
        if (window == GPUIOV_WINDOW_MAIN && !d->regs->cmd_control)
                d->fail.window = 0; /* MI300: block 0's window */
        if ((unsigned)cmd > 0xf)
                return -EINVAL;
        if (!gpuiov_cmd_supported(d->layout, cmd)) { /* the card would answer INVALID: never send it */
                d->fail.set = true;
                return -EOPNOTSUPP;
        }
        uint32_t word;
        r = rd32(d, cmd_off, &word);
        if (r < 0)
                return r;
        if (word & GPUIOV_CMD_EXECUTE) { /* the card ignores a new command while one is in flight */
                d->fail.set = true;
                d->fail.prev_cmd = word & 0x0f;
                d->fail.read = word;
                return -EBUSY;
        }

        unsigned ms = timeout_ms ? timeout_ms : default_timeout_ms(d, cmd);
        uint64_t deadline = mx_now_usec() + (uint64_t)ms * 1000u;
        r = wr32(d, cmd_off, gpuiov_cmd_word(cmd, func, next));
        if (r < 0)
                return r;
        /* Poll with short sleeps that grow to 1 ms: most commands finish within microseconds. */
        uint8_t ctl, status;
        for (long delay_ns = 10000;; delay_ns = MIN(delay_ns * 2, 1000000L)) {
                bool late = mx_now_usec() >= deadline; /* sampled before the read: one last look after the deadline */
                r = rd8(d, cmd_off, &ctl);
                if (r < 0)
                        return r;
                if (!(ctl & GPUIOV_CMD_EXECUTE))
                        break;
                if (late) {
                        d->fail.set = true;
                        d->fail.timeout_ms = ms;
                        return -ETIMEDOUT;
                }
                struct timespec ts = { 0, delay_ns };
                nanosleep(&ts, NULL);
        }
        r = rd8(d, status_off, &status);
        if (r < 0)
                return r;
        d->last_status = status;
        if (status == GPUIOV_STATUS_OK)
                return 0;
        d->fail.set = d->fail.cmd_status = true;
        return -EIO;
}

int gpuiov_clear_vf(struct gpuiov_dev *d, unsigned vf) {
        if (vf >= GPUIOV_MAX_VFS)
                return -EINVAL;
        return gpuiov_command(d, GPUIOV_WINDOW_MAIN, GPUIOV_CMD_CLEAR_VF_STATE, GPUIOV_FUNC_VF(vf), 0, 0);
}

/* "scheduler block 3" or "the main command window" */
static const char *window_name(const struct gpuiov_dev *d, int window, char *buf, size_t size) {
        if (window == GPUIOV_WINDOW_MAIN)
                snprintf(buf, size, "the main command window");
        else
                snprintf(buf, size, "scheduler block %d%s", window,
                         d->n_sched > d->n_gfx_sched ? (unsigned)window < d->n_gfx_sched ? " (graphics)" : " (multimedia)" : "");
        return buf;
}

/* The register at capability offset off: "TOTAL_FB_CONSUMED", "VF3's framebuffer entry",
 * "TIME_QUANTA_OPTION of scheduler block 2". */
static const char *reg_name(const struct gpuiov_dev *d, unsigned off, char *buf, size_t size) {
        const struct gpuiov_regs *g = d->regs;
        static const struct { uint16_t off; const char *name; } sch[] = {
                { SCH_CMD_CONTROL, "CMD_CONTROL" }, { SCH_CMD_STATUS, "CMD_STATUS" },
                { SCH_VM_BUSY_STATUS, "VM_BUSY_STATUS" }, { SCH_ACTIVE_FUNCTIONS, "ACTIVE_FUNCTIONS" },
                { SCH_ACTIVE_FUNCTION_ID, "ACTIVE_FUNCTION_ID" }, { SCH_TIME_QUANTA_OPTION, "TIME_QUANTA_OPTION" },
                { SCH_TIME_QUANTA_PER_VF, "TIME_QUANTA_PER_VF" }, { SCH_PF_QUANTA, "PF_QUANTA" },
        };
        for (unsigned i = 0; i < d->n_sched; i++)
                if (off >= d->sched[i] && off < d->sched[i] + (unsigned)SCH_BLOCK_LEN) {
                        char w[48];
                        const char *name = "a register";
                        for (size_t k = 0; k < ARRAY_SIZE(sch); k++)
                                if (off - d->sched[i] == sch[k].off)
                                        name = sch[k].name;
                        snprintf(buf, size, "%s of %s", name, window_name(d, (int)i, w, sizeof(w)));
                        return buf;
                }
        if (off >= g->vf_fb0 && off < g->vf_fb0 + 4u * g->max_vfs)
                snprintf(buf, size, "VF%u's framebuffer entry", (off - g->vf_fb0) / 4);
        else if (off == g->cntxt)
                snprintf(buf, size, "CNTXT");
        else if (off == g->fb_consumed)
                snprintf(buf, size, "TOTAL_FB_CONSUMED");
        else if (off == g->fb_available)
                snprintf(buf, size, "TOTAL_FB_AVAILABLE");
        else if (g->cmd_control && off == g->cmd_control)
                snprintf(buf, size, "CMD_CONTROL");
        else if (g->cmd_status && off == g->cmd_status)
                snprintf(buf, size, "CMD_STATUS");
        else
                snprintf(buf, size, "the register");
        return buf;
}

const char *gpuiov_strerror(const struct gpuiov_dev *d, int err, char *buf, size_t size) {
        const struct gpuiov_failure *f = d && d->fail.set ? &d->fail : NULL;
        char w[48], reg[80];
        if (!f)
                snprintf(buf, size, "%s", strerror(-err));
        else if (err == -ETIMEDOUT && f->cmd)
                snprintf(buf, size, "command %s on %s did not complete in %u ms (EXECUTE still set): the card is hung",
                         gpuiov_cmd_name(f->cmd), window_name(d, f->window, w, sizeof(w)), f->timeout_ms);
        else if (err == -EBUSY && f->cmd)
                snprintf(buf, size, "command %s on %s was not started: the previous command there (%s, CMD_CONTROL "
                         "0x%08x) never completed: the card is hung", gpuiov_cmd_name(f->cmd),
                         window_name(d, f->window, w, sizeof(w)), gpuiov_cmd_name(f->prev_cmd), f->read);
        else if (err == -EIO && f->cmd_status)
                snprintf(buf, size, "command %s on %s failed: the card reported status 0x%02x (%s)", gpuiov_cmd_name(f->cmd),
                         window_name(d, f->window, w, sizeof(w)), d->last_status, gpuiov_status_name(d->last_status));
        else if (err == -EOPNOTSUPP && f->cmd)
                snprintf(buf, size, "command %s is not in the %s layout's command set (it is GIM8's)",
                         gpuiov_cmd_name(f->cmd), d->layout == GPUIOV_TONGA ? "Tonga" : gpuiov_layout_name(d->layout));
        else if (err == -EREMOTEIO)
                snprintf(buf, size, "%s (capability +0x%02x) did not keep the value written: wrote 0x%x, read back 0x%x",
                         reg_name(d, f->reg, reg, sizeof(reg)), f->reg, f->wrote, f->read);
        else if (f->cmd)
                snprintf(buf, size, "cannot %s %s (capability +0x%02x) for command %s: %s", f->write ? "write" : "read",
                         reg_name(d, f->reg, reg, sizeof(reg)), f->reg, gpuiov_cmd_name(f->cmd), strerror(-err));
        else
                snprintf(buf, size, "cannot %s %s (capability +0x%02x): %s", f->write ? "write" : "read",
                         reg_name(d, f->reg, reg, sizeof(reg)), f->reg, strerror(-err));
        return buf;
}

int gpuiov_read_all(struct gpuiov_dev *d, unsigned n_vfs, struct gpuiov_partition *part, struct gpuiov_sched *sched,
                    struct gpuiov_pending *pending) {
        d->fail = (struct gpuiov_failure){};
        uint8_t buf[REGIO_CONFIG_SIZE];
        size_t len = MIN((size_t)d->cap_len, sizeof(buf) - d->cap);
        int r = rd_block(d, 0, buf, len);
        if (r < 0)
                return r;
        d->snap = buf;
        d->snap_len = len;
        r = gpuiov_read_partition(d, n_vfs, part);
        if (r >= 0)
                r = gpuiov_read_sched(d, sched);
        if (r >= 0)
                r = gpuiov_read_pending(d, pending);
        d->snap = NULL;
        d->snap_len = 0;
        return r;
}

int gpuiov_read_pending(struct gpuiov_dev *d, struct gpuiov_pending *ret) {
        struct gpuiov_pending p = { .first_window = GPUIOV_WINDOW_MAIN };
        d->fail = (struct gpuiov_failure){};
        if (d->regs->cmd_control) {
                uint32_t word;
                int r = rd32(d, d->regs->cmd_control, &word);
                if (r < 0)
                        return r;
                if (word & GPUIOV_CMD_EXECUTE) {
                        p.main = true;
                        p.n++;
                        p.first_word = word;
                }
        }
        if (d->n_sched > 0) {
                /* every block's CMD_CONTROL in one read: the blocks lie in one range of the capability */
                unsigned lo = d->sched[0], hi = d->sched[0];
                for (unsigned i = 1; i < d->n_sched; i++) {
                        lo = MIN(lo, (unsigned)d->sched[i]);
                        hi = MAX(hi, (unsigned)d->sched[i]);
                }
                uint8_t buf[REGIO_CONFIG_SIZE];
                size_t len = hi - lo + SCH_CMD_CONTROL + 4;
                int r = rd_block(d, lo, buf, len);
                if (r < 0)
                        return r;
                for (unsigned i = 0; i < d->n_sched; i++) {
                        uint32_t word = regio_le32(buf, d->sched[i] - lo + SCH_CMD_CONTROL);
                        if (!(word & GPUIOV_CMD_EXECUTE))
                                continue;
                        p.blocks |= 1u << i;
                        if (p.n++ == 0) {
                                p.first_window = (int)i;
                                p.first_word = word;
                        }
                }
        }
        *ret = p;
        return 0;
}

const char *gpuiov_pending_reason(const struct gpuiov_dev *d, const struct gpuiov_pending *p, char *buf, size_t size) {
        char w[48];
        snprintf(buf, size, "command %s on %s never completed (CMD_CONTROL 0x%08x, EXECUTE still set)%s: the card is hung",
                 gpuiov_cmd_name(p->first_word & 0x0f), window_name(d, p->first_window, w, sizeof(w)), p->first_word,
                 p->n > 1 ? " and so did commands on other windows" : "");
        return buf;
}
