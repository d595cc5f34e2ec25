// SPDX-License-Identifier: MIT
// Unit tests for the process-wide root (src/lib/paths.c): what mx_root_set() accepts and refuses.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mxgpu/names.h"
#include "mxgpu/paths.h"

static void root_set(void **state) {
        char dir[] = "/tmp/mxgpu-paths-XXXXXX", file[64], slash[64], buf[MX_PATH_MAX];
        assert_non_null(mkdtemp(dir));
        snprintf(file, sizeof(file), "%s/file", dir);
        snprintf(slash, sizeof(slash), "%s//", dir);
        FILE *f = fopen(file, "w");
        assert_non_null(f);
        fclose(f);

        assert_int_equal(mx_root_set(slash), 0); /* trailing slashes dropped */
        assert_string_equal(mx_root(), dir);
        assert_int_equal(mx_path(buf, sizeof(buf), "/sys/bus/pci"), (int)strlen(dir) + 12);
        /* A refused root leaves the one in force. */
        assert_int_equal(mx_root_set("relative/dir"), -EINVAL);
        assert_int_equal(mx_root_set("/nonexistent-mxgpu-root"), -ENOENT);
        assert_int_equal(mx_root_set(file), -ENOTDIR);
        assert_string_equal(mx_root(), dir);
        assert_string_equal(mx_root_error(-ENOENT), "no such directory");
        assert_string_equal(mx_root_error(-ENOTDIR), "not a directory");
        assert_string_equal(mx_root_error(-EINVAL), "must be an absolute path of a directory");
        /* "", "/" and NULL: the real host. */
        assert_int_equal(mx_root_set("/"), 0);
        assert_string_equal(mx_root(), "");
        assert_int_equal(mx_root_set(dir), 0);
        assert_int_equal(mx_root_set(NULL), 0);
        assert_string_equal(mx_root(), "");

        /* $MXGPU_ROOT is checked the same way; unset leaves the root alone. */
        setenv(ENV_ROOT, dir, 1);
        assert_int_equal(mx_root_from_env(), 0);
        assert_string_equal(mx_root(), dir);
        setenv(ENV_ROOT, "/nonexistent-mxgpu-root", 1);
        assert_int_equal(mx_root_from_env(), -ENOENT);
        unsetenv(ENV_ROOT);
        assert_int_equal(mx_root_from_env(), 0);
        assert_string_equal(mx_root(), dir);
        mx_root_set(NULL);
        unlink(file);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(root_set),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
