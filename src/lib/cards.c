// SPDX-License-Identifier: MIT
// The table of supported cards, from hardware.md section 1.
#include <stdio.h>
#include <strings.h>

#include "mxgpu/cards.h"
#include "mxgpu/macro.h"

/* Scheduling policies (hardware.md 5): MI300 runs only GIM8's software policies 3 and 4, V710 1-4. The
 * Tonga layout has no command to choose one (CONFIG_AUTO_HW_SCHED_MODE is GIM8's), so its scheduler block
 * runs the one policy it has without that command: solid (an inference, docs/gpuiov.md). V620 is taken
 * to be like its Navi sibling V710 (an inference: the card is experimental). MI300X defaults to
 * round_robin: with per-VF slices it gives each busy VF the share s_i / sum(s) that the slices promise
 * (hardware.md 5), where fairness redistributes time by use. */
#define TONGA_SCHED  GPUIOV_SCHED_BIT(GPUIOV_SCHED_SOLID)
#define GIM8_HW_SW   (GPUIOV_SCHED_BIT(GPUIOV_SCHED_SOLID) | GPUIOV_SCHED_BIT(GPUIOV_SCHED_LIQUID) | \
                      GPUIOV_SCHED_BIT(GPUIOV_SCHED_FAIRNESS) | GPUIOV_SCHED_BIT(GPUIOV_SCHED_ROUND_ROBIN))
#define MI300_SCHED  (GPUIOV_SCHED_BIT(GPUIOV_SCHED_FAIRNESS) | GPUIOV_SCHED_BIT(GPUIOV_SCHED_ROUND_ROBIN))

static const struct mx_card cards[] = {
        { "s7150",  "AMD FirePro S7150 / S7150x2", 0x6929, 0x692f, 8192,   16, 0, GPUIOV_TONGA, 256, 16, 4096, false,
          TONGA_SCHED, GPUIOV_SCHED_SOLID },
        { "mi25",   "AMD Instinct MI25",           0x6860, 0x686c, 16384,  16, 0, GPUIOV_TONGA, 256, 16, 4096, true,
          TONGA_SCHED, GPUIOV_SCHED_SOLID },
        { "v340",   "AMD Radeon Pro V340",         0x6864, 0x686c, 16384,  16, 0, GPUIOV_TONGA, 256, 16, 4096, true,
          TONGA_SCHED, GPUIOV_SCHED_SOLID },
        { "v620",   "AMD Radeon Pro V620",         0x73a1, 0x73ae, 32768,  16, 0, GPUIOV_MI300, 256, 256, 1024, true,
          GIM8_HW_SW, GPUIOV_SCHED_SOLID },
        { "v710",   "AMD Radeon PRO V710",         0x7460, 0x7461, 28672,  12, 0, GPUIOV_MI300, 256, 256, 1024, false,
          GIM8_HW_SW, GPUIOV_SCHED_SOLID },
        { "mi300x", "AMD Instinct MI300X",         0x74a1, 0x74b5, 196608, 8,  (1u << 1) | (1u << 8), GPUIOV_MI300, 256, 256, 1024, false,
          MI300_SCHED, GPUIOV_SCHED_ROUND_ROBIN },
};

const struct mx_card *mx_card_by_pf_id(uint16_t vendor, uint16_t device) {
        if (vendor != AMD_VENDOR_ID)
                return NULL;
        for (size_t i = 0; i < ARRAY_SIZE(cards); i++)
                if (cards[i].pf_id == device)
                        return &cards[i];
        return NULL;
}

const struct mx_card *mx_card_by_model(const char *s) {
        for (size_t i = 0; i < ARRAY_SIZE(cards); i++)
                if (strcasecmp(cards[i].model, s) == 0)
                        return &cards[i];
        if (strcasecmp(s, "s7150x2") == 0) /* same PF, two per board */
                return &cards[0];
        return NULL;
}

const struct mx_card *mx_card_nth(unsigned i) {
        return i < ARRAY_SIZE(cards) ? &cards[i] : NULL;
}

bool mx_card_vf_count_allowed(const struct mx_card *c, unsigned n) {
        if (n == 0)
                return true;
        if (n > c->max_vfs)
                return false;
        return c->vf_counts == 0 || (n < 32 && (c->vf_counts & (1u << n)));
}

bool mx_card_sched_allowed(const struct mx_card *c, unsigned mode) {
        return mode < 8 && (c->sched_modes & GPUIOV_SCHED_BIT(mode));
}

const char *mx_card_sched_list(const struct mx_card *c, char *buf, size_t size) {
        unsigned n = 0, total = 0;
        for (unsigned m = 0; m < 8; m++)
                total += mx_card_sched_allowed(c, m);
        size_t o = 0;
        buf[0] = 0;
        for (unsigned m = 0; m < 8 && o < size; m++)
                if (mx_card_sched_allowed(c, m)) {
                        n++;
                        o += (size_t)snprintf(buf + o, size - o, "%s%s", n == 1 ? "" : n == total ? " or " : ", ",
                                              gpuiov_sched_mode_name(m));
                }
        return buf;
}
