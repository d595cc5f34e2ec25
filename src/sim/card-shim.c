// SPDX-License-Identifier: MIT
// Temporary stand-in for the card model (branch `card`): fills the VSEC header only. Deleted when card.c lands.
#include <stdlib.h>
#include <string.h>

#include "card.h"

struct sim_card {
        struct sim_card_spec spec;
};

struct sim_card *sim_card_new(const struct sim_card_spec *spec, uint8_t config[4096]) {
        struct sim_card *c = calloc(1, sizeof(*c));
        if (!c)
                return NULL;
        c->spec = *spec;
        unsigned len = gpuiov_regs(spec->layout)->cap_len;
        uint32_t hdr = 0x000b | 1u << 16, vsec = GPUIOV_VSEC_ID | 1u << 16 | (uint32_t)len << 20;
        memcpy(config + spec->cap_offset, &hdr, 4);
        memcpy(config + spec->cap_offset + 4, &vsec, 4);
        return c;
}
void sim_card_free(struct sim_card *c) { free(c); }
unsigned sim_card_cap_len(const struct sim_card *c) { return gpuiov_regs(c->spec.layout)->cap_len; }
void sim_card_config_written(struct sim_card *c, uint8_t config[4096], unsigned off, unsigned len, uint64_t now_ns) {}
void sim_card_tick(struct sim_card *c, uint8_t config[4096], uint64_t now_ns) {}
void sim_card_set_numvfs(struct sim_card *c, unsigned n) {}
void sim_card_vf_used(struct sim_card *c, unsigned vf) {}
int sim_card_set_load(struct sim_card *c, unsigned vf, bool busy) { return 0; }
void sim_card_set_cmd_latency(struct sim_card *c, uint64_t ns) {}
void sim_card_fault(struct sim_card *c, enum sim_card_fault f, unsigned count) {}
struct json_object *sim_card_status(struct sim_card *c, const uint8_t config[4096]) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "layout", json_object_new_string(gpuiov_layout_name(c->spec.layout)));
        json_object_object_add(o, "stub", json_object_new_boolean(1));
        return o;
}
