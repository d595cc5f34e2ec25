// SPDX-License-Identifier: MIT
// Unit tests for the SR-IOV sysfs helpers on a fake tree: attribute reads, the through-zero rule, the virtfn walk.
// WRAP: sysfs_write_at
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake-sysfs.h"
#include "mxgpu/sriov.h"
#include "mxgpu/sysfs.h"

#define PF "0000:03:00.0"
#define PFDIR "sys/devices/pci0000:00/" PF

/* Every write goes through here: recorded, and sriov_numvfs follows the kernel's rules
 * (ERANGE above totalvfs, EBUSY for a new non-zero count while VFs exist). */
int __real_sysfs_write_at(int dfd, const char *attr, const char *value);
int __wrap_sysfs_write_at(int dfd, const char *attr, const char *value);
static char writes[512];
static int forced_errno; /* returned by the next numvfs write when set */

int __wrap_sysfs_write_at(int dfd, const char *attr, const char *value) {
        size_t l = strlen(writes);
        snprintf(writes + l, sizeof(writes) - l, "%s%s=%s", l ? " " : "", attr, value);
        if (streq(attr, "sriov_numvfs")) {
                if (forced_errno) {
                        int e = forced_errno;
                        forced_errno = 0;
                        return e;
                }
                char cur[16];
                unsigned n = (unsigned)atoi(value), c;
                c = (unsigned)atoi(fake_read(PFDIR "/sriov_numvfs", cur, sizeof(cur)));
                if (n > 16)
                        return -ERANGE;
                if (n != c && n != 0 && c != 0)
                        return -EBUSY;
        }
        return __real_sysfs_write_at(dfd, attr, value);
}

static int setup(void **state) {
        writes[0] = 0;
        forced_errno = 0;
        if (fake_setup(state) < 0)
                return -1;
        fake_pci_dev(PF, 0x1002, 0x6929, 0x038000, NULL);
        fake_file(PFDIR "/sriov_numvfs", "4\n");
        fake_file(PFDIR "/sriov_totalvfs", "16\n");
        fake_file(PFDIR "/sriov_drivers_autoprobe", "1\n");
        return 0;
}

static void read_attrs(void **state) {
        unsigned num = 99, total = 99;
        bool autoprobe = false;
        assert_int_equal(sriov_read(PF, &num, &total, &autoprobe), 0);
        assert_int_equal(num, 4);
        assert_int_equal(total, 16);
        assert_true(autoprobe);
        assert_int_equal(sriov_read(PF, NULL, &total, NULL), 0);
        assert_int_equal(sriov_read("0000:09:00.0", &num, NULL, NULL), -ENODEV);
        fake_unlink(PFDIR "/sriov_totalvfs");
        num = 77;
        assert_int_equal(sriov_read(PF, &num, &total, NULL), -ENOENT);
        assert_int_equal(num, 77); /* untouched on failure */
}

static void autoprobe_write(void **state) {
        char buf[16];
        assert_int_equal(sriov_set_autoprobe(PF, false), 0);
        assert_string_equal(fake_read(PFDIR "/sriov_drivers_autoprobe", buf, sizeof(buf)), "0");
        assert_int_equal(sriov_set_autoprobe(PF, true), 0);
        assert_string_equal(writes, "sriov_drivers_autoprobe=0 sriov_drivers_autoprobe=1");
}

static void set_returns_kernel_errno(void **state) {
        assert_int_equal(sriov_set_numvfs(PF, 17), -ERANGE);
        assert_int_equal(sriov_set_numvfs(PF, 8), -EBUSY);
        forced_errno = -ENOMEM;
        assert_int_equal(sriov_set_numvfs(PF, 0), -ENOMEM);
        forced_errno = -ENOENT;
        assert_int_equal(sriov_set_numvfs(PF, 0), -ENOENT);
        assert_int_equal(sriov_set_numvfs(PF, 0), 0);
}

static void change_through_zero(void **state) {
        char buf[16];
        assert_int_equal(sriov_change_numvfs(PF, 8, NULL), 1);
        assert_string_equal(writes, "sriov_numvfs=0 sriov_numvfs=8");
        assert_string_equal(fake_read(PFDIR "/sriov_numvfs", buf, sizeof(buf)), "8");

        writes[0] = 0;
        assert_int_equal(sriov_change_numvfs(PF, 8, NULL), 0); /* equal: no write */
        assert_string_equal(writes, "");

        assert_int_equal(sriov_change_numvfs(PF, 0, NULL), 1);
        assert_string_equal(writes, "sriov_numvfs=0");
        writes[0] = 0;
        assert_int_equal(sriov_change_numvfs(PF, 2, NULL), 1); /* from 0: one write */
        assert_string_equal(writes, "sriov_numvfs=2");

        writes[0] = 0;
        bool disable_failed = true;
        assert_int_equal(sriov_change_numvfs(PF, 20, &disable_failed), -ERANGE); /* left at 0, error of the second write */
        assert_false(disable_failed);
        assert_string_equal(writes, "sriov_numvfs=0 sriov_numvfs=20");
        assert_string_equal(fake_read(PFDIR "/sriov_numvfs", buf, sizeof(buf)), "0");

        /* the write of 0 fails: the VFs there are stay, and the caller learns which write it was */
        assert_int_equal(sriov_change_numvfs(PF, 2, NULL), 1);
        writes[0] = 0;
        forced_errno = -EBUSY;
        assert_int_equal(sriov_change_numvfs(PF, 6, &disable_failed), -EBUSY);
        assert_true(disable_failed);
        assert_string_equal(fake_read(PFDIR "/sriov_numvfs", buf, sizeof(buf)), "2");

        /* ...when the count asked for is 0 as well: the write that failed is not told by the value written */
        forced_errno = -EBUSY;
        disable_failed = false;
        assert_int_equal(sriov_change_numvfs(PF, 0, &disable_failed), -EBUSY);
        assert_true(disable_failed);
        assert_string_equal(fake_read(PFDIR "/sriov_numvfs", buf, sizeof(buf)), "2");
        assert_int_equal(sriov_change_numvfs(PF, 0, &disable_failed), 1);
        assert_false(disable_failed);
}

static void list_vfs(void **state) {
        for (unsigned i = 0; i < 4; i++) {
                char rel[128], bdf[16], target[32];
                if (i == 2)
                        continue; /* VF 2 removed on its own (echo 1 > remove): a hole */
                snprintf(bdf, sizeof(bdf), "0000:03:02.%u", i);
                fake_pci_dev(bdf, 0x1002, 0x692f, 0x038000, NULL);
                snprintf(rel, sizeof(rel), PFDIR "/virtfn%u", i);
                snprintf(target, sizeof(target), "../%s", bdf);
                fake_link(rel, target);
        }
        /* sriov_numvfs is 4: virtfn4 is not one of them */
        fake_link(PFDIR "/virtfn4", "../0000:03:02.4");
        fake_mkdirs("sys/kernel/iommu_groups/21", 1);
        fake_link("sys/devices/pci0000:00/0000:03:02.1/iommu_group", "../../../kernel/iommu_groups/21");
        fake_mkdirs("sys/bus/pci/drivers/vfio-pci", 1);
        fake_link("sys/devices/pci0000:00/0000:03:02.1/driver", "../../../bus/pci/drivers/vfio-pci");

        struct vf_ref *vfs = NULL;
        size_t n = 0;
        assert_int_equal(sriov_list_vfs(PF, &vfs, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(vfs[0].index, 0);
        assert_string_equal(vfs[0].addr, "0000:03:02.0");
        assert_string_equal(vfs[0].driver, "");
        assert_int_equal(vfs[0].iommu_group, -1);
        assert_int_equal(vfs[1].index, 1);
        assert_string_equal(vfs[1].addr, "0000:03:02.1");
        assert_string_equal(vfs[1].driver, "vfio-pci");
        assert_int_equal(vfs[1].iommu_group, 21);
        /* the hole is skipped, and the walk goes on to VF 3 */
        assert_int_equal(vfs[2].index, 3);
        assert_string_equal(vfs[2].addr, "0000:03:02.3");
        free(vfs);
}

static void list_no_vfs(void **state) {
        struct vf_ref *vfs = (void *)1;
        size_t n = 5;
        assert_int_equal(sriov_list_vfs(PF, &vfs, &n), 0);
        assert_int_equal(n, 0);
        assert_null(vfs);
        assert_int_equal(sriov_list_vfs("0000:09:00.0", &vfs, &n), -ENODEV);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(read_attrs, setup, fake_teardown),
                cmocka_unit_test_setup_teardown(autoprobe_write, setup, fake_teardown),
                cmocka_unit_test_setup_teardown(set_returns_kernel_errno, setup, fake_teardown),
                cmocka_unit_test_setup_teardown(change_through_zero, setup, fake_teardown),
                cmocka_unit_test_setup_teardown(list_vfs, setup, fake_teardown),
                cmocka_unit_test_setup_teardown(list_no_vfs, setup, fake_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
