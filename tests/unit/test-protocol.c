// SPDX-License-Identifier: MIT
// Unit tests of the control protocol: framing, the length cap, request checks, parameter schemas,
// and the errno -> error name -> exit code table against the docs and the interface description.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "mxgpu/protocol.h"

static void framing(void **state) {
        size_t len = 99;
        assert_int_equal(mx_frame_scan("", 0, 16, &len), 0);
        assert_int_equal(mx_frame_scan("{}", 2, 16, &len), 0);
        assert_int_equal(len, 99); /* untouched without a message */
        assert_int_equal(mx_frame_scan("{}\0{\"a\"", 8, 16, &len), 1);
        assert_int_equal(len, 2);
        assert_int_equal(mx_frame_scan("\0", 1, 16, &len), 1);
        assert_int_equal(len, 0);

        /* The cap counts the NUL: max - 1 bytes of text plus the NUL fit, max bytes of text do not. */
        char buf[17];
        memset(buf, 'x', sizeof(buf));
        buf[15] = 0;
        assert_int_equal(mx_frame_scan(buf, 16, 16, &len), 1);
        assert_int_equal(len, 15);
        buf[15] = 'x';
        assert_int_equal(mx_frame_scan(buf, 15, 16, &len), 0);
        assert_int_equal(mx_frame_scan(buf, 16, 16, &len), -EMSGSIZE);
        /* A NUL beyond the cap does not count: the check happens before any parse. */
        buf[16] = 0;
        assert_int_equal(mx_frame_scan(buf, 17, 16, &len), -EMSGSIZE);
}

static void json_strict(void **state) {
        struct json_object *o;
        assert_int_equal(mx_json_parse("{\"a\":1}", 7, &o), 0);
        json_object_put(o);
        static const char *const bad[] = {
                "", "{", "{\"a\":1} x", "{\"a\":1}{}", "{\"a\":01}", "{a:1}", "\"\xc3\x28\"", "[1,]",
        };
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
                assert_int_equal(mx_json_parse(bad[i], strlen(bad[i]), &o), -EBADMSG);
        /* An embedded NUL never reaches the parser as part of one message. */
        assert_int_equal(mx_json_parse("{}\0", 3, &o), -EBADMSG);
}

static void request_shape(void **state) {
        struct mx_request req;
        const char *why = NULL;
        const char *ok = "{\"method\":\"io.mxgpu.Manager.Show\",\"parameters\":{\"device\":\"x\"},\"more\":false}";
        assert_int_equal(mx_request_parse(ok, strlen(ok), &req, &why), 0);
        assert_string_equal(req.method, "io.mxgpu.Manager.Show");
        assert_false(req.more);
        assert_false(req.oneway);
        assert_non_null(json_object_object_get(req.parameters, "device"));
        mx_request_done(&req);

        const char *np = "{\"method\":\"io.mxgpu.Manager.List\",\"oneway\":true}";
        assert_int_equal(mx_request_parse(np, strlen(np), &req, &why), 0);
        assert_true(req.oneway);
        assert_true(json_object_is_type(req.parameters, json_type_object));
        mx_request_done(&req);

        static const char *const not_requests[] = {
                "[]", "\"text\"", "{}", "{\"method\":null}", "{\"method\":\"List\"}", "{\"method\":\".List\"}",
                "{\"method\":\"io.mxgpu.Manager.\"}", "{\"method\":\"a.B\",\"parameters\":3}",
                "{\"method\":\"a.B\",\"more\":1}", "{\"method\":\"a.B\",\"more\":true,\"oneway\":true}",
                "{\"method\":\"a.B\",\"upgrade\":true}", "{\"method\":\"a.B\",\"id\":1}",
        };
        for (size_t i = 0; i < ARRAY_SIZE(not_requests); i++) {
                why = NULL;
                assert_int_equal(mx_request_parse(not_requests[i], strlen(not_requests[i]), &req, &why), -EPROTO);
                assert_non_null(why);
        }
        assert_int_equal(mx_request_parse("{\"method\"", 9, &req, &why), -EBADMSG);
}

static void params_schema(void **state) {
        const struct mx_method *show = mx_method_find("io.mxgpu.Manager.Show");
        const struct mx_method *apply = mx_method_find("io.mxgpu.Manager.Apply");
        const struct mx_method *list = mx_method_find("io.mxgpu.Manager.List");
        assert_non_null(show);
        assert_true(show->flags & MX_METHOD_READ_ONLY);
        assert_false(apply->flags & MX_METHOD_READ_ONLY);
        assert_true(mx_method_find("io.mxgpu.Manager.Monitor")->flags & MX_METHOD_MORE);
        assert_null(mx_method_find("io.mxgpu.Manager.list"));

        const struct { const struct mx_method *const *m; const char *json; const char *bad; } cases[] = {
                { &show, "{\"device\":\"0000:03:00.0\"}", NULL },
                { &show, "{}", "device" },
                { &show, "{\"device\":null}", "device" },
                { &show, "{\"device\":1}", "device" },
                { &show, "{\"device\":\"a\",\"x\":1}", "x" },
                { &apply, "{}", NULL },
                { &apply, "{\"dry_run\":null}", NULL },
                { &apply, "{\"dry_run\":true}", NULL },
                { &apply, "{\"dry_run\":\"yes\"}", "dry_run" },
                { &list, "{}", NULL },
                { &list, "{\"all\":true}", "all" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                struct json_object *p;
                assert_int_equal(mx_json_parse(cases[i].json, strlen(cases[i].json), &p), 0);
                const char *bad = NULL;
                int r = mx_params_check(*cases[i].m, p, &bad);
                if (cases[i].bad) {
                        assert_int_equal(r, -EINVAL);
                        assert_string_equal(bad, cases[i].bad);
                } else
                        assert_int_equal(r, 0);
                json_object_put(p);
        }
}

/* Every errno the daemon's layers may hand back (the kernel's sysfs errnos, the allocator's, vfio's). */
static const int daemon_errnos[] = {
        EINVAL, ERANGE, EPERM, EACCES, ENOENT, ENODEV, ENXIO, ESTALE, EBUSY, EAGAIN, EEXIST, ENOSPC,
        ETIMEDOUT, EIO, EREMOTEIO, EOPNOTSUPP, ECANCELED, ENOSYS,
};

static void errno_mapping(void **state) {
        static const struct { int err; const char *name; enum mx_exit exit; } expect[] = {
                { -EBUSY, "io.mxgpu.Manager.InUse", MX_EXIT_CONFLICT },
                { -ENOSPC, "io.mxgpu.Manager.NoSpace", MX_EXIT_NO_SPACE },
                { -EINVAL, "io.mxgpu.Manager.InvalidParameter", MX_EXIT_USAGE },
                { -EPERM, "org.varlink.service.PermissionDenied", MX_EXIT_PERMISSION },
                { -EACCES, "org.varlink.service.PermissionDenied", MX_EXIT_PERMISSION },
                { -ENODEV, "io.mxgpu.Manager.NoSuchDevice", MX_EXIT_NOT_FOUND },
                { -ENOENT, "io.mxgpu.Manager.NotFound", MX_EXIT_NOT_FOUND },
                { -ETIMEDOUT, "io.mxgpu.Manager.Timeout", MX_EXIT_FAILED },
                { -EIO, "io.mxgpu.Manager.HardwareError", MX_EXIT_FAILED },
                { -EMSGSIZE, "io.mxgpu.Manager.MessageTooLarge", MX_EXIT_USAGE },
                /* Unknown errnos fall back to Failed; positive values are read as errnos too. */
                { -ENOMEM, "io.mxgpu.Manager.Failed", MX_EXIT_FAILED },
                { -EXFULL, "io.mxgpu.Manager.Failed", MX_EXIT_FAILED },
                { EBUSY, "io.mxgpu.Manager.InUse", MX_EXIT_CONFLICT },
        };
        for (size_t i = 0; i < ARRAY_SIZE(expect); i++) {
                const struct mx_error *e = mx_error_from_errno(expect[i].err);
                assert_string_equal(e->name, expect[i].name);
                assert_int_equal(e->exit_code, expect[i].exit);
                assert_int_equal(mx_exit_from_error_name(e->name), expect[i].exit);
        }
        /* Every errno the daemon may return has its own row, not the fallback. */
        for (size_t i = 0; i < ARRAY_SIZE(daemon_errnos); i++) {
                const struct mx_error *e = mx_error_from_errno(-daemon_errnos[i]);
                assert_int_equal(e->errno_value, daemon_errnos[i]);
                assert_true(e->exit_code > MX_EXIT_OK && e->exit_code <= MX_EXIT_NO_SPACE);
        }
        /* Dispatcher-only names and unknown names. */
        assert_int_equal(mx_exit_from_error_name(VARLINK_ERROR_METHOD_NOT_FOUND), MX_EXIT_UNREACHABLE);
        assert_int_equal(mx_exit_from_error_name(VARLINK_ERROR_INVALID_PARAMETER), MX_EXIT_USAGE);
        assert_int_equal(mx_exit_from_error_name("com.example.Weird"), MX_EXIT_FAILED);
        assert_null(mx_error_from_name("com.example.Weird"));

        struct json_object *o = mx_error_reply_from_errno(-EBUSY, "VF 2 is assigned to vm1");
        struct json_object *p = json_object_object_get(o, "parameters");
        assert_string_equal(json_object_get_string(json_object_object_get(o, "error")), "io.mxgpu.Manager.InUse");
        assert_int_equal(json_object_get_int(json_object_object_get(p, "errno")), EBUSY);
        assert_string_equal(json_object_get_string(json_object_object_get(p, "message")), "VF 2 is assigned to vm1");
        size_t len;
        char *text = mx_message_format(o, &len);
        assert_int_equal(text[len - 1], 0);
        assert_int_equal(strlen(text), len - 1);
        free(text);
        json_object_put(o);
}

static char *slurp(const char *rel) {
        const char *src = getenv("MXGPU_SRC");
        char path[512];
        snprintf(path, sizeof(path), "%s/%s", src ? src : ".", rel);
        FILE *f = fopen(path, "re");
        if (!f)
                return NULL;
        char *buf = calloc(1, 1 << 20);
        size_t n = fread(buf, 1, (1 << 20) - 1, f);
        buf[n] = 0;
        fclose(f);
        return buf;
}

/* The docs and the interface description name every error and method of the tables. */
static void documented(void **state) {
        _cleanup_free_ char *doc = slurp("docs/protocol.md");
        assert_non_null(doc);
        const char *idl = mx_interface_description(MX_INTERFACE);
        const char *svc = mx_interface_description(VARLINK_SERVICE);
        assert_non_null(idl);
        assert_non_null(svc);
        assert_null(mx_interface_description("com.example"));

        size_t n;
        const struct mx_error *errs = mx_error_table(&n);
        for (size_t i = 0; i < n; i++) {
                const char *short_name = strrchr(errs[i].name, '.') + 1;
                char want[128];
                snprintf(want, sizeof(want), "`%s`", errs[i].name);
                if (!strstr(doc, want))
                        fail_msg("docs/protocol.md does not document %s", errs[i].name);
                snprintf(want, sizeof(want), "error %s (", short_name);
                if (!strstr(strncmp(errs[i].name, MX_INTERFACE ".", strlen(MX_INTERFACE) + 1) == 0 ? idl : svc, want))
                        fail_msg("the interface description does not declare %s", errs[i].name);
        }
        const struct mx_method *ms = mx_method_table(&n);
        for (size_t i = 0; i < n; i++) {
                char want[128];
                snprintf(want, sizeof(want), "`%s`", ms[i].name);
                if (!strstr(doc, want))
                        fail_msg("docs/protocol.md does not document %s", ms[i].name);
                snprintf(want, sizeof(want), "method %s(", strrchr(ms[i].name, '.') + 1);
                if (!strstr(strncmp(ms[i].name, MX_INTERFACE ".", strlen(MX_INTERFACE) + 1) == 0 ? idl : svc, want))
                        fail_msg("the interface description does not declare %s", ms[i].name);
                /* The method's row in docs/protocol.md names each parameter. */
                snprintf(want, sizeof(want), "| `%s` |", ms[i].name);
                const char *row = strstr(doc, want), *row_end = row ? strchr(row, '\n') : NULL;
                for (const struct mx_param *p = ms[i].params; row && row_end && p && p->name; p++) {
                        char pw[64];
                        snprintf(pw, sizeof(pw), "`%s:", p->name);
                        const char *at = strstr(row, pw);
                        if (!at || at > row_end)
                                fail_msg("docs/protocol.md: the row of %s does not name parameter %s", ms[i].name, p->name);
                }
                for (const struct mx_param *p = ms[i].params; p && p->name; p++) {
                        static const char *const types[] = { "string", "int", "bool", "object", "[]" };
                        snprintf(want, sizeof(want), "%s: %s%s", p->name, p->required ? "" : "?", types[p->type]);
                        if (!strstr(idl, want) && !strstr(svc, want))
                                fail_msg("%s: parameter %s is not declared as %s", ms[i].name, p->name,
                                         p->required ? "required" : "optional");
                }
        }
        /* Each exit code is documented in the man page. */
        _cleanup_free_ char *man = slurp("man/mxgpuctl.8");
        assert_non_null(man);
        for (int code = MX_EXIT_OK; code <= MX_EXIT_NO_SPACE; code++) {
                char want[32];
                snprintf(want, sizeof(want), ".B %d\n", code);
                if (!strstr(man, want))
                        fail_msg("man/mxgpuctl.8 does not document exit code %d", code);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(framing),
                cmocka_unit_test(json_strict),
                cmocka_unit_test(request_shape),
                cmocka_unit_test(params_schema),
                cmocka_unit_test(errno_mapping),
                cmocka_unit_test(documented),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
