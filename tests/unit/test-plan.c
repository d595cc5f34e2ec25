// SPDX-License-Identifier: MIT
// Unit tests for mx_config_resolve: precedence, framebuffer layouts of real cards, quanta, generic devices, card-level errors.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
        struct pf_facts v = facts_v710();
        resolve_ok(&fx, &v, &p);
        assert_int_equal(p.num_vfs, 12);
        /* (28672 - 272) / 12 = 2366 -> 2352 */
        assert_int_equal(p.vf[11].fb_size_mib, 2352);
        assert_int_equal(p.vf[11].fb_offset_mib, 272 + 2352 * 11);
        fx_done(&fx);
}

static void precedence(void **state) {
        struct fixture fx;
        /* the address section comes first in the file and still wins over the model and * */
        fx_load(&fx,
                "[gpu 0000:03:00.0]\nvfs = 2\n"
                "[gpu s7150]\nvfs = 4\npool = model\nscheduler = liquid\n"
                "[gpu *]\nvfs = 8\npool = all\nfb_clear = no\ntime_slice = 5ms\n"
                "[vf 0000:03:00.0 1]\ntime_slice = 7ms\n",
                /* a drop-in overrides * key by key; still below model and address */
                "[gpu *]\npool = dropin\nvfio = no\n[gpu 0000:03:00.0]\ntake_over_host_driver = yes\n");
        struct pf_facts f = facts_s7150();
        struct pf_desired p;
        resolve_ok(&fx, &f, &p);
        assert_int_equal(p.num_vfs, 2);              /* address */
        assert_string_equal(p.pool, "model");         /* model over * (even over the drop-in's *) */
        assert_int_equal(p.scheduler, GPUIOV_SCHED_LIQUID);
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

        fx_load(&fx, "[gpu *]\nvfs = 6\ntime_slice = 1ms\n[vf 0000:03:00.0 1]\ntime_slice = 2ms\n[vf 0000:03:00.0 2]\n"
                     "time_slice = 3ms\n[vf 0000:03:00.0 3]\ntime_slice = 4ms\n[vf 0000:03:00.0 4]\ntime_slice = 5ms\n", NULL);
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 11), "time_slice = 5ms: ", "fifth distinct", "at most 4",
                    "1 ms (VF 0 5), 2 ms (VF 1), 3 ms (VF 2), 4 ms (VF 3), 5 ms (VF 4)");
        fx_done(&fx);

        fx_load(&fx, "[gpu *]\nvfs = 4\n[vf 0000:03:00.0 4]\nvf_memory = 1G\n", NULL);
        resolve_bad(&fx, &s);
        expect_diag(&fx.d, AT(&fx, 3), "[vf 0000:03:00.0 4]: VF 4 does not exist", "vfs at", ":2", "0 to 3");
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
                cmocka_unit_test(pf_reserve_defaults),
                cmocka_unit_test(explicit_pf_reserve_moves_the_base),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
