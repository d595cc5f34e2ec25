// SPDX-License-Identifier: MIT
// Unit tests for loading mxgpu.conf: syntax, drop-ins, merging, every syntax-level problem, the shipped example and man page.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <syslog.h>

#include "conftest.h"
#include "mxgpu/names.h"

static const char *example =
        "[daemon]\n"
        "state_dir = /var/lib/mxgpu\n"
        "libvirt_uri = qemu:///system\n"
        "\n"
        "[gpu *]                  ; every supported card; [gpu s7150] by model; [gpu 0000:03:00.0] by address\n"
        "vfs = 4\n"
        "vf_memory = auto         ; even split; or a size: 2048M, 2G\n"
        "time_slice = 6ms\n"
        "scheduler = solid        ; solid | liquid | fairness | round_robin\n"
        "pf_driver = pci-pf-stub  ; or gim\n"
        "vfio = yes\n"
        "pool = default\n"
        "\n"
        "[vf 0000:03:00.0 2]      ; VF index 2 of that PF\n"
        "vf_memory = 4G\n"
        "time_slice = 12ms\n";

static void example_parses(void **state) {
        struct tmpconf t;
        tc_init(&t);
        tc_write(&t, NULL, example);
        struct mx_diags d = {};
        struct mx_config *cfg = NULL;
        assert_int_equal(mx_config_load(t.main, t.dropin, &cfg, &d), 0);
        assert_int_equal(d.n, 0);
        assert_string_equal(cfg->daemon.state_dir, "/var/lib/mxgpu");
        assert_string_equal(cfg->daemon.socket_path, DEFAULT_SOCKET);
        assert_null(cfg->daemon.socket_group);
        assert_true(cfg->daemon.udev);
        assert_false(cfg->daemon.release_on_stop);
        const struct mx_section *all = mx_config_find_section(cfg, MX_SECTION_GPU_ALL, NULL, NULL, 0);
        assert_non_null(all);
        assert_int_equal(all->settings[MX_KEY_VFS].u, 4);
        assert_int_equal(all->settings[MX_KEY_VFS].line, 6);
        assert_string_equal(all->settings[MX_KEY_VFS].file, t.main);
        assert_int_equal(all->settings[MX_KEY_VF_MEMORY].u, MX_SIZE_AUTO);
        assert_int_equal(all->settings[MX_KEY_TIME_SLICE].u, 6000);
        struct pci_addr a;
        pci_addr_parse("03:00.0", &a);
        const struct mx_section *vf = mx_config_find_section(cfg, MX_SECTION_VF, NULL, &a, 2);
        assert_non_null(vf);
        assert_int_equal(vf->settings[MX_KEY_VF_MEMORY].u, 4096);
        assert_int_equal(vf->settings[MX_KEY_VF_MEMORY].line, 15);
        assert_null(mx_config_find_section(cfg, MX_SECTION_VF, NULL, &a, 1));
        char name[MX_SECTION_NAME_MAX];
        assert_string_equal(mx_section_name(vf, name), "[vf 0000:03:00.0 2]");
        mx_config_free(cfg);
        tc_cleanup(&t);
}

static void dropins_override_key_by_key(void **state) {
        struct tmpconf t;
        tc_init(&t);
        tc_write(&t, NULL, "[gpu *]\nvfs = 4\ntime_slice = 6ms\n[daemon]\nlog_level = info\n");
        /* 20 is read after 10 (lexical order, not creation order) */
        const char *p20 = strdupa(tc_write(&t, "20-late.conf", "[gpu *]\nvfs = 8\n[daemon]\nudev = no\nrelease_on_stop = yes\n"));
        tc_write(&t, "10-early.conf", "[gpu *]\nvfs = 2\ntime_slice = 9ms\n");
        tc_write(&t, "05-ignored.txt", "garbage that would fail\n");
        tc_write(&t, ".hidden.conf", "garbage that would fail\n");
        struct mx_diags d = {};
        struct mx_config *cfg = NULL;
        assert_int_equal(mx_config_load(t.main, t.dropin, &cfg, &d), 0);
        const struct mx_section *all = mx_config_find_section(cfg, MX_SECTION_GPU_ALL, NULL, NULL, 0);
        assert_int_equal(all->settings[MX_KEY_VFS].u, 8);
        assert_string_equal(all->settings[MX_KEY_VFS].file, p20);
        assert_int_equal(all->settings[MX_KEY_TIME_SLICE].u, 9000); /* 10-early overrode, 20-late kept it */
        assert_false(cfg->daemon.udev);
        assert_true(cfg->daemon.release_on_stop);
        assert_int_equal(cfg->daemon.log_level, LOG_INFO);
        assert_int_equal(cfg->n_files, 3);
        mx_config_free(cfg);
        tc_cleanup(&t);
}

static void missing_files(void **state) {
        struct tmpconf t;
        tc_init(&t);
        struct mx_diags d = {};
        struct mx_config *cfg = NULL;
        /* nothing at all: an error naming the main file */
        assert_int_equal(mx_config_load(t.main, t.dropin, &cfg, &d), -ENOENT);
        assert_null(cfg);
        expect_diag(&d, t.main, "cannot open");
        mx_diags_clear(&d);
        /* only a drop-in: fine */
        tc_write(&t, "50-x.conf", "[gpu s7150]\nvfs = 2\n");
        assert_int_equal(mx_config_load(t.main, t.dropin, &cfg, &d), 0);
        assert_non_null(mx_config_find_section(cfg, MX_SECTION_GPU_MODEL, mx_card_by_model("s7150"), NULL, 0));
        mx_config_free(cfg);
        /* main file and no drop-in dir: fine */
        tc_write(&t, NULL, "[gpu *]\n");
        assert_int_equal(mx_config_load(t.main, "/nonexistent/mxgpu.conf.d", &cfg, &d), 0);
        assert_string_equal(cfg->daemon.libvirt_uri, DEFAULT_LIBVIRT_URI);
        mx_config_free(cfg);
        assert_int_equal(d.n, 0);
        /* libvirt_uri empty: libvirt off; a value without a scheme: refused */
        tc_write(&t, NULL, "[daemon]\nlibvirt_uri =\n[gpu *]\n");
        assert_int_equal(mx_config_load(t.main, "/nonexistent/mxgpu.conf.d", &cfg, &d), 0);
        assert_string_equal(cfg->daemon.libvirt_uri, "");
        mx_config_free(cfg);
        assert_int_equal(d.n, 0);
        tc_write(&t, NULL, "[daemon]\nlibvirt_uri = system\n[gpu *]\n");
        assert_int_equal(mx_config_load(t.main, "/nonexistent/mxgpu.conf.d", &cfg, &d), -EINVAL);
        expect_diag(&d, t.main, "leave it empty for no libvirt");
        mx_diags_clear(&d);
        tc_cleanup(&t);
}

static void model_alias_merges(void **state) {
        struct tmpconf t;
        tc_init(&t);
        tc_write(&t, NULL, "[gpu s7150]\nvfs = 2\n[gpu S7150X2]\nvfio = no\n[gpu 03:00.0]\nvfs = 1\n[gpu 0000:03:00.0]\npool = x\n");
        struct mx_diags d = {};
        struct mx_config *cfg = NULL;
        assert_int_equal(mx_config_load(t.main, NULL, &cfg, &d), 0);
        assert_int_equal(cfg->n_sections, 2); /* alias and short address merge into one identity each */
        const struct mx_section *m = mx_config_find_section(cfg, MX_SECTION_GPU_MODEL, mx_card_by_model("s7150"), NULL, 0);
        assert_int_equal(m->settings[MX_KEY_VFS].u, 2);
        assert_int_equal(m->settings[MX_KEY_VFIO].u, 0);
        mx_config_free(cfg);
        tc_cleanup(&t);
}

/* Load text as the main file; expect failure and return the diags. */
static void load_bad(struct tmpconf *t, const char *text, struct mx_diags *d) {
        tc_init(t);
        tc_write(t, NULL, text);
        struct mx_config *cfg = NULL;
        assert_int_equal(mx_config_load(t->main, t->dropin, &cfg, d), -EINVAL);
        assert_null(cfg);
        assert_true(d->n_errors > 0);
}

#define BAD(text, ...)                                        \
        do {                                                  \
                struct tmpconf t;                             \
                struct mx_diags d = {};                       \
                char at[160];                                 \
                load_bad(&t, text, &d);                       \
                (void)at;                                     \
                __VA_ARGS__;                                  \
                mx_diags_clear(&d);                           \
                tc_cleanup(&t);                               \
        } while (0)
#define AT(line) (snprintf(at, sizeof(at), "%s:%d: ", t.main, line), at)

static void invalid_values(void **state) {
        BAD("[gpu *]\nvf_memory = 2048\n", expect_diag(&d, AT(2), "vf_memory = 2048: ", "needs a unit", "2G"));
        BAD("[gpu *]\nvf_memory = 100M\n", expect_diag(&d, AT(2), "vf_memory = 100M: ", "at least 256M", "16M"));
        BAD("[gpu *]\nvf_memory = 300M\n", expect_diag(&d, AT(2), "vf_memory = 300M: ", "steps of 16M"));
        BAD("[gpu *]\nvf_memory = 2X\n", expect_diag(&d, AT(2), "vf_memory = 2X: ", "unknown size unit", "K, M, G or T"));
        BAD("[gpu *]\n\ntime_slice = 0ms\n", expect_diag(&d, AT(3), "time_slice = 0ms: ", "1ms to 255ms"));
        BAD("[gpu *]\ntime_slice = 256ms\n", expect_diag(&d, AT(2), "time_slice = 256ms: ", "1ms to 255ms"));
        BAD("[gpu *]\ntime_slice = 1500us\n", expect_diag(&d, AT(2), "time_slice = 1500us: ", "whole milliseconds", "e.g. 1ms"));
        BAD("[gpu *]\ntime_slice = 6\n", expect_diag(&d, AT(2), "time_slice = 6: ", "needs a unit", "us, ms or s"));
        BAD("[gpu *]\nscheduler = fast\n", expect_diag(&d, AT(2), "scheduler = fast: ", "solid", "liquid"));
        BAD("[gpu *]\npf_driver = amdgpu\n", expect_diag(&d, AT(2), "pf_driver = amdgpu: ", "pci-pf-stub or gim"));
        BAD("[device 0000:01:00.0]\npf_driver = gim\n", expect_diag(&d, AT(2), "pf_driver = gim: ", "pci-pf-stub or keep"));
        BAD("[gpu *]\nvfio = maybe\n", expect_diag(&d, AT(2), "vfio = maybe: ", "yes or no"));
        BAD("[gpu *]\nvfs = -1\n", expect_diag(&d, AT(2), "vfs = -1: ", "whole number of VFs"));
        BAD("[gpu *]\nvfs = 99999999\n", expect_diag(&d, AT(2), "vfs = 99999999: ", "too many VFs"));
        BAD("[gpu *]\npf_reserve = 100M\n", expect_diag(&d, AT(2), "pf_reserve = 100M: ", "multiple of 16M"));
        BAD("[gpu *]\npool = my pool\n", expect_diag(&d, AT(2), "pool = my pool: ", "letters, digits"));
        BAD("[daemon]\nstate_dir = var/lib\n", expect_diag(&d, AT(2), "state_dir = var/lib: ", "absolute path"));
        BAD("[daemon]\nlog_level = loud\n", expect_diag(&d, AT(2), "log_level = loud: ", "err, warning, notice, info or debug"));
        BAD("[daemon]\nsocket_group = -x\n", expect_diag(&d, AT(2), "socket_group = -x: ", "group name"));
}

static void invalid_structure(void **state) {
        BAD("[gpu *]\nvf_mem = 2G\n", expect_diag(&d, AT(2), "vf_mem = 2G: ", "unknown key in [gpu *]", "vf_memory"));
        BAD("[gpus *]\nvfs = 2\n", expect_diag(&d, AT(1), "unknown section [gpus *]", "[gpu ADDRESS]"));
        BAD("[gpu 0000:3:00.0]\nvfs = 2\n", expect_diag(&d, AT(1), "\"0000:3:00.0\" is not a PCI address", "0000:03:00.0"));
        BAD("[gpu rx7900]\n", expect_diag(&d, AT(1), "unknown card model \"rx7900\"", "s7150", "mi300x"));
        BAD("[vf 0000:03:00.0 x]\n", expect_diag(&d, AT(1), "\"x\" is not a VF index", "0 (VF 0) to 255"));
        BAD("[vf 0000:03:00.0]\n", expect_diag(&d, AT(1), "unknown section [vf 0000:03:00.0]"));
        BAD("vfs = 2\n", expect_diag(&d, AT(1), "vfs = 2: ", "outside any section"));
        BAD("[gpu *]\nthis is not a setting\n", expect_diag(&d, AT(2), "not a section header or key = value"));
        BAD("[gpu *\nvfs = 2\n", expect_diag(&d, AT(1), "closing ]"));
        BAD("[device 0000:01:00.0]\nvf_memory = 2G\n",
            expect_diag(&d, AT(2), "vf_memory = 2G: ", "not allowed in [device 0000:01:00.0]", "[gpu] and [vf]"));
        BAD("[vf 0000:03:00.0 1]\nvfs = 2\n", expect_diag(&d, AT(2), "vfs = 2: ", "not allowed in [vf", "[gpu] and [device]"));
        BAD("[daemon]\nvfs = 2\n", expect_diag(&d, AT(2), "vfs = 2: ", "not allowed in [daemon]"));
        BAD("[gpu 0000:01:00.0]\nvfs = 2\n[device 01:00.0]\nvfs = 2\n",
            expect_diag(&d, AT(3), "[device 01:00.0] conflicts with [gpu 0000:01:00.0]", ":1", "either a gpu or a device"));
}

/* Messages that state the allowed range and do not suggest what is refused next. */
static void messages_state_the_range(void **state) {
        BAD("[gpu *]\npf_reserve = 0M\n", expect_diag(&d, AT(2), "pf_reserve = 0M: ", "cannot be 0", "256M to 1G"));
        BAD("[gpu *]\npf_reserve = 4096T\n", expect_diag(&d, AT(2), "pf_reserve = 4096T: ", "too large", "above 4 GiB"));
        BAD("[gpu *]\nvf_memory = 0x10M\n", expect_diag(&d, AT(2), "vf_memory = 0x10M: ", "hexadecimal", "decimal"));
        BAD("[gpu *]\nvf_memory = 99999999999999G\n",
            expect_diag(&d, AT(2), "vf_memory = 99999999999999G: ", "too large", "at least 256M", "192 GiB"));
        BAD("[gpu *]\ntime_slice = 1.5ms\n",
            expect_diag(&d, AT(2), "time_slice = 1.5ms: ", "fractions are not allowed", "1ms to 255ms in whole milliseconds"));
        BAD("[gpu *]\ntime_slice = 999999999999999999s\n",
            expect_diag(&d, AT(2), "time_slice = 999999999999999999s: ", "out of range: use 1ms to 255ms"));
        BAD("[gpu *]\ntime_slice = 6parsecs\n", expect_diag(&d, AT(2), "unknown time unit", "1ms to 255ms"));
        BAD("[gpu *]\ntime_slice = 6parsecs\n", assert_false(mx_diags_contains(&d, "500us")));
        BAD("[gpu *]\ntime_slice = 1.5ms\n", assert_false(mx_diags_contains(&d, "smaller unit")));
        BAD("[daemon]\nlog_level = loud\n", expect_diag(&d, AT(2), "log_level = loud: ", "also emerg, alert, crit, error, or a number 0-7"));
}

/* Comments, delimiters, line length and bytes, each as documented in mxgpu.conf(5). */
static void line_syntax(void **state) {
        struct tmpconf tl;
        struct mx_diags dl = {};
        struct mx_config *cfg = NULL;
        tc_init(&tl);
        /* '#' after a blank is a comment for every key, like ';' */
        tc_write(&tl, NULL, "[daemon]\nstate_dir = /tmp/rc/st # was /var/lib/mxgpu\nlibvirt_uri = qemu:///system#x ; no libvirt\n"
                           "[gpu *] # all\nvfs = 4 # four\n");
        assert_int_equal(mx_config_load(tl.main, NULL, &cfg, &dl), 0);
        assert_int_equal(dl.n, 0);
        assert_string_equal(cfg->daemon.state_dir, "/tmp/rc/st");
        assert_string_equal(cfg->daemon.libvirt_uri, "qemu:///system#x");
        const struct mx_section *all = mx_config_find_section(cfg, MX_SECTION_GPU_ALL, NULL, NULL, 0);
        assert_int_equal(all->settings[MX_KEY_VFS].u, 4);
        mx_config_free(cfg);
        tc_cleanup(&tl);

        /* ':' is not a delimiter */
        BAD("[gpu *]\nvfs: 2\n", expect_diag(&d, AT(2), "vfs: ", "write key = value"));

        /* 198 characters after the blanks at either end and the comment are cut: fine; 199: refused, key named */
        char line[512], text[600];
        snprintf(line, sizeof(line), "pool = %0191d", 0);
        assert_int_equal(strlen(line), 198);
        snprintf(text, sizeof(text), "[gpu *]\n   %s   ; %0200d\n", line, 0);
        tc_init(&tl);
        tc_write(&tl, NULL, text);
        assert_int_equal(mx_config_load(tl.main, NULL, &cfg, &dl), -EINVAL); /* too long a pool name, but read */
        expect_diag(&dl, "pool = 000", "not a pool name");
        mx_diags_clear(&dl);
        tc_cleanup(&tl);
        snprintf(text, sizeof(text), "[gpu *]\n%s0\n", line);
        BAD(text, expect_diag(&d, AT(2), "pool: ", "199 characters long; at most 198 are allowed"));

        /* bytes: NUL, not UTF-8, control characters; the diagnostics never echo them raw */
        struct tmpconf t2;
        tc_init(&t2);
        FILE *f = fopen(t2.main, "we");
        fwrite("[gpu *]\nvfs = 2\0garbage\n", 1, 24, f);
        fclose(f);
        assert_int_equal(mx_config_load(t2.main, NULL, &cfg, &dl), -EINVAL);
        snprintf(text, sizeof(text), "%s:2: a NUL byte at column 8", t2.main);
        expect_diag(&dl, text);
        mx_diags_clear(&dl);
        tc_cleanup(&t2);
        BAD("[gpu *]\npool = caf\xe9\n", expect_diag(&d, AT(2), "byte 0xe9 at column 11 is not UTF-8"));
        BAD("[gpu *]\npool = \x1b]0;pwned\x07x\n", {
                expect_diag(&d, AT(2), "a control character (0x1b) at column 8");
                for (size_t i = 0; i < d.n; i++) {
                        char *l = mx_diag_format(&d.items[i]);
                        assert_null(strchr(l, '\x1b'));
                        free(l);
                }
        });
        BAD("[gpu *]\npool = x\xc3\xa9y z\n", expect_diag(&d, AT(2), "pool = x\xc3\xa9y z: ", "not a pool name"));
        /* escaping itself */
        char *e = mx_escape("a\x1b]0;x\x07\xff\xc2\x9b\xc3\xa9");
        assert_string_equal(e, "a\\x1b]0;x\\x07\\xff\\xc2\\x9b\xc3\xa9");
        free(e);
}

static void warnings(void **state) {
        struct tmpconf t;
        struct mx_diags d = {};
        struct mx_config *cfg = NULL;
        tc_init(&t);
        /* a key twice in one file, also across two copies of a section: both lines named */
        tc_write(&t, NULL, "[gpu 0000:03:00.0]\nvfs = 2\nvfio = no\n[gpu *]\n[gpu 0000:03:00.0]\nvfs = 8\n");
        /* an empty drop-in */
        const char *empty = strdupa(tc_write(&t, "10-empty.conf", "# nothing yet\n"));
        /* twice across files: what drop-ins are for, no warning */
        tc_write(&t, "20-site.conf", "[gpu *]\nvfio = yes\n[gpu 0000:03:00.0]\nvfio = yes\n");
        assert_int_equal(mx_config_load(t.main, t.dropin, &cfg, &d), 0);
        char want[256];
        snprintf(want, sizeof(want), "%s:6: vfs = 8: warning: vfs is set again in [gpu 0000:03:00.0] of this file "
                 "(first at line 2, vfs = 2)", t.main);
        expect_diag(&d, want, "this later line wins");
        snprintf(want, sizeof(want), "%s: warning: no section and no key", empty);
        expect_diag(&d, want);
        assert_int_equal(d.n, 2);
        assert_int_equal(d.n_errors, 0);
        mx_config_free(cfg);
        mx_diags_clear(&d);
        tc_cleanup(&t);
}

static void config_paths(void **state) {
        struct tmpconf t;
        struct mx_diags d = {};
        struct mx_config *cfg = NULL;
        tc_init(&t);
        tc_write(&t, NULL, "[gpu *]\n");
        /* the main file is a directory: said so */
        assert_int_equal(mx_config_load(t.dropin, NULL, &cfg, &d), -EINVAL);
        expect_diag(&d, t.dropin, "is a directory");
        mx_diags_clear(&d);
        /* the drop-in dir: missing is fine unless named, not a directory never is */
        char missing[200];
        snprintf(missing, sizeof(missing), "%s/nothere", t.dir);
        struct mx_config_load_opts req = { .dropin_dir_required = true };
        assert_int_equal(mx_config_load(t.main, missing, &cfg, &d), 0);
        mx_config_free(cfg);
        assert_int_equal(mx_config_load_opts(t.main, missing, &req, &cfg, &d), -EINVAL);
        expect_diag(&d, missing, "no such directory");
        mx_diags_clear(&d);
        assert_int_equal(mx_config_load(t.main, t.main, &cfg, &d), -EINVAL);
        expect_diag(&d, t.main, "not a directory");
        mx_diags_clear(&d);
        /* a stand-in text for a drop-in that does not exist yet is read in its place */
        char p[256];
        snprintf(p, sizeof(p), "%s/90-new.conf", t.dropin);
        struct mx_config_load_opts rep = { .replace_path = p, .replace_text = "[gpu *]\nvfs = 3\n" };
        assert_int_equal(mx_config_load_opts(t.main, t.dropin, &rep, &cfg, &d), 0);
        const struct mx_section *all = mx_config_find_section(cfg, MX_SECTION_GPU_ALL, NULL, NULL, 0);
        assert_int_equal(all->settings[MX_KEY_VFS].u, 3);
        assert_string_equal(all->settings[MX_KEY_VFS].file, p);
        mx_config_free(cfg);
        /* also in a drop-in folder that writing it would create */
        snprintf(p, sizeof(p), "%s/90-new.conf", missing);
        assert_int_equal(mx_config_load_opts(t.main, missing, &rep, &cfg, &d), 0);
        all = mx_config_find_section(cfg, MX_SECTION_GPU_ALL, NULL, NULL, 0);
        assert_string_equal(all->settings[MX_KEY_VFS].file, p);
        mx_config_free(cfg);
        tc_cleanup(&t);
}

static void all_problems_collected(void **state) {
        BAD("[gpu *]\nvfs = x\nvf_memory = 1\n[nope]\nfoo = 1\n[gpu *]\nscheduler = x\n", {
                /* the key in the broken [nope] section is not reported on its own */
                assert_int_equal(d.n_errors, 4);
                expect_diag(&d, AT(2), "vfs = x");
                expect_diag(&d, AT(3), "vf_memory = 1");
                expect_diag(&d, AT(4), "[nope]");
                expect_diag(&d, AT(7), "scheduler = x");
        });
}

static void errors_in_dropins_name_their_file(void **state) {
        struct tmpconf t;
        tc_init(&t);
        tc_write(&t, NULL, "[gpu *]\n");
        const char *p = strdupa(tc_write(&t, "30-bad.conf", "; comment\n\n[gpu *]\nvfio = perhaps\n"));
        struct mx_diags d = {};
        struct mx_config *cfg = NULL;
        assert_int_equal(mx_config_load(t.main, t.dropin, &cfg, &d), -EINVAL);
        char want[256];
        snprintf(want, sizeof(want), "%s:4: vfio = perhaps: ", p);
        expect_diag(&d, want, "yes or no");
        /* JSON form */
        struct json_object *j = mx_diags_to_json(&d);
        assert_non_null(j);
        assert_int_equal(json_object_array_length(j), 1);
        struct json_object *e = json_object_array_get_idx(j, 0), *v;
        assert_true(json_object_object_get_ex(e, "line", &v));
        assert_int_equal(json_object_get_int(v), 4);
        assert_true(json_object_object_get_ex(e, "key", &v));
        assert_string_equal(json_object_get_string(v), "vfio");
        assert_true(json_object_object_get_ex(e, "severity", &v));
        assert_string_equal(json_object_get_string(v), "error");
        json_object_put(j);
        mx_diags_clear(&d);
        tc_cleanup(&t);
}

static const char *src_dir(void) {
        const char *s = getenv("MXGPU_SRC");
        return s ? s : ".";
}

static char *slurp(const char *path) {
        FILE *f = fopen(path, "re");
        assert_non_null(f);
        char *buf = NULL;
        size_t n = 0;
        assert_true(getdelim(&buf, &n, 0, f) > 0);
        fclose(f);
        return buf;
}

static void shipped_example_loads_and_is_documented(void **state) {
        char conf[512], man[512];
        snprintf(conf, sizeof(conf), "%s/conf/mxgpu.conf", src_dir());
        snprintf(man, sizeof(man), "%s/man/mxgpu.conf.5", src_dir());
        struct mx_diags d = {};
        struct mx_config *cfg = NULL;
        assert_int_equal(mx_config_load(conf, NULL, &cfg, &d), 0);
        assert_int_equal(d.n, 0);
        /* its defaults resolve on an S7150 to the reference layout */
        struct pf_facts f = facts_s7150();
        struct pf_desired p;
        assert_int_equal(mx_config_resolve(cfg, &f, &p, &d), 0);
        assert_int_equal(p.num_vfs, 16);
        assert_int_equal(p.vf[15].fb_size_mib, 480);
        /* and on an MI300X, with a policy it runs */
        struct pf_facts m = facts_mi300x();
        assert_int_equal(mx_config_resolve(cfg, &m, &p, &d), 0);
        assert_int_equal(p.scheduler, GPUIOV_SCHED_ROUND_ROBIN);
        mx_config_free(cfg);

        char *conf_text = slurp(conf), *man_text = slurp(man), *conf_full = slurp(conf);
        /* every key the example sets or shows commented out is documented */
        unsigned seen = 0;
        for (char *save = NULL, *l = strtok_r(conf_text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char key[64];
                if (l[0] == '#')
                        l++;
                if (sscanf(l, "%63[a-z_] =", key) != 1 || !strstr(l, "="))
                        continue;
                char want[96];
                snprintf(want, sizeof(want), "\n.B %s\n", key);
                if (!strstr(man_text, want))
                        fail_msg("key %s from conf/mxgpu.conf is not documented as '.B %s' in man/mxgpu.conf.5", key, key);
                seen++;
        }
        assert_true(seen >= 15);
        /* the example shows every key the parser knows, set or commented out */
        for (unsigned k = 0; k < _MX_KEY_MAX; k++) {
                char want[96], want_off[96];
                snprintf(want, sizeof(want), "\n%s =", mx_key_info(k)->name);
                snprintf(want_off, sizeof(want_off), "\n#%s =", mx_key_info(k)->name);
                if (!strstr(conf_full, want) && !strstr(conf_full, want_off))
                        fail_msg("key %s is missing from conf/mxgpu.conf", mx_key_info(k)->name);
        }
        /* mxgpuctl is in section 8 */
        if (strstr(man_text, "mxgpuctl (1)"))
                fail_msg("man/mxgpu.conf.5 cites mxgpuctl(1); the page is mxgpuctl(8)");
        /* and so is every key the parser knows */
        for (unsigned k = 0; k < _MX_KEY_MAX; k++) {
                char want[96];
                snprintf(want, sizeof(want), "\n.B %s\n", mx_key_info(k)->name);
                if (!strstr(man_text, want))
                        fail_msg("key %s is not documented in man/mxgpu.conf.5", mx_key_info(k)->name);
        }
        free(conf_text);
        free(conf_full);
        free(man_text);
}

/* README's example works on every supported card, the MI300X (1 or 8 VFs) included. */
static void readme_example_resolves(void **state) {
        char readme[512];
        snprintf(readme, sizeof(readme), "%s/README.md", src_dir());
        char *text = slurp(readme);
        char *start = strstr(text, "## Configuring");
        assert_non_null(start);
        start = strstr(start, "```ini\n");
        assert_non_null(start);
        start += 7;
        char *end = strstr(start, "```");
        assert_non_null(end);
        *end = 0;
        struct tmpconf t;
        tc_init(&t);
        tc_write(&t, NULL, start);
        struct mx_diags d = {};
        struct mx_config *cfg = NULL;
        assert_int_equal(mx_config_load(t.main, NULL, &cfg, &d), 0);
        struct pf_facts f[] = { facts_s7150(), facts_mi300x(), facts_v710() };
        for (size_t i = 0; i < ARRAY_SIZE(f); i++) {
                struct pf_desired p;
                int r = mx_config_resolve(cfg, &f[i], &p, &d);
                if (r < 0)
                        mx_diags_print(&d, stderr);
                assert_int_equal(r, 0);
        }
        mx_config_free(cfg);
        mx_diags_clear(&d);
        tc_cleanup(&t);
        free(text);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(example_parses),
                cmocka_unit_test(dropins_override_key_by_key),
                cmocka_unit_test(missing_files),
                cmocka_unit_test(model_alias_merges),
                cmocka_unit_test(invalid_values),
                cmocka_unit_test(invalid_structure),
                cmocka_unit_test(all_problems_collected),
                cmocka_unit_test(messages_state_the_range),
                cmocka_unit_test(line_syntax),
                cmocka_unit_test(warnings),
                cmocka_unit_test(config_paths),
                cmocka_unit_test(errors_in_dropins_name_their_file),
                cmocka_unit_test(shipped_example_loads_and_is_documented),
                cmocka_unit_test(readme_example_resolves),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
