/* SPDX-License-Identifier: MIT */
/* Test helpers shared by the config tests: a throwaway config dir, PF facts of known cards, diag checks. */
#pragma once

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mxgpu/config.h"
#include "mxgpu/diags.h"
#include "mxgpu/plan.h"

struct tmpconf {
        char dir[64], main[128], dropin[128];
};

static inline void tc_init(struct tmpconf *t) {
        snprintf(t->dir, sizeof(t->dir), "/tmp/mxgpu-conftest-XXXXXX");
        assert_non_null(mkdtemp(t->dir));
        snprintf(t->main, sizeof(t->main), "%s/mxgpu.conf", t->dir);
        snprintf(t->dropin, sizeof(t->dropin), "%s/mxgpu.conf.d", t->dir);
        assert_int_equal(mkdir(t->dropin, 0755), 0);
}

/* name NULL: the main file; else a drop-in. Returns the path in a static buffer. */
static inline const char *tc_write(struct tmpconf *t, const char *name, const char *text) {
        static char path[256];
        if (name)
                snprintf(path, sizeof(path), "%s/%s", t->dropin, name);
        else
                snprintf(path, sizeof(path), "%s", t->main);
        FILE *f = fopen(path, "we");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
        return path;
}

static inline int tc_rm(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
        (void)st; (void)flag; (void)ftw;
        return remove(p);
}

static inline void tc_cleanup(struct tmpconf *t) {
        nftw(t->dir, tc_rm, 8, FTW_DEPTH | FTW_PHYS);
}

/* Exactly one diagnostic line contains every one of the parts (NULL-terminated). Prints all on failure. */
static inline void expect_diag_(const struct mx_diags *d, const char *const *parts, const char *where, int line) {
        for (size_t i = 0; i < d->n; i++) {
                char *s = mx_diag_format(&d->items[i]);
                bool all = s != NULL;
                for (const char *const *p = parts; all && *p; p++)
                        all = strstr(s, *p) != NULL;
                free(s);
                if (all)
                        return;
        }
        fprintf(stderr, "%s:%d: no diagnostic contains all of:", where, line);
        for (const char *const *p = parts; *p; p++)
                fprintf(stderr, " [%s]", *p);
        fprintf(stderr, "\nhave:\n");
        mx_diags_print(d, stderr);
        fail();
}
#define expect_diag(d, ...) expect_diag_((d), (const char *const[]){ __VA_ARGS__, NULL }, __FILE__, __LINE__)

static inline struct pf_facts facts_s7150(void) {
        struct pf_facts f = { .vendor = 0x1002, .device = 0x6929, .card = mx_card_by_model("s7150"), .total_vfs = 16,
                              .fb_available_mib = 8192, .pf_bar0_mib = 256, .layout = GPUIOV_TONGA, .driver = "pci-pf-stub" };
        pci_addr_parse("0000:03:00.0", &f.addr);
        return f;
}

static inline struct pf_facts facts_mi300x(void) {
        struct pf_facts f = { .vendor = 0x1002, .device = 0x74a1, .card = mx_card_by_model("mi300x"), .total_vfs = 8,
                              .fb_available_mib = 196608, .pf_bar0_mib = 0, .layout = GPUIOV_MI300 };
        pci_addr_parse("0000:c1:00.0", &f.addr);
        return f;
}

static inline struct pf_facts facts_v710(void) {
        struct pf_facts f = { .vendor = 0x1002, .device = 0x7460, .card = mx_card_by_model("v710"), .total_vfs = 12,
                              .fb_available_mib = 28672, .pf_bar0_mib = 0, .layout = GPUIOV_MI300 };
        pci_addr_parse("0000:41:00.0", &f.addr);
        return f;
}

static inline struct pf_facts facts_nvme(void) {
        struct pf_facts f = { .vendor = 0x1b36, .device = 0x0010, .card = NULL, .total_vfs = 32, .driver = "nvme" };
        pci_addr_parse("0000:01:00.0", &f.addr);
        return f;
}
