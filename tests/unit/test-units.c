// SPDX-License-Identifier: MIT
// Unit tests for size, time and boolean parsing and formatting.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mxgpu/units.h"

static void sizes(void **state) {
        uint64_t v;
        assert_int_equal(parse_size_mib("2048M", &v, NULL), 0);
        assert_int_equal(v, 2048);
        assert_int_equal(parse_size_mib("2G", &v, NULL), 0);
        assert_int_equal(v, 2048);
        assert_int_equal(parse_size_mib("2GiB", &v, NULL), 0);
        assert_int_equal(v, 2048);
        assert_int_equal(parse_size_mib("2gb", &v, NULL), 0);
        assert_int_equal(v, 2048);
        assert_int_equal(parse_size_mib("512 MiB", &v, NULL), 0);
        assert_int_equal(v, 512);
        assert_int_equal(parse_size_mib("1T", &v, NULL), 0);
        assert_int_equal(v, 1024 * 1024);
        assert_int_equal(parse_size_mib("262144K", &v, NULL), 0);
        assert_int_equal(v, 256);
        assert_int_equal(parse_size_mib("2Gi", &v, NULL), 0);
        assert_int_equal(v, 2048);
}

static void bad_sizes(void **state) {
        uint64_t v = 7;
        const char *err = NULL;
        assert_int_equal(parse_size_mib("2048", &v, &err), -EINVAL);
        assert_non_null(strstr(err, "needs a unit"));
        assert_non_null(strstr(err, "2G"));
        assert_int_equal(v, 7); /* untouched on failure */
        assert_int_equal(parse_size_mib("-2G", &v, &err), -EINVAL);
        assert_non_null(strstr(err, "negative"));
        assert_int_equal(parse_size_mib("1.5G", &v, &err), -EINVAL);
        assert_non_null(strstr(err, "fraction"));
        assert_int_equal(parse_size_mib("2X", &v, &err), -EINVAL);
        assert_non_null(strstr(err, "unknown size unit"));
        assert_int_equal(parse_size_mib("2GG", &v, &err), -EINVAL);
        assert_int_equal(parse_size_mib("1000K", &v, &err), -EINVAL);
        assert_non_null(strstr(err, "whole number of MiB"));
        assert_int_equal(parse_size_mib("99999999999999999999999G", &v, &err), -ERANGE);
        assert_int_equal(parse_size_mib("17179869184T", &v, &err), -ERANGE);
        assert_int_equal(parse_size_mib("", &v, &err), -EINVAL);
        assert_int_equal(parse_size_mib("G", &v, &err), -EINVAL);
        assert_int_equal(v, 7);
}

static void times(void **state) {
        uint64_t v;
        const char *err;
        assert_int_equal(parse_time_us("6ms", &v, NULL), 0);
        assert_int_equal(v, 6000);
        assert_int_equal(parse_time_us("1500us", &v, NULL), 0);
        assert_int_equal(v, 1500);
        assert_int_equal(parse_time_us("2s", &v, NULL), 0);
        assert_int_equal(v, 2000000);
        assert_int_equal(parse_time_us("6 MS", &v, NULL), 0);
        assert_int_equal(v, 6000);
        assert_int_equal(parse_time_us("6", &v, &err), -EINVAL);
        assert_non_null(strstr(err, "needs a unit"));
        assert_int_equal(parse_time_us("6min", &v, &err), -EINVAL);
        assert_non_null(strstr(err, "unknown time unit"));
        assert_int_equal(parse_time_us("-1ms", &v, &err), -EINVAL);
        assert_int_equal(parse_time_us("18446744073709551615s", &v, &err), -ERANGE);
}

static void bools_and_numbers(void **state) {
        bool b;
        assert_int_equal(parse_bool("yes", &b), 0);
        assert_true(b);
        assert_int_equal(parse_bool("Off", &b), 0);
        assert_false(b);
        assert_int_equal(parse_bool("0", &b), 0);
        assert_false(b);
        assert_int_equal(parse_bool("maybe", &b), -EINVAL);
        uint64_t v;
        assert_int_equal(parse_uint("16", 255, &v), 0);
        assert_int_equal(v, 16);
        assert_int_equal(parse_uint("256", 255, &v), -ERANGE);
        assert_int_equal(parse_uint("-1", 255, &v), -EINVAL);
        assert_int_equal(parse_uint("4 ", 255, &v), -EINVAL);
}

static void formatting(void **state) {
        char buf[FORMAT_SIZE_MAX];
        assert_string_equal(format_size(buf, 480), "480 MiB");
        assert_string_equal(format_size(buf, 2048), "2 GiB");
        assert_string_equal(format_size(buf, 1024 * 1024), "1 TiB");
        assert_string_equal(format_size(buf, 0), "0 MiB");
        char t[FORMAT_TIME_MAX];
        assert_string_equal(format_time(t, 6000), "6 ms");
        assert_string_equal(format_time(t, 1500), "1500 us");
        assert_string_equal(format_time(t, 2000000), "2 s");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(sizes),
                cmocka_unit_test(bad_sizes),
                cmocka_unit_test(times),
                cmocka_unit_test(bools_and_numbers),
                cmocka_unit_test(formatting),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
