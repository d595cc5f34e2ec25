// SPDX-License-Identifier: MIT
// Unit tests of the drop-in editor (--persist) and of config copies with live settings on top.
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

#include "mxgpu/config.h"
#include "mxgpu/dropin.h"

static char *slurp(const char *path) {
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *buf = calloc(1, 65536);
        size_t n = fread(buf, 1, 65535, f);
        buf[n] = 0;
        fclose(f);
        return buf;
}

static void edits_keep_other_lines(void **state) {
        char dir[] = "/tmp/mxgpu-dropin.XXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[256];
        snprintf(path, sizeof(path), "%s/sub/90-mxgpuctl.conf", dir);
        /* A missing file and directory: created. */
        struct mx_dropin_edit e1[] = { { "vf 0000:03:00.0 1", "vf_memory", "1024M" } };
        assert_int_equal(mx_dropin_update(path, e1, 1), 0);
        char *s = slurp(path);
        assert_string_equal(s, "[vf 0000:03:00.0 1]\nvf_memory = 1024M\n");
        free(s);
        /* Comments and other sections stay; a key is replaced in place, another appended to its section. */
        FILE *f = fopen(path, "we");
        fputs("# mine\n[gpu *]\nvfs = 4\n\n[vf  0000:03:00.0   1]\nvf_memory=512M ; old\n\n[vf 0000:03:00.0 3]\ntime_slice = 3ms\n", f);
        fclose(f);
        struct mx_dropin_edit e2[] = {
                { "vf 0000:03:00.0 1", "vf_memory", "2048M" },
                { "vf 0000:03:00.0 1", "time_slice", "9ms" },
                { "vf 0000:03:00.0 3", NULL, NULL },
                { "gpu 0000:03:00.0", "vfs", "2" },
                { "gpu *", "nothing", NULL },
        };
        assert_int_equal(mx_dropin_update(path, e2, 5), 0);
        s = slurp(path);
        assert_string_equal(s, "# mine\n[gpu *]\nvfs = 4\n\n[vf  0000:03:00.0   1]\nvf_memory = 2048M\ntime_slice = 9ms\n\n"
                               "[gpu 0000:03:00.0]\nvfs = 2\n");
        free(s);
        /* The result is a valid config. */
        struct mx_config *cfg = NULL;
        struct mx_diags diags = {};
        assert_int_equal(mx_config_load(path, NULL, &cfg, &diags), 0);
        mx_config_free(cfg);
        mx_diags_clear(&diags);
        unlink(path);
        snprintf(path, sizeof(path), "%s/sub", dir);
        rmdir(path);
        rmdir(dir);
}

static void copy_and_set(void **state) {
        struct mx_config *cfg = NULL, *copy = NULL;
        struct mx_diags diags = {};
        assert_int_equal(mx_config_new_default(&cfg), 0);
        struct pci_addr a;
        assert_int_equal(pci_addr_parse("0000:03:00.0", &a), 0);
        assert_int_equal(mx_config_set(cfg, MX_SECTION_GPU_ADDR, &a, 0, MX_KEY_VFS, "4", "live", &diags), 0);
        assert_int_equal(mx_config_copy(cfg, &copy), 0);
        mx_config_free(cfg);
        const struct mx_section *s = mx_config_find_section(copy, MX_SECTION_GPU_ADDR, NULL, &a, 0);
        assert_non_null(s);
        assert_true(s->settings[MX_KEY_VFS].set);
        assert_int_equal(s->settings[MX_KEY_VFS].u, 4);
        assert_string_equal(s->settings[MX_KEY_VFS].file, "live");
        /* The file's rules apply: whole milliseconds only, the key must belong to the section. */
        assert_int_equal(mx_config_set(copy, MX_SECTION_VF, &a, 1, MX_KEY_TIME_SLICE, "1500us", "live", &diags), -EINVAL);
        assert_true(mx_diags_has_errors(&diags));
        assert_int_equal(mx_config_set(copy, MX_SECTION_VF, &a, 1, MX_KEY_VFS, "2", "live", NULL), -EINVAL);
        assert_int_equal(mx_config_set(copy, MX_SECTION_VF, &a, 1, MX_KEY_TIME_SLICE, "12ms", "live", NULL), 0);
        assert_int_equal(mx_config_find_section(copy, MX_SECTION_VF, NULL, &a, 1)->settings[MX_KEY_TIME_SLICE].u, 12000);
        mx_config_free(copy);
        mx_diags_clear(&diags);
}

/* A section written twice: the config merges both copies, so every copy is edited. */
static void every_copy_of_a_section(void **state) {
        char dir[] = "/tmp/mxgpu-dropin.XXXXXX";
        assert_non_null(mkdtemp(dir));
        char path[256];
        snprintf(path, sizeof(path), "%s/90-mxgpuctl.conf", dir);
        FILE *f = fopen(path, "we");
        fputs("[gpu 0000:03:00.0]\nvfio = no\n\n[vf 0000:03:00.0 5]\ntime_slice = 2ms\n[gpu 0000:03:00.0]\nvfs = 8\n"
              "[vf 0000:03:00.0 5]\nvf_memory = 1G\n[gpu 0000:03:00.0]\nvfs = 6\n", f);
        fclose(f);
        struct mx_dropin_edit e[] = {
                { "gpu 0000:03:00.0", "vfs", "2" },
                { "vf 0000:03:00.0 5", NULL, NULL },
                { "gpu 0000:03:00.0", "vfio", NULL },
                { "gpu 0000:03:00.0", "pool", "p" },
        };
        char *text = NULL;
        assert_int_equal(mx_dropin_render(path, e, 4, &text), 0);
        assert_string_equal(text, "[gpu 0000:03:00.0]\npool = p\n\n[gpu 0000:03:00.0]\nvfs = 2\n[gpu 0000:03:00.0]\nvfs = 2\n");
        /* rendering does not write */
        char *s = slurp(path);
        assert_non_null(strstr(s, "vfs = 8"));
        free(s);
        assert_int_equal(mx_dropin_write(path, text), 0);
        s = slurp(path);
        assert_string_equal(s, text);
        free(s);
        free(text);
        unlink(path);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(edits_keep_other_lines),
                cmocka_unit_test(every_copy_of_a_section),
                cmocka_unit_test(copy_and_set),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
