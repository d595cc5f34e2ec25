// SPDX-License-Identifier: MIT
// Unit tests for PF discovery with libpci on a fake sysfs tree: PFs, VFs, plain devices, broken devices.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fake-sysfs.h"
#include "mxgpu/pci.h"

#define PF  "0000:03:00.0"
#define VF  "0000:03:02.0"
#define NVME "0000:04:00.0"

static void make_tree(void) {
        uint8_t cfg[4096];
        fake_sriov_config(cfg, 16, 0, 0x692f, TONGA_CAP_LEN);
        fake_pci_dev(PF, 0x1002, 0x6929, 0x038000, cfg);
        fake_link("sys/devices/pci0000:00/" PF "/iommu_group", "../../../kernel/iommu_groups/7");
        fake_link("sys/devices/pci0000:00/" PF "/driver", "../../../bus/pci/drivers/pci-pf-stub");
        fake_mkdirs("sys/kernel/iommu_groups/7", 1);
        fake_mkdirs("sys/bus/pci/drivers/pci-pf-stub", 1);

        /* a VF with an SR-IOV capability of its own must not count as a PF */
        fake_sriov_config(cfg, 0, 0, 0x692f, 0);
        fake_pci_dev(VF, 0x1002, 0x692f, 0x038000, cfg);
        fake_link("sys/devices/pci0000:00/" VF "/physfn", "../" PF);

        /* a generic SR-IOV device */
        fake_sriov_config(cfg, 32, 4, 0xa824, 0);
        fake_pci_dev(NVME, 0x144d, 0xa808, 0x010802, cfg);

        /* a device without SR-IOV */
        fake_pci_dev("0000:00:00.0", 0x8086, 0x1237, 0x060000, NULL);
}

static void scan_finds_pfs(void **state) {
        make_tree();
        struct pci_pf *pfs = NULL;
        size_t n = 0;
        assert_int_equal(pci_pf_scan(&pfs, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(pfs[0].addr, PF);
        assert_int_equal(pfs[0].vendor, 0x1002);
        assert_int_equal(pfs[0].device, 0x6929);
        assert_int_equal(pfs[0].class_id, 0x0380);
        assert_int_equal(pfs[0].subsys_device, 0x0b0c);
        assert_int_equal(pfs[0].numa_node, 1);
        assert_int_equal(pfs[0].iommu_group, 7);
        assert_string_equal(pfs[0].driver, "pci-pf-stub");
        assert_int_equal(pfs[0].sriov_cap, 0x100);
        assert_int_equal(pfs[0].total_vfs, 16);
        assert_int_equal(pfs[0].num_vfs, 0);
        assert_int_equal(pfs[0].vf_offset, 0x80);
        assert_int_equal(pfs[0].vf_stride, 1);
        assert_int_equal(pfs[0].vf_device, 0x692f);
        assert_int_equal(pfs[0].bar0_size, 256u << 20);
        assert_non_null(pfs[0].card);
        assert_string_equal(pfs[0].card->model, "s7150");
        assert_int_equal(pfs[0].gpuiov_cap, 0x200);
        assert_int_equal(pfs[0].layout, GPUIOV_TONGA);

        assert_string_equal(pfs[1].addr, NVME);
        assert_null(pfs[1].card);
        assert_int_equal(pfs[1].gpuiov_cap, 0);
        assert_int_equal(pfs[1].layout, GPUIOV_NONE);
        assert_int_equal(pfs[1].num_vfs, 4);
        assert_int_equal(pfs[1].iommu_group, -1);
        assert_string_equal(pfs[1].driver, "");
        free(pfs);
}

static void broken_device_is_skipped(void **state) {
        make_tree();
        /* libpci's error hook fires for a device whose config space cannot be read: the scan skips it */
        uint8_t cfg[4096];
        fake_sriov_config(cfg, 8, 0, 0x74b5, MI300_CAP_LEN);
        fake_pci_dev("0000:05:00.0", 0x1002, 0x74a1, 0x038000, cfg);
        fake_unlink("sys/devices/pci0000:00/0000:05:00.0/config");
        struct pci_pf *pfs = NULL;
        size_t n = 0;
        assert_int_equal(pci_pf_scan(&pfs, &n), 1);
        assert_int_equal(n, 2);
        assert_string_not_equal(pci_pf_last_error(), "");
        free(pfs);

        struct pci_pf pf;
        assert_int_equal(pci_pf_lookup("0000:05:00.0", &pf), -ENODEV);
}

static void lookup_one(void **state) {
        make_tree();
        struct pci_pf pf;
        assert_int_equal(pci_pf_lookup("03:00.0", &pf), 0);
        assert_string_equal(pf.addr, PF);
        assert_int_equal(pf.layout, GPUIOV_TONGA);
        assert_int_equal(pci_pf_lookup(VF, &pf), -ENOTSUP);
        assert_int_equal(pci_pf_lookup("0000:00:00.0", &pf), -ENOTSUP);
        assert_int_equal(pci_pf_lookup("0000:09:00.0", &pf), -ENODEV);
        assert_int_equal(pci_pf_lookup("nonsense", &pf), -EINVAL);
}

static void empty_bus(void **state) {
        fake_mkdirs("sys/bus/pci/devices", 1);
        struct pci_pf *pfs = (void *)1;
        size_t n = 99;
        int r = pci_pf_scan(&pfs, &n);
        if (r < 0)
                print_error("%s\n", pci_pf_last_error());
        assert_int_equal(r, 0);
        assert_int_equal(n, 0);
        assert_null(pfs);
}

static void no_bus(void **state) {
        /* no sys/bus/pci at all: an error, not an exit */
        struct pci_pf *pfs = NULL;
        size_t n = 0;
        assert_true(pci_pf_scan(&pfs, &n) < 0);
}

/* Every well-formed line of resource, up to the first that is not; nothing from a missing file. */
static void resource_lines(void **state) {
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/sys/devices/pci0000:00/" PF, fake_root);
        struct pci_resource res[PCI_RESOURCE_LINES];
        assert_int_equal(pci_read_resources(dir, res), 0);
        fake_file("sys/devices/pci0000:00/" PF "/resource",
                  "0x0000010000000000 0x000001000fffffff 0x000000000014220c\n"
                  "0x0000000000000000 0x0000000000000000 0x0000000000000000\n"
                  "0x00000000fe000000 0x00000000fe03ffff 0x0000000000040200\n");
        assert_int_equal(pci_read_resources(dir, res), 3);
        assert_true(res[0].start == 0x10000000000ull && res[0].end == 0x1000fffffffull && res[0].flags == 0x14220c);
        assert_true(res[1].start == 0 && res[1].end == 0 && res[1].flags == 0);
        assert_true(res[2].start == 0xfe000000 && res[2].end == 0xfe03ffff && res[2].flags == 0x40200);
        fake_file("sys/devices/pci0000:00/" PF "/resource",
                  "0x0000000000001000 0x0000000000001fff 0x0000000000000200\n0x00002000 garbage\n0x1 0x2 0x3\n");
        assert_int_equal(pci_read_resources(dir, res), 1);
        /* more lines than a function has: the first PCI_RESOURCE_LINES */
        char many[4000] = "";
        for (int i = 0; i < PCI_RESOURCE_LINES + 3; i++)
                strcat(many, "0x0000000000000001 0x0000000000000002 0x0000000000000003\n");
        fake_file("sys/devices/pci0000:00/" PF "/resource", "%s", many);
        assert_int_equal(pci_read_resources(dir, res), PCI_RESOURCE_LINES);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(scan_finds_pfs, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(broken_device_is_skipped, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(lookup_one, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(empty_bus, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(no_bus, fake_setup, fake_teardown),
                cmocka_unit_test_setup_teardown(resource_lines, fake_setup, fake_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
