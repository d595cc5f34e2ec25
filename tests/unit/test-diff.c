// SPDX-License-Identifier: MIT
// Unit tests for pf_diff: the actions between desired and observed, in order, and every refusal.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "../../src/daemon/pf.h"

static struct pci_pf s7150_pf(void) {
        struct pci_pf pf = { .addr = "0000:03:00.0", .vendor = 0x1002, .device = 0x6929, .total_vfs = 16,
                             .gpuiov_cap = 0x200, .layout = GPUIOV_TONGA };
        pf.card = mx_card_by_pf_id(0x1002, 0x6929);
        return pf;
}

/* 4 VFs of 480 MiB from 272, one 6 ms slice. */
static struct pf_desired want4(void) {
        struct pf_desired d = { .managed = true, .num_vfs = 4, .pf_driver = MX_PF_DRIVER_PCI_PF_STUB, .vfio = true,
                                .scheduler = GPUIOV_SCHED_SOLID, .pf_reserve_mib = 256, .context_offset_mib = 256,
                                .context_size_mib = 8, .vf_base_mib = 272, .fb_consumed_mib = 8192 - 256, .n_quanta = 1 };
        for (unsigned i = 0; i < 4; i++)
                d.vf[i] = (struct vf_desired){ .fb_offset_mib = 272 + 480 * i, .fb_size_mib = 480, .quantum_ms = 6 };
        memset(d.quanta_options, 6, sizeof(d.quanta_options));
        return d;
}

/* The hardware exactly as want4() asks. */
static struct pf_observed have4(struct vf_ref *vfs) {
        struct pf_observed o = { .driver = "pci-pf-stub", .num_vfs = 4, .total_vfs = 16, .have_gpuiov = true, .vfs = vfs, .n_vfs = 4 };
        struct pf_desired d = want4();
        o.part = (struct gpuiov_partition){ .fb_available_mib = 8192, .fb_consumed_mib = d.fb_consumed_mib,
                                            .pf_reserve_mib = 256, .context = { 256, 8 }, .n_vfs = 16 };
        for (unsigned i = 0; i < 4; i++) {
                o.part.vf[i] = (struct gpuiov_fb){ d.vf[i].fb_offset_mib, d.vf[i].fb_size_mib };
                vfs[i] = (struct vf_ref){ .index = i, .driver = "vfio-pci", .iommu_group = 10 + (int)i };
                snprintf(vfs[i].addr, sizeof(vfs[i].addr), "0000:03:02.%u", i);
        }
        o.sched.n_blocks = 1;
        memset(o.sched.block[0].quanta_ms, 6, 4);
        o.sched.block[0].active = 0xf;
        return o;
}

static size_t count(const struct pf_actions *a, enum action_kind k) {
        size_t n = 0;
        for (size_t i = 0; i < a->n; i++)
                n += a->a[i].kind == k;
        return n;
}

static void nothing_when_matching(void **state) {
        struct vf_ref vfs[4];
        struct pci_pf pf = s7150_pf();
        struct pf_desired d = want4();
        struct pf_observed o = have4(vfs);
        struct pf_actions a;
        pf_diff(&pf, &d, &o, true, GPUIOV_SCHED_SOLID, &a);
        assert_int_equal(a.n, 0);
        assert_string_equal(a.refused, "");
        /* An unknown scheduler mode is programmed again: the hardware cannot tell it. */
        pf_diff(&pf, &d, &o, false, 0, &a);
        assert_int_equal(a.n, 1);
        assert_int_equal(a.a[0].kind, ACT_SCHED);
}

static void fresh_pf_full_bringup_in_order(void **state) {
        struct pci_pf pf = s7150_pf();
        struct pf_desired d = want4();
        struct pf_observed o = { .driver = "", .total_vfs = 16, .autoprobe = true, .have_gpuiov = true };
        struct pf_actions a;
        pf_diff(&pf, &d, &o, false, 0, &a);
        enum action_kind order[] = { ACT_PF_BIND, ACT_AUTOPROBE_OFF, ACT_SET_NUMVFS, ACT_PARTITION, ACT_SCHED,
                                     ACT_VF_BIND, ACT_VF_BIND, ACT_VF_BIND, ACT_VF_BIND };
        assert_int_equal(a.n, ARRAY_SIZE(order));
        for (size_t i = 0; i < a.n; i++)
                assert_int_equal(a.a[i].kind, order[i]);
        assert_int_equal(a.a[5].vf, 0);
        assert_int_equal(a.a[8].vf, 3);
        assert_non_null(strstr(a.a[2].what, "0 -> 4"));
}

static void amdgpu_refused_unless_take_over(void **state) {
        struct pci_pf pf = s7150_pf();
        struct pf_desired d = want4();
        struct pf_observed o = { .driver = "amdgpu", .total_vfs = 16, .have_gpuiov = true };
        struct pf_actions a;
        pf_diff(&pf, &d, &o, false, 0, &a);
        assert_int_equal(a.n, 0);
        assert_non_null(strstr(a.refused, "amdgpu"));
        assert_non_null(strstr(a.refused, "take_over_host_driver"));
        d.take_over_host_driver = true;
        pf_diff(&pf, &d, &o, false, 0, &a);
        assert_string_equal(a.refused, "");
        assert_int_equal(a.a[0].kind, ACT_PF_BIND);
}

static void count_change_refused_while_in_use(void **state) {
        struct vf_ref vfs[4];
        struct pci_pf pf = s7150_pf();
        struct pf_desired d = want4();
        struct pf_observed o = have4(vfs);
        o.vf_in_use[2] = true;
        d.num_vfs = 2;
        struct pf_actions a;
        pf_diff(&pf, &d, &o, true, GPUIOV_SCHED_SOLID, &a);
        assert_int_equal(a.n, 0);
        assert_non_null(strstr(a.refused, "0000:03:02.2 (vf 2)"));
        assert_null(strstr(a.refused, "vf 1"));
        o.vf_in_use[2] = false;
        pf_diff(&pf, &d, &o, true, GPUIOV_SCHED_SOLID, &a);
        assert_string_equal(a.refused, "");
        assert_int_equal(count(&a, ACT_SET_NUMVFS), 1);
        assert_int_equal(count(&a, ACT_VF_BIND), 2);
}

static void resize_of_idle_vf_only_touches_partition(void **state) {
        struct vf_ref vfs[4];
        struct pci_pf pf = s7150_pf();
        struct pf_desired d = want4();
        struct pf_observed o = have4(vfs);
        o.vf_in_use[0] = true; /* VF 0 does not change: fine */
        d.vf[3].fb_size_mib = 960;
        struct pf_actions a;
        pf_diff(&pf, &d, &o, true, GPUIOV_SCHED_SOLID, &a);
        assert_string_equal(a.refused, "");
        assert_int_equal(a.n, 1);
        assert_int_equal(a.a[0].kind, ACT_PARTITION);
        /* ...but not when the VF that changes is in use. */
        o.vf_in_use[3] = true;
        pf_diff(&pf, &d, &o, true, GPUIOV_SCHED_SOLID, &a);
        assert_non_null(strstr(a.refused, "vf 3"));
        assert_null(strstr(a.refused, "vf 0"));
}

static void gim_never_writes_numvfs(void **state) {
        struct vf_ref vfs[4];
        struct pci_pf pf = s7150_pf();
        struct pf_desired d = want4();
        d.pf_driver = MX_PF_DRIVER_GIM;
        struct pf_observed o = have4(vfs);
        strcpy(o.driver, "gim");
        d.num_vfs = 8;
        struct pf_actions a;
        pf_diff(&pf, &d, &o, true, GPUIOV_SCHED_SOLID, &a);
        assert_int_equal(count(&a, ACT_SET_NUMVFS), 0);
        assert_int_equal(count(&a, ACT_PF_BIND), 0);
        assert_int_equal(count(&a, ACT_PARTITION), 0);
        assert_non_null(strstr(a.degraded, "gim enabled 4 VFs"));
        strcpy(o.driver, "pci-pf-stub");
        pf_diff(&pf, &d, &o, true, GPUIOV_SCHED_SOLID, &a);
        assert_non_null(strstr(a.refused, "pf_driver = gim"));
}

/* A PF taken from gim (take_over_host_driver): its VFs go with gim, the plan says so, and the count is
 * planned from 0, with no write at all when the config asks for none. */
static void gim_take_over_plans_count_from_zero(void **state) {
        struct vf_ref vfs[4];
        struct pci_pf pf = s7150_pf();
        struct pf_desired d = want4();
        d.take_over_host_driver = true;
        struct pf_observed o = have4(vfs);
        strcpy(o.driver, "gim");
        struct pf_actions a;
        pf_diff(&pf, &d, &o, true, GPUIOV_SCHED_SOLID, &a);
        assert_string_equal(a.refused, "");
        assert_int_equal(a.a[0].kind, ACT_PF_BIND);
        assert_string_equal(a.a[0].what, "bind the PF to pci-pf-stub (now: gim; 4 VFs removed with gim)");
        assert_true(a.a[0].take_over);
        assert_int_equal(count(&a, ACT_SET_NUMVFS), 1);
        for (size_t i = 0; i < a.n; i++)
                if (a.a[i].kind == ACT_SET_NUMVFS)
                        assert_string_equal(a.a[i].what, "sriov_numvfs 0 -> 4");
        assert_int_equal(count(&a, ACT_VF_BIND), 4);

        d.num_vfs = 0;
        pf_diff(&pf, &d, &o, true, GPUIOV_SCHED_SOLID, &a);
        assert_string_equal(a.refused, "");
        assert_string_equal(a.a[0].what, "bind the PF to pci-pf-stub (now: gim; 4 VFs removed with gim)");
        assert_int_equal(a.num_vfs, 0);
        assert_int_equal(count(&a, ACT_SET_NUMVFS), 0); /* not "sriov_numvfs 0 -> 0" */
        assert_int_equal(count(&a, ACT_PARTITION), 0);
        assert_int_equal(count(&a, ACT_SCHED), 0);
        assert_int_equal(count(&a, ACT_VF_BIND), 0);

        /* gim without VFs: nothing removed, nothing said about VFs */
        o.num_vfs = 0;
        o.n_vfs = 0;
        pf_diff(&pf, &d, &o, true, GPUIOV_SCHED_SOLID, &a);
        assert_string_equal(a.a[0].what, "bind the PF to pci-pf-stub (now: gim)");
        assert_int_equal(count(&a, ACT_SET_NUMVFS), 0);
}

static void quanta_change_reprograms_scheduler_only(void **state) {
        struct vf_ref vfs[4];
        struct pci_pf pf = s7150_pf();
        struct pf_desired d = want4();
        struct pf_observed o = have4(vfs);
        d.quanta_options[1] = d.quanta_options[2] = d.quanta_options[3] = 12;
        d.vf[2].quanta_index = 1;
        struct pf_actions a;
        pf_diff(&pf, &d, &o, true, GPUIOV_SCHED_SOLID, &a);
        assert_int_equal(a.n, 1);
        assert_int_equal(a.a[0].kind, ACT_SCHED);
        d = want4();
        d.scheduler = GPUIOV_SCHED_LIQUID;
        pf_diff(&pf, &d, &o, true, GPUIOV_SCHED_SOLID, &a);
        assert_int_equal(a.n, 1);
        assert_int_equal(a.a[0].kind, ACT_SCHED);
}

static void generic_device_binding_only(void **state) {
        struct pci_pf pf = { .addr = "0000:01:00.0", .vendor = 0x1b36, .device = 0x0010, .total_vfs = 8 };
        struct pf_desired d = { .managed = true, .generic = true, .num_vfs = 2, .pf_driver = MX_PF_DRIVER_KEEP, .vfio = true };
        struct pf_observed o = { .driver = "nvme", .total_vfs = 8, .autoprobe = true };
        struct pf_actions a;
        pf_diff(&pf, &d, &o, false, 0, &a);
        enum action_kind order[] = { ACT_AUTOPROBE_OFF, ACT_SET_NUMVFS, ACT_VF_BIND, ACT_VF_BIND };
        assert_int_equal(a.n, ARRAY_SIZE(order));
        for (size_t i = 0; i < a.n; i++)
                assert_int_equal(a.a[i].kind, order[i]);
        o.driver[0] = 0;
        pf_diff(&pf, &d, &o, false, 0, &a);
        assert_non_null(strstr(a.refused, "no driver"));

        /* more VFs than the daemon tracks (someone enabled them by hand): whether they are in use is not
         * known, so the count is not changed */
        struct pf_observed many = { .driver = "nvme", .num_vfs = PF_MAX_VFS + 1, .total_vfs = 512 };
        pf_diff(&pf, &d, &many, false, 0, &a);
        assert_int_equal(a.n, 0);
        assert_non_null(strstr(a.refused, "the PF has 257 VFs, more than mxgpud manages (256)"));
        many.num_vfs = PF_MAX_VFS;
        pf_diff(&pf, &d, &many, false, 0, &a);
        assert_string_equal(a.refused, "");
        assert_int_equal(count(&a, ACT_SET_NUMVFS), 1);
}

static void removed_vf_is_not_bound_again(void **state) {
        struct vf_ref vfs[4];
        struct pci_pf pf = s7150_pf();
        struct pf_desired d = want4();
        struct pf_observed o = have4(vfs);
        /* VF 1 removed on its own (echo 1 > remove): the listing has 0, 2 and 3, and 2 is unbound */
        vfs[1] = vfs[2];
        vfs[2] = vfs[3];
        vfs[1].driver[0] = 0;
        o.n_vfs = 3;
        struct pf_actions a;
        pf_diff(&pf, &d, &o, true, GPUIOV_SCHED_SOLID, &a);
        assert_string_equal(a.refused, "");
        assert_int_equal(a.n, 1);
        assert_int_equal(a.a[0].kind, ACT_VF_BIND);
        assert_int_equal(a.a[0].vf, 2);
}

static void count_that_does_not_fit_in_mmio_refused(void **state) {
        struct vf_ref vfs[4];
        struct pci_pf pf = s7150_pf();
        struct pf_desired d = want4();
        struct pf_observed o = have4(vfs);
        d.num_vfs = 6;
        o.have_room = true;
        o.room = (struct pci_vf_bar_room){ .total_vfs = 16, .fit = 5, .per_vf = 260ull << 20, .forwarded = 1300ull << 20,
                                           .bridge = "0000:00:02.0", .unassigned = -1 };
        struct pf_actions a;
        pf_diff(&pf, &d, &o, true, GPUIOV_SCHED_SOLID, &a);
        assert_int_equal(a.n, 0);
        assert_non_null(strstr(a.refused, "6 VFs do not fit"));
        assert_non_null(strstr(a.refused, "room for 5 VFs"));
        assert_non_null(strstr(a.refused, "Above 4G decoding"));
        o.room.fit = 6;
        pf_diff(&pf, &d, &o, true, GPUIOV_SCHED_SOLID, &a);
        assert_string_equal(a.refused, "");
        assert_int_equal(count(&a, ACT_SET_NUMVFS), 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(nothing_when_matching),
                cmocka_unit_test(fresh_pf_full_bringup_in_order),
                cmocka_unit_test(amdgpu_refused_unless_take_over),
                cmocka_unit_test(count_change_refused_while_in_use),
                cmocka_unit_test(resize_of_idle_vf_only_touches_partition),
                cmocka_unit_test(gim_never_writes_numvfs),
                cmocka_unit_test(gim_take_over_plans_count_from_zero),
                cmocka_unit_test(quanta_change_reprograms_scheduler_only),
                cmocka_unit_test(generic_device_binding_only),
                cmocka_unit_test(removed_vf_is_not_bound_again),
                cmocka_unit_test(count_that_does_not_fit_in_mmio_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
