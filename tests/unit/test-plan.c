// SPDX-License-Identifier: MIT
// Unit tests for mx_config_resolve: precedence, framebuffer layouts of real cards, quanta, generic devices, card-level errors.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "conftest.h"

struct fixture {
        struct tmpconf t;
        struct mx_config *cfg;
        struct mx_diags d;
};

/* Load a main file (and optionally one drop-in) that must be valid. */
static void fx_load(struct fixture *fx, const char *main_text, const char *dropin_text) {
        *fx = (struct fixture){};
        tc_init(&fx->t);
        tc_write(&fx->t, NULL, main_text);
        if (dropin_text)
                tc_write(&fx->t, "50-test.conf", dropin_text);
        int r = mx_config_load(fx->t.main, fx->t.dropin, &fx->cfg, &fx->d);
        if (r < 0)
                mx_diags_print(&fx->d, stderr);
        assert_int_equal(r, 0);
}

static void fx_done(struct fixture *fx) {
        mx_config_free(fx->cfg);
        mx_diags_clear(&fx->d);
        tc_cleanup(&fx->t);
}

static void resolve_ok(struct fixture *fx, const struct pf_facts *f, struct pf_desired *p) {
        int r = mx_config_resolve(fx->cfg, f, p, &fx->d);
        if (r < 0)
                mx_diags_print(&fx->d, stderr);
        assert_int_equal(r, 0);
}

static void resolve_bad(struct fixture *fx, const struct pf_facts *f) {
        struct pf_desired p = { .num_vfs = 77 };
        assert_int_equal(mx_config_resolve(fx->cfg, f, &p, &fx->d), -EINVAL);
        assert_int_equal(p.num_vfs, 77); /* untouched */
        assert_true(fx->d.n_errors > 0);
}

static char at_buf[256];
#define AT(fx, line) (snprintf(at_buf, sizeof(at_buf), "%s:%d: ", (fx)->t.main, line), at_buf)

static void s7150_default_layout(void **state) {
        struct fixture fx;
        fx_load(&fx, "[gpu *]\nvfs = 16\nvf_memory = auto\n", NULL);
        struct pf_facts f = facts_s7150();
        struct pf_desired p;
        resolve_ok(&fx, &f, &p);
        assert_true(p.managed);
        assert_false(p.generic);
        assert_int_equal(p.num_vfs, 16);
        assert_int_equal(p.pf_reserve_mib, 256);
        assert_int_equal(p.context_offset_mib, 256);
        assert_int_equal(p.context_size_mib, 8);
        assert_int_equal(p.vf_base_mib, 272);
        assert_int_equal(p.fb_consumed_mib, 8192 - 256);
        for (unsigned n = 0; n < 16; n++) {
                assert_int_equal(p.vf[n].fb_size_mib, 480);
                assert_int_equal(p.vf[n].fb_offset_mib, 272 + 480 * n);
                assert_int_equal(p.vf[n].quantum_ms, 6);
                assert_int_equal(p.vf[n].quanta_index, 0);
        }
        assert_int_equal(p.n_quanta, 1);
        assert_int_equal(p.quanta_option_word, 0x06060606);
        assert_int_equal(p.quanta_per_vf_word, 0);
        assert_int_equal(p.scheduler, GPUIOV_SCHED_SOLID);
        assert_int_equal(p.pf_driver, MX_PF_DRIVER_PCI_PF_STUB);
        assert_true(p.vfio);
        assert_true(p.fb_clear);
        assert_false(p.take_over_host_driver);
        assert_string_equal(p.pool, "default");
        fx_done(&fx);
}

static void s7150_mixed_sizes_and_slices(void **state) {
        struct fixture fx;
        fx_load(&fx, "[gpu *]\nvfs = 4\ntime_slice = 6ms\n[vf 0000:03:00.0 2]\nvf_memory = 4G\ntime_slice = 12ms\n"
                     "[vf 0000:03:00.0 3]\ntime_slice = 3ms\n", NULL);
        struct pf_facts f = facts_s7150();
        struct pf_desired p;
        resolve_ok(&fx, &f, &p);
        /* 8192 - 272 = 7920; minus 4096 = 3824 over 3 auto VFs = 1274 -> 1264 */
        uint32_t want_size[] = { 1264, 1264, 4096, 1264 };
        uint32_t off = 272;
        for (unsigned n = 0; n < 4; n++) {
                assert_int_equal(p.vf[n].fb_offset_mib, off);
                assert_int_equal(p.vf[n].fb_size_mib, want_size[n]);
                off += want_size[n];
        }
        assert_true(off <= 8192);
        /* options ascending: 3, 6, 12, (12) */
        assert_int_equal(p.n_quanta, 3);
        assert_int_equal(p.quanta_options[0], 3);
        assert_int_equal(p.quanta_options[1], 6);
        assert_int_equal(p.quanta_options[2], 12);
        assert_int_equal(p.quanta_options[3], 12);
        assert_int_equal(p.quanta_option_word, 3 | 6 << 8 | 12 << 16 | 12u << 24);
        assert_int_equal(p.vf[0].quanta_index, 1);
        assert_int_equal(p.vf[2].quanta_index, 2);
        assert_int_equal(p.vf[3].quanta_index, 0);
        assert_int_equal(p.quanta_per_vf_word, 1 | 1 << 2 | 2 << 4 | 0 << 6);
        fx_done(&fx);
}

static void mi300x_and_v710(void **state) {
        struct fixture fx;
        fx_load(&fx, "[gpu *]\n", NULL);
        struct pf_facts f = facts_mi300x();
        struct pf_desired p;
        resolve_ok(&fx, &f, &p);
        assert_int_equal(p.num_vfs, 8); /* default: the largest allowed count */
        assert_int_equal(p.pf_reserve_mib, 256);
        assert_int_equal(p.vf_base_mib, 272);
        /* (196608 - 272) / 8 = 24542 -> 24528 */
        for (unsigned n = 0; n < 8; n++) {
                assert_int_equal(p.vf[n].fb_size_mib, 24528);
                assert_int_equal(p.vf[n].fb_offset_mib, 272 + 24528 * n);
        }
        /* MI300 runs only the software policies: round_robin unless the config says fairness */
        assert_int_equal(p.scheduler, GPUIOV_SCHED_ROUND_ROBIN);
        struct pf_facts v = facts_v710();
        resolve_ok(&fx, &v, &p);
        assert_int_equal(p.scheduler, GPUIOV_SCHED_SOLID);
        assert_int_equal(p.num_vfs, 12);
        /* (28672 - 272) / 12 = 2366 -> 2352 */
        assert_int_equal(p.vf[11].fb_size_mib, 2352);
        assert_int_equal(p.vf[11].fb_offset_mib, 272 + 2352 * 11);
        fx_done(&fx);
        /* V710 runs all four */
        static const char *const names[] = { "solid", "liquid", "fairness", "round-robin" };
        for (unsigned i = 0; i < ARRAY_SIZE(names); i++) {
                char conf[64];
                snprintf(conf, sizeof(conf), "[gpu *]\nscheduler = %s\n", names[i]);
                fx_load(&fx, conf, NULL);
                resolve_ok(&fx, &v, &p);
                assert_int_equal(p.scheduler, GPUIOV_SCHED_SOLID + i);
                if (i >= 2) {
                        resolve_ok(&fx, &f, &p);
                        assert_int_equal(p.scheduler, GPUIOV_SCHED_SOLID + i);
                }
                fx_done(&fx);
        }
}

static void precedence(void **state) {
        struct fixture fx;
        /* the address section comes first in the file and still wins over the model and * */
        fx_load(&fx,
                "[gpu 0000:03:00.0]\nvfs = 2\n"
                "[gpu s7150]\nvfs = 4\npool = model\nscheduler = solid\n"
                "[gpu *]\nvfs = 8\npool = all\nfb_clear = no\ntime_slice = 5ms\nscheduler = fairness\n"
                "[vf 0000:03:00.0 1]\ntime_slice = 7ms\n",
                /* a drop-in overrides * key by key; still below model and address */
                "[gpu *]\npool = dropin\nvfio = no\n[gpu 0000:03:00.0]\ntake_over_host_driver = yes\n");
        struct pf_facts f = facts_s7150();
        struct pf_desired p;
        resolve_ok(&fx, &f, &p);
        assert_int_equal(p.num_vfs, 2);              /* address */
        assert_string_equal(p.pool, "model");         /* model over * (even over the drop-in's *) */
        assert_int_equal(p.scheduler, GPUIOV_SCHED_SOLID); /* model over *, whose fairness S7150 does not run */
        assert_false(p.fb_clear);                    /* * */
        assert_false(p.vfio);                        /* drop-in * */
        assert_true(p.take_over_host_driver);        /* drop-in address */
        assert_int_equal(p.vf[0].quantum_ms, 5);     /* * */
        assert_int_equal(p.vf[1].quantum_ms, 7);     /* vf */

        /* another S7150: model and *, not the address */
        struct pf_facts g = facts_s7150();
        pci_addr_parse("0000:04:00.0", &g.addr);
        resolve_ok(&fx, &g, &p);
        assert_int_equal(p.num_vfs, 4);
        assert_false(p.take_over_host_driver);
        assert_int_equal(p.vf[1].quantum_ms, 5);
        /* an MI300X: only * (vfs = 8 is allowed there) */
        struct pf_facts m = facts_mi300x();
        resolve_ok(&fx, &m, &p);
        assert_int_equal(p.num_vfs, 8);
        assert_string_equal(p.pool, "dropin");
        assert_int_equal(p.scheduler, GPUIOV_SCHED_FAIRNESS);
        fx_done(&fx);
}

static void not_managed(void **state) {
        struct fixture fx;
        fx_load(&fx, "[gpu mi300x]\nvfs = 8\n[gpu 0000:41:00.0]\nenabled = no\n", NULL);
        struct pf_desired p = { .managed = true };
        struct pf_facts f = facts_s7150();
        resolve_ok(&fx, &f, &p);
        assert_false(p.managed);                     /* no section matches */
        struct pf_facts v = facts_v710();
        p.managed = true;
        resolve_ok(&fx, &v, &p);
        assert_false(p.managed);                     /* enabled = no */
        struct pf_facts n = facts_nvme();
        p.managed = true;
        resolve_ok(&fx, &n, &p);
        assert_false(p.managed);                     /* generic devices need a [device] section */
        fx_done(&fx);
}

static void generic_device(void **state) {
        struct fixture fx;
        fx_load(&fx, "[gpu *]\n[device 0000:01:00.0]\nvfs = 4\npf_driver = keep\npool = nvme\n", NULL);
        struct pf_facts n = facts_nvme();
        struct pf_desired p;
        resolve_ok(&fx, &n, &p);
        assert_true(p.managed);
        assert_true(p.generic);
        assert_int_equal(p.num_vfs, 4);
        assert_int_equal(p.pf_driver, MX_PF_DRIVER_KEEP);
        assert_true(p.vfio);
        assert_string_equal(p.pool, "nvme");
        assert_int_equal(p.vf[0].fb_size_mib, 0);    /* no memory partition */
        fx_done(&fx);

        /* a device with more VFs than the daemon manages: up to 256 (PF_MAX_VFS), not more */
        n.total_vfs = 300;
        fx_load(&fx, "[device 0000:01:00.0]\nvfs = 256\n", NULL);
        resolve_ok(&fx, &n, &p);
        assert_int_equal(p.num_vfs, 256);
        fx_done(&fx);
        fx_load(&fx, "[device 0000:01:00.0]\nvfs = 257\n", NULL);
        resolve_bad(&fx, &n);
        expect_diag(&fx.d, AT(&fx, 2), "vfs = 257: ", "at most 256 VFs of one PF", "this one has 300", "use 0 to 256");
        fx_done(&fx);
        n.total_vfs = 32;
        fx_load(&fx, "[device 0000:01:00.0]\nvfs = 33\n", NULL);
        resolve_bad(&fx, &n);
        expect_diag(&fx.d, AT(&fx, 2), "vfs = 33: ", "at most 32 VFs (TotalVFs)", "use 0 to 32");
        fx_done(&fx);
}

static void card_level_errors(void **state) {
        struct fixture fx;
        struct pf_facts s = facts_s7150(), m = facts_mi300x(), n = facts_nvme();

        fx_load(&fx, "[gpu *]\nvfs = 16\nvf_memory = 1G\n", NULL);
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 3), "vf_memory = 1G: ", "16 VFs need at least 16 GiB", "7920 MiB", "PF reserve 256 MiB");
        fx_done(&fx);

        fx_load(&fx, "[gpu *]\nvfs = 4\n[vf 0000:03:00.0 1]\nvf_memory = 6G\n[vf 0000:03:00.0 2]\nvf_memory = 2G\n", NULL);
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 6), "vf_memory = 2G: ", "4 VFs need at least", "use smaller sizes or fewer VFs");
        fx_done(&fx);

        fx_load(&fx, "[gpu *]\nvfs = 17\n", NULL);
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 2), "vfs = 17: ", "at most 16 VFs", "use 0 to 16");
        fx_done(&fx);

        fx_load(&fx, "[gpu mi300x]\nvfs = 4\n", NULL);
        resolve_bad(&fx, &m);
        expect_diag(&fx.d, AT(&fx, 2), "vfs = 4: ", "allows only 1 or 8 (or 0) VFs");
        fx_done(&fx);

        /* a policy the card does not run: named with the card and what it runs (hardware.md 5) */
        fx_load(&fx, "[gpu *]\nvfs = 8\nscheduler = solid\n", NULL);
        resolve_bad(&fx, &m);
        expect_diag(&fx.d, AT(&fx, 3), "scheduler = solid: ", "AMD Instinct MI300X (0000:c1:00.0) does not run the solid "
                    "scheduler: use fairness or round_robin");
        fx_done(&fx);
        fx_load(&fx, "[gpu *]\nscheduler = liquid\n", NULL);
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 2), "scheduler = liquid: ", "S7150x2 (0000:03:00.0) does not run the liquid scheduler: "
                    "use solid (the Tonga layout has no command to choose a policy", "without it the block runs solid");
        fx_done(&fx);

        fx_load(&fx, "[gpu *]\nvfs = 6\ntime_slice = 1ms\n[vf 0000:03:00.0 1]\ntime_slice = 2ms\n[vf 0000:03:00.0 2]\n"
                     "time_slice = 3ms\n[vf 0000:03:00.0 3]\ntime_slice = 4ms\n[vf 0000:03:00.0 4]\ntime_slice = 5ms\n", NULL);
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 11), "time_slice = 5ms: ", "fifth distinct", "at most 4",
                    "the VFs use 1, 2, 3, 4 and 5 ms", "1ms from", ":3 for VF 0, 5; 2ms from", "5ms from");
        fx_done(&fx);

        fx_load(&fx, "[gpu *]\nvfs = 4\n[vf 0000:03:00.0 4]\nvf_memory = 1G\n", NULL);
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 3), "[vf 0000:03:00.0 4]: VF 4 does not exist", "(vfs = 4 from", ":2)", "0 to 3");
        fx_done(&fx);

        fx_load(&fx, "[gpu *]\npf_reserve = 8G\n", NULL);
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 2), "pf_reserve = 8G: ", "use 256 MiB to 4 GiB");
        fx_done(&fx);

        fx_load(&fx, "[gpu *]\npf_reserve = 128M\n", NULL); /* below the S7150's BAR0 */
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 2), "pf_reserve = 128M: ", "use 256 MiB to 4 GiB");
        resolve_bad(&fx, &m);
        expect_diag(&fx.d, AT(&fx, 2), "pf_reserve = 128M: ", "use 256 MiB to 1 GiB");
        fx_done(&fx);

        fx_load(&fx, "[device 0000:03:00.0]\nvfs = 2\n", NULL);
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 1), "is a supported GPU", "[gpu 0000:03:00.0]");
        fx_done(&fx);

        fx_load(&fx, "[device 0000:01:00.0]\npool = x\n", NULL);
        resolve_bad(&fx, &n);
        expect_diag(&fx.d, AT(&fx, 1), "needs vfs = N", "0 to 32");
        fx_done(&fx);

        fx_load(&fx, "[gpu *]\n[gpu 0000:01:00.0]\nvfs = 2\n", NULL);
        resolve_bad(&fx, &n);
        expect_diag(&fx.d, AT(&fx, 2), "is not a supported MxGPU", "[device 0000:01:00.0]");
        fx_done(&fx);

        fx_load(&fx, "[device 0000:01:00.0]\nvfs = 33\n", NULL);
        resolve_bad(&fx, &n);
        expect_diag(&fx.d, AT(&fx, 2), "vfs = 33: ", "at most 32 VFs");
        fx_done(&fx);
}

/* Every setting that took part in a problem is named with its file:line, or as a default. */
static void errors_name_every_setting(void **state) {
        struct fixture fx;
        struct pf_facts s = facts_s7150(), m = facts_mi300x();
        char want[512];

        /* the PF reserve leaves too little for the default count: blamed on pf_reserve's line */
        fx_load(&fx, "[gpu 0000:03:00.0]\npf_reserve = 4G\n", NULL);
        resolve_bad(&fx, &s);
        snprintf(want, sizeof(want), "pf_reserve = 4G from %s:2", fx.t.main);
        expect_diag(&fx.d, AT(&fx, 2), "pf_reserve = 4G: 16 VFs need at least 4 GiB", want,
                    "vfs = 16 (default: the card's maximum)", "vf_memory = auto (default) for VF 0-15");
        fx_done(&fx);

        /* a fifth slice that is the default: the line that brought the fourth, and the default named */
        fx_load(&fx, "[gpu *]\nvfs = 8\n[vf 0000:03:00.0 0]\ntime_slice = 1ms\n[vf 0000:03:00.0 1]\ntime_slice = 2ms\n"
                     "[vf 0000:03:00.0 2]\ntime_slice = 3ms\n[vf 0000:03:00.0 3]\ntime_slice = 4ms\n", NULL);
        resolve_bad(&fx, &s);
        snprintf(want, sizeof(want), "1ms from %s:4 for VF 0;", fx.t.main);
        expect_diag(&fx.d, AT(&fx, 10), "time_slice = 4ms: VF 4 brings a fifth distinct time slice", want,
                    "6ms (default) for VF 4-7");
        fx_done(&fx);

        /* a live override is named as such, not as line 0 of a file */
        fx_load(&fx, "[gpu *]\nvfs = 4\n[vf 0000:03:00.0 3]\ntime_slice = 2ms\n", NULL);
        assert_int_equal(mx_config_set(fx.cfg, MX_SECTION_GPU_ADDR, &s.addr, 0, MX_KEY_VFS, "2", "mxgpuctl (live override)",
                                       &fx.d), 0);
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 3), "VF 3 does not exist", "has 2 VFs (vfs = 2 from mxgpuctl (live override))",
                    "from 0 to 1");
        assert_false(mx_diags_contains(&fx.d, "override):0"));
        fx_done(&fx);

        /* no VFs at all: no "from 0 to -1" (or to 4294967295). Not a bare "-1": the message names the
           file, /tmp/mxgpu-conftest-XXXXXX, which holds "-1" whenever mkdtemp picks a 1 first. */
        fx_load(&fx, "[gpu *]\nvfs = 0\n[vf 0000:03:00.0 0]\ntime_slice = 2ms\n", NULL);
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 3), "has no VFs (vfs = 0 from", "remove the section or raise vfs");
        assert_false(mx_diags_contains(&fx.d, "from 0 to"));
        fx_done(&fx);

        /* [gpu *] with a count the MI300X refuses: the fix is a section of its own */
        fx_load(&fx, "[gpu *]\nvfs = 4\n", NULL);
        resolve_bad(&fx, &m);
        expect_diag(&fx.d, AT(&fx, 2), "vfs = 4: ", "allows only 1 or 8 (or 0) VFs", "[gpu mi300x]", "vfs = 8");
        fx_done(&fx);
}

/* Problems that do not depend on each other are all reported. */
static void independent_problems_all_reported(void **state) {
        struct fixture fx;
        struct pf_facts s = facts_s7150();

        fx_load(&fx, "[gpu *]\nvfs = 17\npf_reserve = 5G\n", NULL);
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 2), "vfs = 17: ", "at most 16 VFs");
        expect_diag(&fx.d, AT(&fx, 3), "pf_reserve = 5G: ", "out of range");
        fx_done(&fx);

        /* 16 x 4G cannot fit with any reserve: both are wrong */
        fx_load(&fx, "[gpu *]\npf_reserve = 5G\nvf_memory = 4G\n", NULL);
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 2), "pf_reserve = 5G: ", "out of range");
        expect_diag(&fx.d, AT(&fx, 3), "vf_memory = 4G: ", "16 VFs need at least 64 GiB", "pf_reserve refused");
        fx_done(&fx);
        /* but a layout that fits with an allowed reserve is not blamed */
        fx_load(&fx, "[gpu *]\npf_reserve = 5G\nvfs = 2\nvf_memory = 2G\n", NULL);
        resolve_bad(&fx, &s);
        assert_int_equal(fx.d.n_errors, 1);
        fx_done(&fx);

        fx_load(&fx, "[gpu *]\nvfs = 4\n[vf 0000:03:00.0 9]\ntime_slice = 2ms\n[vf 0000:03:00.0 1]\nvf_memory = 8G\n", NULL);
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 3), "VF 9 does not exist");
        expect_diag(&fx.d, AT(&fx, 6), "vf_memory = 8G: ", "4 VFs need at least");
        fx_done(&fx);
}

/* A config with refused values is still checked against the card, without them. */
static void partial_config_checked(void **state) {
        struct tmpconf t;
        struct mx_diags d = {};
        struct mx_config *cfg = NULL, *partial = NULL;
        struct mx_config_load_opts o = { .ret_partial = &partial };
        struct pf_facts s = facts_s7150();
        struct pf_desired p;
        tc_init(&t);
        tc_write(&t, NULL, "[gpu *]\nvfs = 4\nscheduler = fast\nvf_memory = 4G\n");
        assert_int_equal(mx_config_load_opts(t.main, t.dropin, &o, &cfg, &d), -EINVAL);
        assert_null(cfg);
        assert_non_null(partial);
        assert_int_equal(mx_config_resolve(partial, &s, &p, &d), -EINVAL);
        assert_int_equal(d.n_errors, 2);
        expect_diag(&d, "mxgpu.conf:3: scheduler = fast: ");
        expect_diag(&d, "mxgpu.conf:4: vf_memory = 4G: ", "4 VFs need at least 16 GiB");
        mx_config_free(partial);
        partial = NULL;
        mx_diags_clear(&d);

        /* a refused count hides the older one and stops the checks that need it, silently */
        tc_write(&t, "50-x.conf", "[gpu *]\nvfs = x\n");
        assert_int_equal(mx_config_load_opts(t.main, t.dropin, &o, &cfg, &d), -EINVAL);
        assert_non_null(partial);
        size_t before = d.n_errors;
        assert_int_equal(mx_config_resolve(partial, &s, &p, &d), -EINVAL);
        assert_int_equal(d.n_errors, before);
        mx_config_free(partial);
        partial = NULL;
        mx_diags_clear(&d);

        /* a line that is not understood: no partial config, no guesses */
        tc_write(&t, "50-x.conf", "[gpu 0000:3:00.0]\nvfs = 2\n");
        assert_int_equal(mx_config_load_opts(t.main, t.dropin, &o, &cfg, &d), -EINVAL);
        assert_null(partial);
        mx_diags_clear(&d);
        tc_cleanup(&t);
}

static void winner_and_unmatched_sections(void **state) {
        struct fixture fx;
        struct pf_facts s = facts_s7150(), n = facts_nvme();
        fx_load(&fx, "[gpu *]\nvfs = 4\n[gpu 0000:03:00.0]\nvfs = 2\n[vf 0000:03:00.0 1]\ntime_slice = 2ms\n"
                     "[gpu 0000:99:00.0]\n[vf 0000:98:00.0 3]\ntime_slice = 2ms\n[vf 0000:03:02.0 0]\ntime_slice = 2ms\n"
                     "[gpu mi300x]\n[device 0000:01:00.0]\nvfs = 2\n[vf 0000:01:00.0 1]\ntime_slice = 2ms\n",
                "[gpu 0000:03:00.0]\nvfs = 8\n");
        const struct mx_setting *w = mx_config_winner(fx.cfg, s.card, &s.addr, -1, MX_KEY_VFS);
        assert_non_null(w);
        assert_int_equal(w->u, 8);
        assert_non_null(strstr(w->file, "50-test.conf"));
        w = mx_config_winner(fx.cfg, s.card, &s.addr, 1, MX_KEY_TIME_SLICE);
        assert_int_equal(w->line, 6);
        assert_null(mx_config_winner(fx.cfg, s.card, &s.addr, 2, MX_KEY_TIME_SLICE));
        assert_int_equal(mx_config_winner(fx.cfg, NULL, &n.addr, -1, MX_KEY_VFS)->u, 2);

        struct pf_desired ps, pn;
        resolve_ok(&fx, &s, &ps);
        resolve_ok(&fx, &n, &pn);
        struct mx_pf_seen seen[] = { { &s, &ps }, { &n, &pn } };
        mx_config_warn_unmatched(fx.cfg, seen, 2, NULL, &fx.d);
        expect_diag(&fx.d, AT(&fx, 7), "warning: [gpu 0000:99:00.0] matches no PF on this host");
        expect_diag(&fx.d, AT(&fx, 8), "warning: [vf 0000:98:00.0 3] matches no PF");
        expect_diag(&fx.d, AT(&fx, 10), "warning: [vf 0000:03:02.0 0] matches no PF");
        expect_diag(&fx.d, AT(&fx, 12), "warning: [gpu mi300x] matches no PF", "no mi300x card");
        expect_diag(&fx.d, AT(&fx, 15), "warning: [vf 0000:01:00.0 1]: ", "generic SR-IOV device");
        assert_int_equal(fx.d.n_errors, 0);
        assert_int_equal(fx.d.n, 5);

        /* [gpu *] on a host without a supported card: no warning (the packaged config has it) */
        mx_diags_clear(&fx.d);
        struct mx_pf_seen nvme_only[] = { { &n, &pn } };
        mx_config_warn_unmatched(fx.cfg, nvme_only, 1, NULL, &fx.d);
        for (size_t i = 0; i < fx.d.n; i++)
                assert_null(strstr(fx.d.items[i].message, "[gpu *]"));
        fx_done(&fx);

        /* a [vf] of an unmanaged PF, and nothing to say about [gpu *] when a card is there */
        fx_load(&fx, "[gpu *]\n[gpu 0000:03:00.0]\nenabled = no\n[vf 0000:03:00.0 20]\ntime_slice = 2ms\n", NULL);
        resolve_ok(&fx, &s, &ps);
        struct mx_pf_seen one[] = { { &s, &ps } };
        mx_config_warn_unmatched(fx.cfg, one, 1, NULL, &fx.d);
        expect_diag(&fx.d, AT(&fx, 4), "warning: [vf 0000:03:00.0 20]: the PF 0000:03:00.0 is not managed");
        assert_int_equal(fx.d.n, 1);
        fx_done(&fx);
}

static void pf_reserve_defaults(void **state) {
        struct pf_facts s = facts_s7150();
        assert_int_equal(mx_pf_reserve_default(&s), 256);
        s.pf_bar0_mib = 8192;  /* BAR0 covers all memory */
        assert_int_equal(mx_pf_reserve_default(&s), 16);
        s.pf_bar0_mib = 0;     /* unknown: the card's default */
        assert_int_equal(mx_pf_reserve_default(&s), 256);
        struct pf_facts m = facts_mi300x();
        uint32_t min, max;
        mx_pf_reserve_range(&m, &min, &max);
        assert_int_equal(min, 256);
        assert_int_equal(max, 1024);
        assert_int_equal(mx_pf_reserve_default(&m), 256);
}

static void explicit_pf_reserve_moves_the_base(void **state) {
        struct fixture fx;
        fx_load(&fx, "[gpu s7150]\nvfs = 2\npf_reserve = 512M\n", NULL);
        struct pf_facts s = facts_s7150();
        struct pf_desired p;
        resolve_ok(&fx, &s, &p);
        assert_int_equal(p.vf_base_mib, 528);
        assert_int_equal(p.vf[0].fb_offset_mib, 528);
        assert_int_equal(p.vf[0].fb_size_mib, ALIGN_DOWN((8192 - 528) / 2, 16));
        assert_int_equal(p.fb_consumed_mib, 8192 - 512);
        fx_done(&fx);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(s7150_default_layout),
                cmocka_unit_test(s7150_mixed_sizes_and_slices),
                cmocka_unit_test(mi300x_and_v710),
                cmocka_unit_test(precedence),
                cmocka_unit_test(not_managed),
                cmocka_unit_test(generic_device),
                cmocka_unit_test(card_level_errors),
                cmocka_unit_test(errors_name_every_setting),
                cmocka_unit_test(independent_problems_all_reported),
                cmocka_unit_test(partial_config_checked),
                cmocka_unit_test(winner_and_unmatched_sections),
                cmocka_unit_test(pf_reserve_defaults),
                cmocka_unit_test(explicit_pf_reserve_moves_the_base),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
