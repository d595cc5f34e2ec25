/* SPDX-License-Identifier: MIT */
/* The GPU-IOV capability: register layouts, field encodings and command words (hardware.md section 3).
 * The simulator and the daemon both use these definitions, so they cannot drift apart. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* A PCIe vendor-specific extended capability (PCI_EXT_CAP_ID_VNDR 0x0b) with VSEC ID 0x0002. */
#define GPUIOV_VSEC_ID            0x0002
#define GPUIOV_VSEC_HDR           0x04   /* VSEC ID [15:0], rev [19:16], length [31:20] */
#define GPUIOV_EXT_CAP_ID         0x000b /* extended capability header: ID [15:0], version [19:16], next [31:20] */
#define GPUIOV_EXT_CAP_VER        1
#define GPUIOV_VSEC_REV           1

enum gpuiov_layout {
        GPUIOV_NONE = 0,   /* generic SR-IOV device: no partition registers */
        GPUIOV_TONGA,      /* S7150, S7150x2 (and, experimentally, Vega10) */
        GPUIOV_MI300,      /* MI300X, V710 (and, experimentally, Navi21) */
};

/* --- Tonga layout (hardware.md 3, "Tonga layout"; offsets from the capability start) --- */
#define TONGA_CMD_CONTROL         0x0c   /* 8 bit; the command dword spans 0x0c-0x0f */
#define TONGA_FCN_ID              0x0d
#define TONGA_NXT_FCN_ID          0x0e
#define TONGA_CMD_STATUS          0x10
#define TONGA_RESET_CONTROL       0x14
#define TONGA_RESET_NOTIFICATION  0x18
#define TONGA_VM_INIT_STATUS      0x1c
#define TONGA_CNTXT               0x20
#define TONGA_TOTAL_FB_AVAILABLE  0x24   /* 16 bit, MiB, read-only */
#define TONGA_TOTAL_FB_CONSUMED   0x26   /* 16 bit, MiB */
#define TONGA_AUTO_SCH_OFFSET     0x2a   /* 8 bit, 16-byte units from the capability */
#define TONGA_DISP_OFFSET         0x2b
#define TONGA_VF_FB(n)            (0x2c + 4 * (n))
#define TONGA_MAX_VFS             16
#define TONGA_CAP_LEN             0x70   /* through the last VF framebuffer dword */
/* Project choice: Tonga's one scheduler block follows the VF framebuffer table, 16-byte aligned. */
#define TONGA_SCH_BLOCK           0x70

/* --- MI300 / Navi32 layout (hardware.md 3) --- */
#define MI300_MAILBOX(i)          (0x18 + 4 * (i))
#define MI300_CNTXT               0x24
#define MI300_TOTAL_FB_AVAILABLE  0x28
#define MI300_TOTAL_FB_CONSUMED   0x2a
/* Inference: a 16-bit count of MiB cannot hold an MI300X's 192 GiB, so on this layout the two
 * TOTAL_FB fields count 16 MiB units (see docs/gpuiov.md). Tonga counts MiB. */
#define MI300_FB_TOTAL_UNIT_MIB   16
#define TONGA_FB_TOTAL_UNIT_MIB   1
/* Inference (hardware.md gives no place for the scheduler block offsets on MI300; this project
 * defines them in the free bytes 0x2c-0x2e, see docs/gpuiov.md): the first block's offset in
 * 16-byte units, the number of graphics blocks and of multimedia blocks; blocks are contiguous. */
#define MI300_SCH_OFFSET          0x2c
#define MI300_SCH_GFX_COUNT       0x2d
#define MI300_SCH_MM_COUNT        0x2e
#define MI300_VF_FB(n)            (0x38 + 4 * (n))
#define MI300_MAX_VFS             16
#define MI300_CAP_LEN             0x78
/* Project choice: the first scheduler block sits at cap + 0x80 (graphics blocks first, then multimedia). */
#define MI300_SCH_FIRST_BLOCK     0x80

/* --- A hardware scheduler block, at cap + (offset << 4) (hardware.md 3) --- */
#define SCH_CMD_CONTROL           0x04
#define SCH_FCN_ID                0x05
#define SCH_NXT_FCN_ID            0x06
#define SCH_CMD_STATUS            0x08
#define SCH_VM_BUSY_STATUS        0x0c
#define SCH_ACTIVE_FUNCTIONS      0x10   /* bitmap: bit n = VF n, bit 31 = PF */
#define SCH_ACTIVE_FUNCTION_ID    0x14
#define SCH_TIME_QUANTA_OPTION    0x18   /* four 8-bit entries, milliseconds */
#define SCH_TIME_QUANTA_PER_VF    0x1c   /* 2-bit index per VF into the four entries */
#define SCH_PF_QUANTA             0x20   /* PF's 2-bit index in bits 31:30 */
#define SCH_BLOCK_STRIDE          0x30   /* project choice: blocks are 48 bytes apart */
#define SCH_BLOCK_LEN             0x24   /* through SCH_PF_QUANTA */
#define SCH_ACTIVE_PF_BIT         (1u << 31)
#define SCH_QUANTA_ENTRIES        4
#define SCH_QUANTUM_MAX_MS        255
#define MI300_GFX_BLOCKS          8      /* one per XCC */
#define MI300_MM_BLOCKS           12

/* --- Commands (hardware.md 3, "Commands") --- */
enum gpuiov_cmd {
        GPUIOV_CMD_IDLE_GPU = 0x1,
        GPUIOV_CMD_SAVE_GPU_STATE = 0x2,
        GPUIOV_CMD_LOAD_GPU_STATE = 0x3,
        GPUIOV_CMD_RUN_GPU = 0x4,
        GPUIOV_CMD_CONTEXT_SWITCH = 0x5,
        GPUIOV_CMD_ENABLE_AUTO_HW_SWITCH = 0x6,
        GPUIOV_CMD_INIT_GPU = 0x7,
        GPUIOV_CMD_SAVE_RLCV_STATE = 0x8,
        GPUIOV_CMD_LOAD_RLCV_STATE = 0x9,
        GPUIOV_CMD_CLEAR_VF_STATE = 0xa,
        GPUIOV_CMD_DISABLE_AUTO_HW_SCHED = 0xb,
        GPUIOV_CMD_DISABLE_AUTO_HW_SCHED_AND_SWITCH = 0xc,
        GPUIOV_CMD_SHUTDOWN_GPU = 0xd,
        GPUIOV_CMD_CONFIG_AUTO_HW_SCHED_MODE = 0xf,
};
#define GPUIOV_CMD_EXECUTE        0x10
#define GPUIOV_FUNC_PF            0x00
#define GPUIOV_FUNC_VF(n)         (0x80 | (n))
/* Status codes in CMD_STATUS. 0 = done. */
#define GPUIOV_STATUS_OK          0x00
#define GPUIOV_STATUS_INVALID     0x01   /* project choice: unknown command or function */
#define GPUIOV_STATUS_GFX_HANG    0x0e
#define GPUIOV_STATUS_SDMA_HANG   0x0f
/* Completion timeouts: GIM1 2 s (3 s for INIT_GPU), GIM8 500 ms. */
#define GPUIOV_TIMEOUT_TONGA_MS   2000
#define GPUIOV_TIMEOUT_TONGA_INIT_MS 3000
#define GPUIOV_TIMEOUT_MI300_MS   500

/* Scheduling policies: GIM8's policy numbers (hardware.md 5), carried in the NXT_FCN_ID byte of
 * CONFIG_AUTO_HW_SCHED_MODE (that carrier is an inference of this project, see docs/gpuiov.md). Which
 * policies a card supports is in its entry of the card table (cards.h). */
enum gpuiov_sched_mode {
        GPUIOV_SCHED_SOLID = 1,        /* HW solid: idle VFs keep their slot */
        GPUIOV_SCHED_LIQUID = 2,       /* HW liquid: idle VFs are skipped */
        GPUIOV_SCHED_FAIRNESS = 3,     /* SW fairness */
        GPUIOV_SCHED_ROUND_ROBIN = 4,  /* SW round-robin */
        GPUIOV_SCHED_HYBRID = 5,       /* no card in hardware.md supports it: never programmed */
};
#define GPUIOV_SCHED_BIT(m)       (1u << (m))
/* "solid", "liquid", "fairness", "round_robin", "hybrid"; NULL for 0 (not programmed) or an unknown number. */
const char *gpuiov_sched_mode_name(unsigned mode);
/* The policy named s (case-insensitive; "round-robin" too), or -EINVAL. */
int gpuiov_sched_mode_from_name(const char *s);

/* Whether the layout's command set has cmd (hardware.md 3): the Tonga layout (GIM1's S7150) only the
 * base codes 1-9; the MI300 layout also GIM8's 0xa-0xd and 0xf. */
bool gpuiov_cmd_supported(enum gpuiov_layout l, unsigned cmd);

/* The command dword: cmd | EXECUTE | func << 8 | next_func << 16. */
static inline uint32_t gpuiov_cmd_word(enum gpuiov_cmd cmd, uint8_t func, uint8_t next) {
        return (uint32_t)cmd | GPUIOV_CMD_EXECUTE | (uint32_t)func << 8 | (uint32_t)next << 16;
}

/* Framebuffer entry of one VF. Tonga: ((size >> 4) - 1) | (offset >> 4) << 16.
 * MI300: (size >> 4) | (offset >> 4) << 16. Sizes and offsets in MiB, 16 MiB aligned. */
uint32_t gpuiov_fb_encode(enum gpuiov_layout l, uint32_t offset_mib, uint32_t size_mib);
void gpuiov_fb_decode(enum gpuiov_layout l, uint32_t raw, uint32_t *offset_mib, uint32_t *size_mib);

/* CNTXT: size [6:0] and offset [31:10] in 256 KiB units, location [7] = 0 (framebuffer). */
#define GPUIOV_CNTXT_UNIT_KIB     256
#define GPUIOV_CNTXT_MIB          8      /* 256 KiB per function */
uint32_t gpuiov_cntxt_encode(uint32_t offset_mib, uint32_t size_mib);
void gpuiov_cntxt_decode(uint32_t raw, uint32_t *offset_mib, uint32_t *size_mib);

/* Offsets of the layout's fields; GPUIOV_NONE has none. */
struct gpuiov_regs {
        uint16_t cmd_control, cmd_status;     /* main command window; 0 on MI300: use scheduler block 0 */
        uint16_t cntxt, fb_available, fb_consumed;
        uint16_t vf_fb0;                      /* VF n at vf_fb0 + 4n */
        uint8_t fb_total_unit_mib;            /* unit of fb_available and fb_consumed */
        uint8_t max_vfs;
        uint16_t cap_len;
};
const struct gpuiov_regs *gpuiov_regs(enum gpuiov_layout l);
const char *gpuiov_layout_name(enum gpuiov_layout l);
int gpuiov_layout_from_name(const char *s);
const char *gpuiov_cmd_name(unsigned cmd);
const char *gpuiov_status_name(unsigned status);
