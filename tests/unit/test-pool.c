// SPDX-License-Identifier: MIT
// Unit tests of the pool's choice of a VF, the claim rule under many requests, and the hostdev XML.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "../../src/daemon/pool.h"

static void vf(struct pool_vf *v, const char *addr, const char *pool, uint32_t mib) {
        *v = (struct pool_vf){ .memory_mib = mib, .usable = true };
        snprintf(v->addr, sizeof(v->addr), "%s", addr);
        snprintf(v->pf, sizeof(v->pf), "0000:03:00.0");
        snprintf(v->pool, sizeof(v->pool), "%s", pool);
}

static void pick_best_fit(void **state) {
        struct pool_vf v[4];
        vf(&v[0], "0000:03:02.3", "gold", 4096);
        vf(&v[1], "0000:03:02.1", "gold", 2048);
        vf(&v[2], "0000:03:02.0", "gold", 2048);
        vf(&v[3], "0000:04:02.0", "bronze", 1024);
        size_t i;
        char why[256];
        struct pool_request any = {};
        assert_int_equal(pool_pick(v, 4, &any, &i, why, sizeof(why)), 0);
        assert_int_equal(i, 3); /* smallest overall */
        struct pool_request gold = { .pool = "gold" };
        assert_int_equal(pool_pick(v, 4, &gold, &i, why, sizeof(why)), 0);
        assert_int_equal(i, 2); /* 2048, lowest address of the tie */
        struct pool_request big = { .pool = "gold", .memory_min_mib = 3000 };
        assert_int_equal(pool_pick(v, 4, &big, &i, why, sizeof(why)), 0);
        assert_int_equal(i, 0);
        struct pool_request huge = { .pool = "gold", .memory_min_mib = 8192 };
        assert_int_equal(pool_pick(v, 4, &huge, &i, why, sizeof(why)), -ENOSPC);
        assert_non_null(strstr(why, "pool exhausted"));
        struct pool_request none = { .pool = "silver" };
        assert_int_equal(pool_pick(v, 4, &none, &i, why, sizeof(why)), -ENOENT);
        assert_non_null(strstr(why, "silver"));
}

static void pick_skips_taken_dirty_unusable(void **state) {
        struct pool_vf v[3];
        vf(&v[0], "0000:03:02.0", "p", 1024);
        vf(&v[1], "0000:03:02.1", "p", 1024);
        vf(&v[2], "0000:03:02.2", "p", 1024);
        snprintf(v[0].domain, sizeof(v[0].domain), "vm1");
        v[1].dirty = true;
        v[2].usable = false;
        size_t i = 99;
        struct pool_request r = { .pool = "p" };
        assert_int_equal(pool_pick(v, 3, &r, &i, NULL, 0), -ENOSPC);
        assert_int_equal(i, 99); /* untouched on failure */
        v[2].usable = true;
        assert_int_equal(pool_pick(v, 3, &r, &i, NULL, 0), 0);
        assert_int_equal(i, 2);
}

static void pick_named_vf(void **state) {
        struct pool_vf v[2];
        vf(&v[0], "0000:03:02.0", "p", 1024);
        vf(&v[1], "0000:03:02.1", "q", 1024);
        snprintf(v[0].domain, sizeof(v[0].domain), "vm1");
        size_t i;
        char why[256];
        struct pool_request taken = { .vf = "0000:03:02.0" };
        assert_int_equal(pool_pick(v, 2, &taken, &i, why, sizeof(why)), -EBUSY);
        assert_non_null(strstr(why, "vm1"));
        struct pool_request wrong_pool = { .vf = "0000:03:02.1", .pool = "p" };
        assert_int_equal(pool_pick(v, 2, &wrong_pool, &i, why, sizeof(why)), -EINVAL);
        struct pool_request small = { .vf = "0000:03:02.1", .memory_min_mib = 2048 };
        assert_int_equal(pool_pick(v, 2, &small, &i, why, sizeof(why)), -ENOSPC);
        struct pool_request unknown = { .vf = "0000:09:00.0" };
        assert_int_equal(pool_pick(v, 2, &unknown, &i, why, sizeof(why)), -ENOENT);
        struct pool_request ok = { .vf = "0000:03:02.1", .pool = "q" };
        assert_int_equal(pool_pick(v, 2, &ok, &i, why, sizeof(why)), 0);
        assert_int_equal(i, 1);
}

/* 20 requests for 8 free VFs, one after another as the daemon's loop serves them: exactly 8 succeed,
 * each with its own VF, the other 12 get "pool exhausted". */
static void claims_never_share(void **state) {
        struct pool_vf v[8];
        for (int k = 0; k < 8; k++) {
                char a[PCI_ADDR_STRLEN];
                snprintf(a, sizeof(a), "0000:03:02.%d", k);
                vf(&v[k], a, "p", 1024);
        }
        bool taken[8] = {};
        int ok = 0, exhausted = 0;
        for (int req = 0; req < 20; req++) {
                char dom[16], why[256];
                snprintf(dom, sizeof(dom), "vm%d", req);
                size_t i;
                struct pool_request r = { .pool = "p" };
                int rc = pool_claim(v, 8, &r, dom, &i, why, sizeof(why));
                if (rc == 0) {
                        assert_false(taken[i]);
                        taken[i] = true;
                        assert_string_equal(v[i].domain, dom);
                        ok++;
                } else {
                        assert_int_equal(rc, -ENOSPC);
                        assert_non_null(strstr(why, "pool exhausted"));
                        exhausted++;
                }
        }
        assert_int_equal(ok, 8);
        assert_int_equal(exhausted, 12);
        size_t i;
        struct pool_request r = { .pool = "p" };
        assert_int_equal(pool_claim(v, 8, &r, "", &i, NULL, 0), -EINVAL);
}

static void hostdev_xml(void **state) {
        char buf[512];
        assert_int_equal(pool_hostdev_xml("03:02.1", buf, sizeof(buf)), 0);
        assert_non_null(strstr(buf, "managed='no'"));
        assert_non_null(strstr(buf, "<address domain='0x0000' bus='0x03' slot='0x02' function='0x1'/>"));
        assert_int_equal(pool_hostdev_xml("bogus", buf, sizeof(buf)), -EINVAL);
        assert_int_equal(pool_nodedev_name("0000:03:02.1", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "pci_0000_03_02_1");

        const char *xml =
                "<domain type='qemu'><name>vm</name><devices>\n"
                "  <hostdev mode='subsystem' type='pci' managed='no'>\n"
                "    <source>\n"
                "      <address domain='0x0000' bus='0x03' slot='0x02' function='0x1'/>\n"
                "    </source>\n"
                "    <address type='pci' domain='0x0000' bus='0x07' slot='0x00' function='0x0'/>\n"
                "  </hostdev>\n"
                "  <hostdev mode='subsystem' type='usb'><source><vendor id='0x1'/><product id='0x2'/></source></hostdev>\n"
                "  <hostdev mode=\"subsystem\" type=\"pci\" managed=\"yes\"><source><address bus=\"4\" slot=\"0x10\" function=\"7\"/>"
                "</source></hostdev>\n"
                "</devices></domain>";
        char (*list)[PCI_ADDR_STRLEN] = NULL;
        size_t n = 0;
        assert_int_equal(pool_hostdevs_from_xml(xml, &list, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(list[0], "0000:03:02.1"); /* the source, not the guest address */
        assert_string_equal(list[1], "0000:04:10.7");
        free(list);
        assert_int_equal(pool_hostdevs_from_xml("<domain/>", &list, &n), 0);
        assert_int_equal(n, 0);
        free(list);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(pick_best_fit), cmocka_unit_test(pick_skips_taken_dirty_unusable),
                cmocka_unit_test(pick_named_vf), cmocka_unit_test(claims_never_share), cmocka_unit_test(hostdev_xml),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
