// SPDX-License-Identifier: MIT
// The table of supported cards, from hardware.md section 1.
#include <strings.h>

#include "mxgpu/cards.h"
#include "mxgpu/macro.h"

static const struct mx_card cards[] = {
        { "s7150",  "AMD FirePro S7150 / S7150x2", 0x6929, 0x692f, 8192,   16, 0, GPUIOV_TONGA, 256, 16, 4096, false },
        { "mi25",   "AMD Instinct MI25",           0x6860, 0x686c, 16384,  16, 0, GPUIOV_TONGA, 256, 16, 4096, true },
        { "v340",   "AMD Radeon Pro V340",         0x6864, 0x686c, 16384,  16, 0, GPUIOV_TONGA, 256, 16, 4096, true },
        { "v620",   "AMD Radeon Pro V620",         0x73a1, 0x73ae, 32768,  16, 0, GPUIOV_MI300, 256, 256, 1024, true },
        { "v710",   "AMD Radeon PRO V710",         0x7460, 0x7461, 28672,  12, 0, GPUIOV_MI300, 256, 256, 1024, false },
        { "mi300x", "AMD Instinct MI300X",         0x74a1, 0x74b5, 196608, 8,  (1u << 1) | (1u << 8), GPUIOV_MI300, 256, 256, 1024, false },
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
