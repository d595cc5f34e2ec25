/* SPDX-License-Identifier: MIT */
/* Test helper (header-only): a regio window on a 4096-byte config space whose GPU-IOV capability is the
 * simulated card of src/sim/card.h, with hooks to fail or drop accesses. */
#pragma once

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mxgpu/regio.h"
#include "../../src/sim/card.h"

#define REGIO_SIM_SRIOV_CAP 0x100
#define REGIO_SIM_CAP       0x200   /* where the GPU-IOV capability sits */

struct regio_sim {
        uint8_t config[REGIO_CONFIG_SIZE];
        struct sim_card *card;
        int fail_errno;             /* when set, every access fails with it */
        int drop_write_off;         /* a write starting at this config offset is dropped (-1: none) */
        unsigned reads, writes;
};

static inline uint64_t regio_sim_now(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int regio_sim_read(void *ctx, unsigned off, void *buf, size_t len) {
        struct regio_sim *s = ctx;
        if (s->fail_errno)
                return s->fail_errno;
        s->reads++;
        sim_card_tick(s->card, s->config, regio_sim_now());
        memcpy(buf, s->config + off, len);
        return 0;
}

static int regio_sim_write(void *ctx, unsigned off, const void *buf, size_t len) {
        struct regio_sim *s = ctx;
        if (s->fail_errno)
                return s->fail_errno;
        s->writes++;
        if ((int)off == s->drop_write_off)
                return 0;
        memcpy(s->config + off, buf, len);
        sim_card_config_written(s->card, s->config, off, (unsigned)len, regio_sim_now());
        return 0;
}

static void regio_sim_close(void *ctx) {
        struct regio_sim *s = ctx;
        sim_card_free(s->card);
        free(s);
}

static const struct regio_ops regio_sim_ops = {
        .read = regio_sim_read, .write = regio_sim_write, .close = regio_sim_close,
};

/* A config space with an SR-IOV capability at 0x100 whose next pointer leads to the card at 0x200.
 * Returns the window (closed with regio_close(), which frees the card) and the state in *ret_sim. */
__attribute__((unused)) static struct regio regio_sim_new(enum gpuiov_layout layout, uint32_t fb_mib,
                                                          unsigned total_vfs, uint64_t latency_ns,
                                                          struct regio_sim **ret_sim) {
        struct regio_sim *s = calloc(1, sizeof(*s));
        if (!s)
                abort();
        s->drop_write_off = -1;
        uint32_t sriov = 0x0010 | 1u << 16 | (uint32_t)REGIO_SIM_CAP << 20;
        memcpy(s->config + REGIO_SIM_SRIOV_CAP, &sriov, 4); /* x86: little-endian like config space */
        struct sim_card_spec spec = {
                .layout = layout, .cap_offset = REGIO_SIM_CAP, .fb_mib = fb_mib,
                .total_vfs = total_vfs, .cmd_latency_ns = latency_ns,
        };
        s->card = sim_card_new(&spec, s->config);
        if (!s->card)
                abort();
        *ret_sim = s;
        return (struct regio){ .ops = &regio_sim_ops, .ctx = s };
}
