// SPDX-License-Identifier: MIT
// Encodings of the GPU-IOV capability's fields, shared by the simulator's card model and the daemon.
#include <string.h>
#include <strings.h>

#include "mxgpu/gpuiov.h"
#include "mxgpu/macro.h"

uint32_t gpuiov_fb_encode(enum gpuiov_layout l, uint32_t offset_mib, uint32_t size_mib) {
        uint32_t size = size_mib >> 4;
        if (l == GPUIOV_TONGA)
                size = size ? size - 1 : 0; /* Tonga stores the size minus one */
        return (size & 0xffff) | ((offset_mib >> 4) & 0xffff) << 16;
}

void gpuiov_fb_decode(enum gpuiov_layout l, uint32_t raw, uint32_t *offset_mib, uint32_t *size_mib) {
        uint32_t size = raw & 0xffff;
        if (l == GPUIOV_TONGA)
                size += 1;
        *size_mib = size << 4;
        *offset_mib = (raw >> 16) << 4;
}

uint32_t gpuiov_cntxt_encode(uint32_t offset_mib, uint32_t size_mib) {
        uint32_t units_per_mib = 1024 / GPUIOV_CNTXT_UNIT_KIB;
        return ((size_mib * units_per_mib) & 0x7f) | ((offset_mib * units_per_mib) & 0x3fffff) << 10;
}

void gpuiov_cntxt_decode(uint32_t raw, uint32_t *offset_mib, uint32_t *size_mib) {
        uint32_t units_per_mib = 1024 / GPUIOV_CNTXT_UNIT_KIB;
        *size_mib = (raw & 0x7f) / units_per_mib;
        *offset_mib = (raw >> 10) / units_per_mib;
}

static const struct gpuiov_regs tonga = {
        .cmd_control = TONGA_CMD_CONTROL, .cmd_status = TONGA_CMD_STATUS,
        .cntxt = TONGA_CNTXT, .fb_available = TONGA_TOTAL_FB_AVAILABLE,
        .fb_consumed = TONGA_TOTAL_FB_CONSUMED, .vf_fb0 = TONGA_VF_FB(0),
        .fb_total_unit_mib = TONGA_FB_TOTAL_UNIT_MIB,
        .max_vfs = TONGA_MAX_VFS, .cap_len = TONGA_CAP_LEN,
};
static const struct gpuiov_regs mi300 = {
        .cmd_control = 0, .cmd_status = 0,
        .cntxt = MI300_CNTXT, .fb_available = MI300_TOTAL_FB_AVAILABLE,
        .fb_consumed = MI300_TOTAL_FB_CONSUMED, .vf_fb0 = MI300_VF_FB(0),
        .fb_total_unit_mib = MI300_FB_TOTAL_UNIT_MIB,
        .max_vfs = MI300_MAX_VFS, .cap_len = MI300_CAP_LEN,
};

const struct gpuiov_regs *gpuiov_regs(enum gpuiov_layout l) {
        switch (l) {
        case GPUIOV_TONGA: return &tonga;
        case GPUIOV_MI300: return &mi300;
        default: return NULL;
        }
}

static const char *const layout_names[] = {
        [GPUIOV_NONE] = "none", [GPUIOV_TONGA] = "tonga", [GPUIOV_MI300] = "mi300",
};

const char *gpuiov_layout_name(enum gpuiov_layout l) {
        return (unsigned)l < ARRAY_SIZE(layout_names) ? layout_names[l] : "unknown";
}

int gpuiov_layout_from_name(const char *s) {
        for (size_t i = 0; i < ARRAY_SIZE(layout_names); i++)
                if (streq(s, layout_names[i]))
                        return (int)i;
        if (streq(s, "navi32"))
                return GPUIOV_MI300;
        return -EINVAL;
}

const char *gpuiov_cmd_name(unsigned cmd) {
        static const char *const names[] = {
                [0x1] = "IDLE_GPU", [0x2] = "SAVE_GPU_STATE", [0x3] = "LOAD_GPU_STATE",
                [0x4] = "RUN_GPU", [0x5] = "CONTEXT_SWITCH", [0x6] = "ENABLE_AUTO_HW_SWITCH",
                [0x7] = "INIT_GPU", [0x8] = "SAVE_RLCV_STATE", [0x9] = "LOAD_RLCV_STATE",
                [0xa] = "CLEAR_VF_STATE", [0xb] = "DISABLE_AUTO_HW_SCHED",
                [0xc] = "DISABLE_AUTO_HW_SCHED_AND_SWITCH", [0xd] = "SHUTDOWN_GPU",
                [0xf] = "CONFIG_AUTO_HW_SCHED_MODE",
        };
        return cmd < ARRAY_SIZE(names) && names[cmd] ? names[cmd] : "UNKNOWN";
}

const char *gpuiov_sched_mode_name(unsigned mode) {
        static const char *const names[] = {
                [GPUIOV_SCHED_SOLID] = "solid", [GPUIOV_SCHED_LIQUID] = "liquid", [GPUIOV_SCHED_FAIRNESS] = "fairness",
                [GPUIOV_SCHED_ROUND_ROBIN] = "round_robin", [GPUIOV_SCHED_HYBRID] = "hybrid",
        };
        return mode < ARRAY_SIZE(names) ? names[mode] : NULL;
}

int gpuiov_sched_mode_from_name(const char *s) {
        for (unsigned m = GPUIOV_SCHED_SOLID; m <= GPUIOV_SCHED_HYBRID; m++)
                if (strcasecmp(s, gpuiov_sched_mode_name(m)) == 0)
                        return (int)m;
        if (strcasecmp(s, "round-robin") == 0)
                return GPUIOV_SCHED_ROUND_ROBIN;
        return -EINVAL;
}

bool gpuiov_cmd_supported(enum gpuiov_layout l, unsigned cmd) {
        bool base = cmd >= GPUIOV_CMD_IDLE_GPU && cmd <= GPUIOV_CMD_LOAD_RLCV_STATE;
        bool gim8 = (cmd >= GPUIOV_CMD_CLEAR_VF_STATE && cmd <= GPUIOV_CMD_SHUTDOWN_GPU) ||
                    cmd == GPUIOV_CMD_CONFIG_AUTO_HW_SCHED_MODE;
        switch (l) {
        case GPUIOV_TONGA: return base;
        case GPUIOV_MI300: return base || gim8;
        default: return false;
        }
}

const char *gpuiov_status_name(unsigned status) {
        switch (status) {
        case GPUIOV_STATUS_OK: return "ok";
        case GPUIOV_STATUS_INVALID: return "invalid command or function";
        case GPUIOV_STATUS_GFX_HANG: return "graphics engine hang";
        case GPUIOV_STATUS_SDMA_HANG: return "SDMA engine hang";
        default: return "unknown status";
        }
}
