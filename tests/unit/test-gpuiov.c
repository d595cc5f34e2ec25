// SPDX-License-Identifier: MIT
// Unit tests for the GPU-IOV field encodings and the PCI address parser.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mxgpu/cards.h"
#include "mxgpu/gpuiov.h"
#include "mxgpu/pciaddr.h"

static void tonga_fb_encoding(void **state) {
        /* hardware.md 3: ((size_MiB >> 4) - 1) | ((offset_MiB >> 4) << 16) */
        assert_int_equal(gpuiov_fb_encode(GPUIOV_TONGA, 272, 480), (480 / 16 - 1) | (272 / 16) << 16);
        uint32_t off, size;
        gpuiov_fb_decode(GPUIOV_TONGA, gpuiov_fb_encode(GPUIOV_TONGA, 7472, 480), &off, &size);
        assert_int_equal(off, 7472);
        assert_int_equal(size, 480);
}

static void mi300_fb_encoding(void **state) {
        /* no minus one on MI300 */
        assert_int_equal(gpuiov_fb_encode(GPUIOV_MI300, 272, 24000), (24000 / 16) | (272 / 16) << 16);
        uint32_t off, size;
        gpuiov_fb_decode(GPUIOV_MI300, gpuiov_fb_encode(GPUIOV_MI300, 65536, 23968), &off, &size);
        assert_int_equal(off, 65536);
        assert_int_equal(size, 23968);
}

static void cntxt_encoding(void **state) {
        uint32_t raw = gpuiov_cntxt_encode(256, 8);
        assert_int_equal(raw & 0x7f, 32);          /* 8 MiB = 32 x 256 KiB */
        assert_int_equal(raw & 0x80, 0);           /* in the framebuffer */
        assert_int_equal(raw >> 10, 256 * 4);
        uint32_t off, size;
        gpuiov_cntxt_decode(raw, &off, &size);
        assert_int_equal(off, 256);
        assert_int_equal(size, 8);
}

static void cmd_word(void **state) {
        assert_int_equal(gpuiov_cmd_word(GPUIOV_CMD_INIT_GPU, GPUIOV_FUNC_VF(3), 0), 0x7 | 0x10 | 0x83 << 8);
        assert_string_equal(gpuiov_cmd_name(GPUIOV_CMD_CONFIG_AUTO_HW_SCHED_MODE), "CONFIG_AUTO_HW_SCHED_MODE");
        assert_string_equal(gpuiov_cmd_name(0xe), "UNKNOWN");
}

static void pci_addresses(void **state) {
        struct pci_addr a;
        char buf[PCI_ADDR_STRLEN];
        assert_int_equal(pci_addr_parse("0000:03:00.0", &a), 0);
        assert_int_equal(a.bus, 3);
        assert_int_equal(pci_addr_parse("03:1f.7", &a), 0);
        assert_string_equal(pci_addr_format(&a, buf), "0000:03:1f.7");
        assert_int_equal(pci_addr_parse("0000:03:20.0", &a), -EINVAL); /* device > 31 */
        assert_int_equal(pci_addr_parse("0000:03:00.8", &a), -EINVAL);
        assert_int_equal(pci_addr_parse("0000:3:00.0", &a), -EINVAL);
        assert_int_equal(pci_addr_parse("0000:03:00.0 ", &a), -EINVAL);
        assert_int_equal(pci_addr_parse("", &a), -EINVAL);
        pci_addr_parse("0000:03:00.0", &a);
        struct pci_addr vf;
        pci_addr_from_rid(0, pci_addr_rid(&a) + 0x80 + 2 * 1, &vf);
        assert_string_equal(pci_addr_format(&vf, buf), "0000:03:10.2");
}

static void card_table(void **state) {
        const struct mx_card *c = mx_card_by_pf_id(0x1002, 0x6929);
        assert_non_null(c);
        assert_string_equal(c->model, "s7150");
        assert_ptr_equal(mx_card_by_model("S7150X2"), c);
        assert_null(mx_card_by_pf_id(0x10de, 0x6929));
        const struct mx_card *m = mx_card_by_model("mi300x");
        assert_true(mx_card_vf_count_allowed(m, 8));
        assert_true(mx_card_vf_count_allowed(m, 1));
        assert_false(mx_card_vf_count_allowed(m, 4));
        assert_true(mx_card_vf_count_allowed(c, 16));
        assert_false(mx_card_vf_count_allowed(c, 17));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(tonga_fb_encoding), cmocka_unit_test(mi300_fb_encoding),
                cmocka_unit_test(cntxt_encoding),    cmocka_unit_test(cmd_word),
                cmocka_unit_test(pci_addresses),     cmocka_unit_test(card_table),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
