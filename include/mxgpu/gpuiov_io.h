/* SPDX-License-Identifier: MIT */
/* The GPU-IOV capability of one PF, read and programmed through a register window (hardware.md 3-4):
 * framebuffer partition, scheduler blocks and commands. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mxgpu/gpuiov.h"
#include "mxgpu/regio.h"

#define GPUIOV_MAX_VFS          16
#define GPUIOV_MAX_SCHED_BLOCKS (MI300_GFX_BLOCKS + MI300_MM_BLOCKS)
/* The main command window: Tonga cap+0x0c; MI300 has none of its own and uses scheduler block 0. */
#define GPUIOV_WINDOW_MAIN      (-1)

/* What the last failed call was doing, for gpuiov_strerror(): the register or the command at fault. */
struct gpuiov_failure {
        bool set;
        bool write;                        /* the access that failed was a write */
        bool cmd_status;                   /* -EIO: the command completed with a non-zero CMD_STATUS */
        uint16_t reg;                      /* from the capability; 0 = no register access failed */
        uint8_t cmd;                       /* enum gpuiov_cmd of a failed command; 0 = none */
        uint8_t prev_cmd;                  /* -EBUSY: the command still in flight on that window */
        int window;                        /* a command's window: GPUIOV_WINDOW_MAIN (Tonga) or a block index */
        uint32_t wrote, read;              /* -EREMOTEIO: the value written and the one read back */
        unsigned timeout_ms;               /* -ETIMEDOUT: how long the command was given */
};

/* An open capability. Plain data; the register window stays the caller's (not closed here). */
struct gpuiov_dev {
        struct regio io;
        uint16_t cap;                      /* config offset of the capability */
        enum gpuiov_layout layout;
        const struct gpuiov_regs *regs;
        uint16_t cap_len;                  /* from the VSEC header */
        uint32_t fb_available_mib;         /* TOTAL_FB_AVAILABLE, in MiB */
        unsigned n_sched, n_gfx_sched;     /* scheduler blocks (graphics first); 0 = none advertised */
        uint16_t sched[GPUIOV_MAX_SCHED_BLOCKS]; /* each block's offset from the capability */
        uint8_t last_status;               /* CMD_STATUS of the last command that completed */
        struct gpuiov_failure fail;        /* set by the last call that failed */
        const uint8_t *snap;               /* in gpuiov_read_all(): the capability as read at once, */
        size_t snap_len;                   /* which reads within it are served from */
};

/* A framebuffer range in MiB. */
struct gpuiov_fb {
        uint32_t offset_mib, size_mib;
};

struct gpuiov_partition {
        uint32_t fb_available_mib, fb_consumed_mib;
        uint32_t pf_reserve_mib;           /* available - consumed */
        struct gpuiov_fb context;          /* CNTXT */
        unsigned n_vfs;
        struct gpuiov_fb vf[GPUIOV_MAX_VFS];
};

/* One scheduler block as read back. The policy (solid, liquid, ...) is not readable from the hardware:
 * the daemon keeps the mode it programmed in its state file. */
struct gpuiov_sched_block {
        uint16_t offset;                   /* from the capability */
        bool gfx;                          /* graphics (else multimedia) */
        uint8_t quanta_ms[SCH_QUANTA_ENTRIES];
        uint8_t vf_index[GPUIOV_MAX_VFS];  /* 0-3 into quanta_ms */
        uint8_t pf_index;
        uint32_t active;                   /* ACTIVE_FUNCTIONS: bit n = VF n, bit 31 = PF */
        uint32_t busy;                     /* VM_BUSY_STATUS */
        uint32_t active_function_id;
        uint32_t cmd_control;              /* the command dword; GPUIOV_CMD_EXECUTE set = still in flight */
};

struct gpuiov_sched {
        unsigned n_blocks;
        struct gpuiov_sched_block block[GPUIOV_MAX_SCHED_BLOCKS];
};

/* What gpuiov_write_sched() programs into every scheduler block. */
struct gpuiov_sched_cfg {
        enum gpuiov_sched_mode mode;       /* GPUIOV_SCHED_SOLID to GPUIOV_SCHED_ROUND_ROBIN */
        uint8_t quanta_ms[SCH_QUANTA_ENTRIES]; /* at most four distinct slices per scheduler */
        unsigned n_vfs;
        uint8_t vf_index[GPUIOV_MAX_VFS];  /* VF n's slice is quanta_ms[vf_index[n]] */
        uint8_t pf_index;
        uint32_t active;                   /* bit n = VF n (n < n_vfs), SCH_ACTIVE_PF_BIT = PF */
};

/* The capability at config offset `cap`, for the card's layout. Checks the extended capability ID
 * (0x000b), the VSEC ID (0x0002) and length, TOTAL_FB_AVAILABLE and the scheduler block offsets.
 * Returns 0, -EINVAL (bad arguments or layout GPUIOV_NONE), -EBADMSG (the registers do not look like
 * this layout), or the window's -errno. */
int gpuiov_open(const struct regio *io, uint16_t cap, enum gpuiov_layout layout, struct gpuiov_dev *ret);
/* Walk the extended capability list from 0x100 for the GPU-IOV capability. 0 or -ENOENT, -errno. */
int gpuiov_find_cap(const struct regio *io, uint16_t *ret);

/* The framebuffer layout of the first n_vfs VFs. */
int gpuiov_read_partition(struct gpuiov_dev *d, unsigned n_vfs, struct gpuiov_partition *ret);
/* Program the partition in hardware.md 4's order: TOTAL_FB_CONSUMED (= available - pf_reserve),
 * CNTXT, then each VF's entry; each write is read back (-EREMOTEIO when it did not stick). Entries of VFs
 * >= n_vfs are left as they are. Checks encodability only (16 MiB alignment, inside the
 * framebuffer, register widths) with -EINVAL, n_vfs > the layout's maximum with -ERANGE; overlap
 * and minimum-size rules are the allocator's. Only safe while no VF is assigned to a running guest. */
int gpuiov_write_partition(struct gpuiov_dev *d, uint32_t pf_reserve_mib, const struct gpuiov_fb *context,
                           const struct gpuiov_fb *vfs, unsigned n_vfs);

/* Errors of the calls below, each with d->fail saying where (gpuiov_strerror() puts it in words):
 * the window's -errno (e.g. the kernel's -EIO) when a config-space access failed; -EREMOTEIO when a
 * register did not keep the value written; -EIO with d->fail.cmd_status set when a command completed
 * with a non-zero CMD_STATUS (in d->last_status); -ETIMEDOUT when a command's EXECUTE never cleared;
 * -EBUSY when the window still holds an earlier command that never completed; -EOPNOTSUPP for a
 * command not in the layout's set. */

/* Every scheduler block, read back. */
int gpuiov_read_sched(struct gpuiov_dev *d, struct gpuiov_sched *ret);
/* Program every scheduler block (quanta options, per-VF and PF index, active bitmap, each read back),
 * then on each block's own window CONFIG_AUTO_HW_SCHED_MODE (mode in NXT_FCN_ID) and
 * ENABLE_AUTO_HW_SWITCH. The Tonga layout has no CONFIG_AUTO_HW_SCHED_MODE: its block gets only
 * ENABLE_AUTO_HW_SWITCH and runs solid, so any other mode is -EOPNOTSUPP there. Whether the card
 * supports the mode is the caller's check (mx_card_sched_allowed()). -EOPNOTSUPP when the card
 * advertises no scheduler block; -EINVAL for a bad config; command errors as gpuiov_command(). */
int gpuiov_write_sched(struct gpuiov_dev *d, const struct gpuiov_sched_cfg *cfg);
/* Before VFs go (hardware.md 6, tear-down in reverse): no scheduler block switches to a VF any more.
 * Each block gets DISABLE_AUTO_HW_SCHED on its own window where the layout has the command (GIM8's
 * set: MI300/Navi32), then its ACTIVE_FUNCTIONS cleared and read back. The Tonga layout has no such
 * command (GIM1 drives every world switch in software): there clearing ACTIVE_FUNCTIONS is the whole
 * stop. 0 at once when the card advertises no scheduler block. On an error the blocks before the one
 * named in d->fail are stopped, the others are as they were. */
int gpuiov_stop_sched(struct gpuiov_dev *d);
/* Clear the framebuffer entries of the VFs in vf_mask (bit n = VF n), before those VFs go; each
 * write is read back. Entries of other VFs are left as they are. -EINVAL for a VF beyond the layout's
 * maximum (nothing written). */
int gpuiov_clear_vf_fb(struct gpuiov_dev *d, uint32_t vf_mask);

/* Issue one command on a window (GPUIOV_WINDOW_MAIN or a scheduler block index) and wait for it:
 * cmd | EXECUTE | func << 8 | next << 16, poll until EXECUTE clears (timeout_ms; 0 = the layout's:
 * Tonga 2 s, 3 s for INIT_GPU, MI300 500 ms), then CMD_STATUS must be 0.
 * Returns 0; -ETIMEDOUT when EXECUTE never cleared; -EIO with d->fail.cmd_status when CMD_STATUS != 0
 * (in d->last_status, named by gpuiov_status_name(): 0x0e graphics hang, 0x0f SDMA hang); -EBUSY when a
 * previous command is still in flight on that window; -EOPNOTSUPP for a command the layout's set lacks
 * (gpuiov_cmd_supported(); nothing is written); -EINVAL for a bad window; or the window's -errno. */
int gpuiov_command(struct gpuiov_dev *d, int window, enum gpuiov_cmd cmd, uint8_t func, uint8_t next,
                   unsigned timeout_ms);
/* CLEAR_VF_STATE for VF n on the main window (clears its framebuffer before reuse). -EOPNOTSUPP on the
 * Tonga layout: the command is GIM8's, and hardware.md documents no other way to clear a VF's memory. */
int gpuiov_clear_vf(struct gpuiov_dev *d, unsigned vf);

/* The failure of the last call on d that returned err, in plain words naming the register or the
 * command and its window ("command IDLE_GPU on scheduler block 0 did not complete in 500 ms: the card
 * is hung"). d may be NULL (then only err is described). Returns buf. */
const char *gpuiov_strerror(const struct gpuiov_dev *d, int err, char *buf, size_t size);

/* Command windows whose command dword still has EXECUTE set: a command the card never completed, which
 * also keeps every later command on that window from starting. */
struct gpuiov_pending {
        unsigned n;                        /* windows with a command in flight */
        bool main;                         /* Tonga's main window (cap + 0x0c) */
        uint32_t blocks;                   /* bit i = scheduler block i */
        int first_window;                  /* the first of them: GPUIOV_WINDOW_MAIN or a block index */
        uint32_t first_word;               /* its command dword */
};
/* Read every command window's CMD_CONTROL (one read for all scheduler blocks, one for Tonga's main
 * window). 0 or the window's -errno. A command issued by this process a moment ago shows too: call it
 * when no command of yours is in flight (the daemon's commands are synchronous). */
int gpuiov_read_pending(struct gpuiov_dev *d, struct gpuiov_pending *ret);
/* gpuiov_read_partition(), gpuiov_read_sched() and gpuiov_read_pending() from one read of the whole
 * capability: the registers as they were at one moment, for the price of one config access (each
 * costs a system call, and a FUSE request on the simulator). 0 or the -errno of the read. */
int gpuiov_read_all(struct gpuiov_dev *d, unsigned n_vfs, struct gpuiov_partition *part, struct gpuiov_sched *sched,
                    struct gpuiov_pending *pending);
/* "command CONFIG_AUTO_HW_SCHED_MODE on scheduler block 0 never completed (CMD_CONTROL 0x0001001f, EXECUTE
 * still set): the card is hung". Returns buf. */
const char *gpuiov_pending_reason(const struct gpuiov_dev *d, const struct gpuiov_pending *p, char *buf, size_t size);
