// SPDX-License-Identifier: MIT
// Tests of the mxgpuctl program (built next to this test) against an in-process control server that
// serves canned List and Show replies: tables, --json, exit codes, socket selection.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "mxgpu/log.h"
#include "mxgpu/protocol.h"
#include "../../src/daemon/ctlserver.h"

static const char pf_json[] =
        "{\"address\":\"0000:03:00.0\",\"model\":\"FirePro S7150x2\",\"state\":\"degraded\","
        "\"reason\":\"VF 1 is not bound to vfio-pci\",\"driver\":\"gim\",\"num_vfs\":2,\"total_vfs\":16,"
        "\"memory\":{\"total_mib\":8192,\"reserved_mib\":272,\"vf_mib\":7680,\"free_mib\":240},"
        "\"scheduler\":\"round-robin\",\"override\":{\"num_vfs\":2,\"vfs\":["
        "{\"index\":0,\"memory_offset_mib\":272,\"memory_size_mib\":3840,\"time_slice_us\":null},"
        "{\"index\":1,\"memory_offset_mib\":null,\"memory_size_mib\":null,\"time_slice_us\":12000}]},\"vfs\":["
        "{\"index\":0,\"address\":\"0000:03:02.0\",\"driver\":\"vfio-pci\",\"memory_offset_mib\":272,"
        "\"memory_size_mib\":3840,\"time_slice_ms\":6,\"share_percent\":50,\"state\":\"ready\",\"reason\":null,"
        "\"in_use\":false,\"vm\":\"web01\",\"vfio_group\":\"/dev/vfio/27\"},"
        "{\"index\":1,\"address\":\"0000:03:02.1\",\"driver\":null,\"memory_offset_mib\":4112,"
        "\"memory_size_mib\":3840,\"time_slice_ms\":6,\"share_percent\":50,\"state\":\"degraded\","
        "\"reason\":\"not bound to vfio-pci\",\"in_use\":true,\"vm\":null,\"vfio_group\":null}]}";

static struct {
        char dir[64], path[128], ctl[512];
        sd_event *e;
        struct ctl_server *server;
} T;

static struct json_object *pf_object(void) {
        struct json_object *o;
        assert_int_equal(mx_json_parse(pf_json, strlen(pf_json), &o), 0);
        return o;
}

static int h_list(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct json_object *p = json_object_new_object(), *a = json_object_new_array();
        json_object_array_add(a, pf_object());
        json_object_object_add(p, "pfs", a);
        return ctl_call_reply(call, p);
}

static int h_show(struct ctl_call *call, struct json_object *params, void *userdata) {
        const char *dev = json_object_get_string(json_object_object_get(params, "device"));
        struct json_object *p = json_object_new_object(), *pf = pf_object();
        if (streq(dev, "0000:03:00.0")) {
                json_object_object_add(p, "pf", pf);
                return ctl_call_reply(call, p);
        }
        json_object_put(p);
        if (streq(dev, "0000:03:02.1")) {
                struct json_object *vf = json_object_get(json_object_array_get_idx(json_object_object_get(pf, "vfs"), 1));
                json_object_put(pf);
                p = json_object_new_object();
                json_object_object_add(p, "vf", vf);
                json_object_object_add(p, "parent", json_object_new_string("0000:03:00.0"));
                return ctl_call_reply(call, p);
        }
        json_object_put(pf);
        return ctl_call_errorf(call, -ENODEV, "%s is not a PCI function of an MxGPU card", dev);
}

/* Pool, Attach and Detach echo what they were given, so a test sees how the arguments were read. */
static int h_pool(struct ctl_call *call, struct json_object *params, void *userdata) {
        const char *name = json_object_get_string(json_object_object_get(params, "pool"));
        if (name)
                return ctl_call_errorf(call, -ENOENT, "no pool named '%s'", name);
        struct json_object *p = json_object_new_object();
        json_object_object_add(p, "pools", json_object_new_array());
        return ctl_call_reply(call, p);
}

static int h_attach(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct json_object *p = json_object_new_object();
        json_object_object_add(p, "domain", json_object_get(json_object_object_get(params, "domain")));
        json_object_object_add(p, "vf", json_object_new_string("0000:03:02.1"));
        json_object_object_add(p, "pool", json_object_new_string("default"));
        json_object_object_add(p, "memory_mib", json_object_get(json_object_object_get(params, "memory_min_mib")));
        return ctl_call_reply(call, p);
}

static int h_detach(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct json_object *p = json_object_new_object(), *vfs = json_object_new_array();
        struct json_object *vf = json_object_object_get(params, "vf");
        json_object_array_add(vfs, json_object_new_string(vf ? json_object_get_string(vf) : "0000:03:02.0"));
        json_object_object_add(p, "domain", json_object_get(json_object_object_get(params, "domain")));
        json_object_object_add(p, "vfs", vfs);
        return ctl_call_reply(call, p);
}

/* Monitor: one event of each type the daemon sends, then the end of the stream (so mxgpuctl exits). */
static const char *const events[] = {
        "{\"type\":\"subscribed\"}",
        "{\"event\":{\"state\":\"degraded\",\"reason\":\"VF 1 is not bound to vfio-pci\",\"num_vfs\":2,"
        "\"type\":\"pf-state\",\"device\":\"0000:03:00.0\"}}",
        "{\"event\":{\"num_vfs\":3,\"state\":\"ready\",\"type\":\"vf-count-changed\",\"device\":\"0000:03:00.0\"}}",
        "{\"event\":{\"address\":\"0000:03:02.1\",\"memory_offset_mib\":6928,\"memory_size_mib\":1024,\"time_slice_ms\":6,"
        "\"moves\":[{\"index\":2}],\"type\":\"vf-resized\",\"device\":\"0000:03:00.0\",\"vf\":1}}",
        "{\"event\":{\"domain\":\"web01\",\"type\":\"vf-assigned\",\"device\":\"0000:03:02.1\"}}",
        "{\"event\":{\"domain\":\"web01\",\"message\":\"detached\",\"type\":\"vf-released\",\"device\":\"0000:03:02.1\"}}",
        "{\"event\":{\"domain\":\"db\",\"message\":\"recorded as its assignment\",\"type\":\"vf-adopted\","
        "\"device\":\"0000:03:02.2\"}}",
        "{\"event\":{\"domain\":\"db2\",\"message\":\"already assigned to db\",\"type\":\"vf-conflict\","
        "\"device\":\"0000:03:02.2\"}}",
        "{\"event\":{\"colour\":\"blue\",\"type\":\"vf-painted\",\"device\":\"0000:03:02.3\"}}",
};

static int h_monitor(struct ctl_call *call, struct json_object *params, void *userdata) {
        for (size_t i = 0; i < ARRAY_SIZE(events); i++) {
                struct json_object *o;
                assert_int_equal(mx_json_parse(events[i], strlen(events[i]), &o), 0);
                ctl_call_reply_more(call, o);
        }
        return ctl_call_reply(call, NULL);
}

static const struct ctl_method methods[] = {
        { MX_INTERFACE ".Monitor", h_monitor },
        { MX_INTERFACE ".List", h_list },
        { MX_INTERFACE ".Show", h_show },
        { MX_INTERFACE ".Pool", h_pool },
        { MX_INTERFACE ".Attach", h_attach },
        { MX_INTERFACE ".Detach", h_detach },
};

static int setup(void **state) {
        memset(&T, 0, sizeof(T));
        ssize_t n = readlink("/proc/self/exe", T.ctl, sizeof(T.ctl) - 16);
        if (n < 0)
                return -1;
        T.ctl[n] = 0;
        strcpy(strrchr(T.ctl, '/'), "/../mxgpuctl");
        strcpy(T.dir, "/tmp/mxgpu-ctl-XXXXXX");
        if (!mkdtemp(T.dir) || chmod(T.dir, 0755) < 0)
                return -1;
        snprintf(T.path, sizeof(T.path), "%s/mxgpud.sock", T.dir);
        if (sd_event_new(&T.e) < 0 ||
            ctl_server_new(T.e, T.path, (gid_t)-1, methods, ARRAY_SIZE(methods), NULL, &T.server) < 0)
                return -1;
        return 0;
}

static int teardown(void **state) {
        ctl_server_free(T.server);
        sd_event_unref(T.e);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", T.dir);
        return system(cmd) == 0 ? 0 : -1;
}

struct run {
        int status;
        char out[16384], err[4096];
        size_t n_out, n_err;
};

static void drain(int fd, char *buf, size_t size, size_t *n) {
        for (;;) {
                ssize_t k = read(fd, buf + *n, size - 1 - *n);
                if (k <= 0)
                        break;
                *n += (size_t)k;
        }
        buf[*n] = 0;
}

/* Run mxgpuctl with args (NULL-terminated) as uid (0 = as we are), serving its calls meanwhile. */
static struct run *run_ctl(uid_t uid, const char *env_socket, ...) {
        const char *argv[16] = { "mxgpuctl" };
        va_list ap;
        va_start(ap, env_socket);
        for (size_t i = 1; i < ARRAY_SIZE(argv) - 1 && (argv[i] = va_arg(ap, const char *)); i++)
                ;
        va_end(ap);
        int out[2], err[2];
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        assert_int_equal(pipe2(err, O_CLOEXEC), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(out[1], 1);
                dup2(err[1], 2);
                if (uid != 0 && (setgroups(0, NULL) < 0 || setgid(uid) < 0 || setuid(uid) < 0))
                        _exit(99);
                if (env_socket)
                        setenv("MXGPU_SOCKET", env_socket, 1);
                else
                        unsetenv("MXGPU_SOCKET");
                unsetenv("NO_COLOR");
                execv(T.ctl, (char **)argv);
                _exit(98);
        }
        close(out[1]);
        close(err[1]);
        fcntl(out[0], F_SETFL, O_NONBLOCK);
        fcntl(err[0], F_SETFL, O_NONBLOCK);
        struct run *r = calloc(1, sizeof(*r));
        int status;
        while (waitpid(pid, &status, WNOHANG) != pid) {
                assert_true(sd_event_run(T.e, 10 * 1000) >= 0);
                drain(out[0], r->out, sizeof(r->out), &r->n_out);
                drain(err[0], r->err, sizeof(r->err), &r->n_err);
        }
        drain(out[0], r->out, sizeof(r->out), &r->n_out);
        drain(err[0], r->err, sizeof(r->err), &r->n_err);
        close(out[0]);
        close(err[0]);
        assert_true(WIFEXITED(status));
        r->status = WEXITSTATUS(status);
        if (getenv("TEST_VERBOSE")) /* to look at the output */
                fprintf(stderr, "%s%s", r->out, r->err);
        return r;
}

#define SOCK "--socket", T.path

/* Expect exit status and a piece of stderr (NULL: nothing on stderr) and of stdout (NULL: any; "": nothing). */
static void expect(struct run *r, int status, const char *err, const char *out) {
        if (r->status != status || (err ? !strstr(r->err, err) : r->n_err > 0) ||
            (out && (*out ? !strstr(r->out, out) : r->n_out > 0)))
                fail_msg("exit %d (want %d), stderr '%s' (want '%s'), stdout '%s' (want '%s')", r->status, status, r->err,
                         err ?: "", r->out, out ?: "");
        free(r);
}

static void list_table(void **state) {
        struct run *r = run_ctl(0, NULL, SOCK, "list", NULL);
        assert_int_equal(r->status, 0);
        /* Columns line up: every line has the state column at the header's offset. */
        const char *header = r->out;
        const char *state_col = strstr(header, "STATE");
        assert_non_null(state_col);
        size_t off = (size_t)(state_col - header);
        const char *pf = strstr(r->out, "\n0000:03:00.0");
        const char *vf1 = strstr(r->out, "\n0000:03:02.1");
        assert_non_null(pf);
        assert_non_null(vf1);
        assert_memory_equal(pf + 1 + off, "degraded", 8);
        assert_memory_equal(vf1 + 1 + off, "degraded", 8);
        assert_non_null(strstr(r->out, "FirePro S7150x2"));
        assert_non_null(strstr(r->out, "3840 @ 272"));
        assert_non_null(strstr(r->out, "2/16"));
        assert_non_null(strstr(r->out, "web01"));
        /* Not a terminal: no escape sequences. */
        assert_null(strchr(r->out, '\033'));
        assert_non_null(strstr(r->out, "0000:03:00.0: degraded: VF 1 is not bound to vfio-pci\n"));
        /* A VF in use says so (why resize refuses it); a live override is named after the table. */
        const char *eol = strchr(vf1 + 1, '\n');
        assert_true(eol && eol - strlen("(in use)") > vf1 && strncmp(eol - strlen("(in use)"), "(in use)", 8) == 0);
        assert_non_null(strstr(r->out, "0000:03:00.0: live override (dropped on reload): 2 VFs; VF 0 3840 MiB at 272 MiB; "
                                       "VF 1 12 ms time slice\n"));
        free(r);
}

static void list_json(void **state) {
        struct run *r = run_ctl(0, T.path, "list", "--json", NULL); /* the socket from $MXGPU_SOCKET */
        assert_int_equal(r->status, 0);
        struct json_object *o;
        assert_int_equal(mx_json_parse(r->out, strlen(r->out) - 1, &o), 0);
        struct json_object *pf = json_object_array_get_idx(json_object_object_get(o, "pfs"), 0);
        struct json_object *want = pf_object();
        assert_true(json_object_equal(pf, want));
        json_object_put(want);
        json_object_put(o);
        free(r);
}

static void show_pf_and_vf(void **state) {
        struct run *r = run_ctl(0, NULL, SOCK, "show", "03:00.0", NULL);
        assert_int_equal(r->status, 0);
        assert_non_null(strstr(r->out, "model:         FirePro S7150x2\n"));
        assert_non_null(strstr(r->out, "reason:        VF 1 is not bound to vfio-pci\n"));
        assert_non_null(strstr(r->out, "0000:03:02.0"));
        assert_non_null(strstr(r->out, "override:      live, dropped on reload: 2 VFs\n"
                                       "               VF 0: 3840 MiB at 272 MiB\n"
                                       "               VF 1: 12 ms time slice\n"));
        free(r);
        r = run_ctl(0, NULL, "show", "0000:03:02.1", SOCK, NULL);
        assert_int_equal(r->status, 0);
        assert_non_null(strstr(r->out, "pf:            0000:03:00.0\n"));
        assert_non_null(strstr(r->out, "vm:            -\nin use:        yes: its VFIO group is held open"));
        free(r);
}

static void exit_codes(void **state) {
        struct run *r = run_ctl(0, NULL, SOCK, "show", "0000:09:00.0", NULL);
        assert_int_equal(r->status, MX_EXIT_NOT_FOUND);
        assert_non_null(strstr(r->err, "0000:09:00.0 is not a PCI function of an MxGPU card (io.mxgpu.Manager.NoSuchDevice)"));
        free(r);
        r = run_ctl(0, NULL, SOCK, "show", "not-an-address", NULL);
        assert_int_equal(r->status, MX_EXIT_USAGE);
        free(r);
        r = run_ctl(0, NULL, SOCK, "frobnicate", NULL);
        assert_int_equal(r->status, MX_EXIT_USAGE);
        free(r);
        r = run_ctl(0, NULL, "--socket", "/nonexistent/mxgpud.sock", "list", NULL);
        assert_int_equal(r->status, MX_EXIT_UNREACHABLE);
        assert_non_null(strstr(r->err, "cannot reach mxgpud at /nonexistent/mxgpud.sock: No such file or directory - is mxgpud running?"));
        free(r);
        if (geteuid() == 0) {
                r = run_ctl(65534, NULL, SOCK, "list", NULL);
                assert_int_equal(r->status, MX_EXIT_PERMISSION);
                assert_non_null(strstr(r->err, "PermissionDenied"));
                free(r);
        }
}

static void ping_version_help(void **state) {
        struct run *r = run_ctl(0, NULL, SOCK, "ping", NULL);
        assert_int_equal(r->status, 0);
        assert_non_null(strstr(r->out, "mxgpud " MXGPU_VERSION " at "));
        free(r);
        r = run_ctl(0, NULL, SOCK, "version", "--json", NULL);
        assert_int_equal(r->status, 0);
        assert_non_null(strstr(r->out, "\"protocol\": 1"));
        free(r);
        /* version says the client's version even when the daemon does not answer (exit 3). */
        expect(run_ctl(0, NULL, "--socket", "/nonexistent/mxgpud.sock", "version", NULL), MX_EXIT_UNREACHABLE,
               "cannot reach mxgpud at /nonexistent/mxgpud.sock", "mxgpuctl " MXGPU_VERSION "\ninterface " MX_INTERFACE);
        r = run_ctl(0, NULL, "--socket", "/nonexistent/mxgpud.sock", "version", "--json", NULL);
        assert_int_equal(r->status, MX_EXIT_UNREACHABLE);
        struct json_object *o;
        assert_int_equal(mx_json_parse(r->out, r->n_out - 1, &o), 0);
        assert_string_equal(json_object_get_string(json_object_object_get(o, "mxgpuctl")), MXGPU_VERSION);
        assert_true(json_object_object_get_ex(o, "daemon", NULL) && !json_object_object_get(o, "daemon"));
        assert_string_equal(json_object_get_string(json_object_object_get(o, "error")), "io.mxgpu.Ctl.Unreachable");
        json_object_put(o);
        free(r);
        r = run_ctl(0, NULL, "--help", NULL);
        assert_int_equal(r->status, 0);
        /* Help is generated from the command table. */
        /* (the column width follows the longest verb, so only the order within the line is fixed) */
        const char *show = strstr(r->out, "  show PF|VF  ");
        assert_non_null(show);
        const char *eol = strchr(show, '\n'), *summary = strstr(show, "show one GPU");
        assert_true(summary && eol && summary < eol);
        assert_non_null(strstr(r->out, "  resize VF [--memory SIZE] [--time-slice T] [--dry-run] [--persist]\n"));
        assert_non_null(strstr(r->out, "  set-vfs PF N [--dry-run] [--persist]\n"));
        assert_non_null(strstr(r->out, "  version "));
        /* Optional arguments are part of the verb list too. */
        assert_non_null(strstr(r->out, "  pool [POOL] "));
        assert_non_null(strstr(r->out, "  detach DOMAIN [VF] "));
        assert_non_null(strstr(r->out, "  doctor [--libvirt-socket PATH] "));
        free(r);
        r = run_ctl(0, NULL, "show", "--help", NULL);
        assert_int_equal(r->status, 0);
        assert_non_null(strstr(r->out, "Usage: mxgpuctl [OPTIONS] show PF|VF\n\nShow one GPU (PF) with its VFs, or one VF.\n"));
        free(r);
        r = run_ctl(0, NULL, "list", "--help", NULL); /* no arguments: no space after the verb */
        assert_int_equal(r->status, 0);
        assert_non_null(strstr(r->out, "Usage: mxgpuctl [OPTIONS] list\n\nList GPUs"));
        free(r);
        /* No verb: a hint on stderr, not the help on stdout. */
        expect(run_ctl(0, NULL, NULL), MX_EXIT_USAGE, "mxgpuctl: no verb given; see mxgpuctl --help\n", "");
        expect(run_ctl(0, NULL, "--json", NULL), MX_EXIT_USAGE, "no verb given", "");
}

/* stdout of a run is one JSON error object named name whose message contains message. */
static void expect_json_error(struct run *r, int status, const char *name, const char *message) {
        struct json_object *o = NULL;
        assert_int_equal(r->status, status);
        if (r->n_out == 0 || mx_json_parse(r->out, r->n_out - 1, &o) < 0)
                fail_msg("not one JSON object on stdout: '%s' (stderr '%s')", r->out, r->err);
        const char *msg = json_object_get_string(json_object_object_get(json_object_object_get(o, "parameters"), "message"));
        assert_string_equal(json_object_get_string(json_object_object_get(o, "error")), name);
        if (!msg || !strstr(msg, message))
                fail_msg("message '%s', want '%s'", msg ?: "(none)", message);
        assert_true(json_object_is_type(json_object_object_get(json_object_object_get(o, "parameters"), "errno"), json_type_int));
        assert_non_null(strstr(r->err, message)); /* the words stay on stderr */
        json_object_put(o);
        free(r);
}

/* --json: every failure once the verb is known prints one error object of the daemon's shape on stdout. */
static void json_errors(void **state) {
        expect_json_error(run_ctl(0, NULL, SOCK, "--json", "show", "0000:09:00.0", NULL), MX_EXIT_NOT_FOUND,
                          "io.mxgpu.Manager.NoSuchDevice", "0000:09:00.0 is not a PCI function");
        expect_json_error(run_ctl(0, NULL, "--socket", "/nonexistent/mxgpud.sock", "list", "--json", NULL), MX_EXIT_UNREACHABLE,
                          "io.mxgpu.Ctl.Unreachable", "cannot reach mxgpud at /nonexistent/mxgpud.sock");
        expect_json_error(run_ctl(0, NULL, SOCK, "--json", "list", "--bogus", NULL), MX_EXIT_USAGE, "io.mxgpu.Ctl.UsageError",
                          "unknown option --bogus");
        expect_json_error(run_ctl(0, NULL, SOCK, "--json", "show", "nowhere", NULL), MX_EXIT_USAGE, "io.mxgpu.Ctl.UsageError",
                          "'nowhere' is not a PCI address");
        expect_json_error(run_ctl(0, NULL, SOCK, "--json", "--root", "/nonexistent-root", "doctor", NULL), MX_EXIT_USAGE,
                          "io.mxgpu.Ctl.UsageError", "--root /nonexistent-root: no such directory");
        /* monitor fails like every verb: the error's exit code, and its object (one line, as its events) */
        if (geteuid() == 0) {
                struct run *r = run_ctl(65534, NULL, SOCK, "monitor", NULL);
                expect(r, MX_EXIT_PERMISSION, "needs root or the read group (caller uid 65534) "
                       "(org.varlink.service.PermissionDenied)", "");
                r = run_ctl(65534, NULL, SOCK, "--json", "monitor", NULL);
                assert_true(r->n_out > 0 && strchr(r->out, '\n') == r->out + r->n_out - 1);
                expect_json_error(r, MX_EXIT_PERMISSION, "org.varlink.service.PermissionDenied", "needs root or the read group");
        }
        /* Human messages only without --json. */
        expect(run_ctl(0, NULL, SOCK, "list", "--bogus", NULL), MX_EXIT_USAGE, "unknown option --bogus", "");
}

/* Every verb reads its arguments alike: "--" ends the options, an unknown option or a missing value is a
 * usage error naming it, and a negative count is a bad count. */
static void arguments(void **state) {
        expect(run_ctl(0, NULL, SOCK, "--", "list", NULL), 0, NULL, "0000:03:00.0");
        expect(run_ctl(0, NULL, SOCK, "show", "--", "03:02.1", NULL), 0, NULL, "pf:            0000:03:00.0\n");
        expect(run_ctl(0, NULL, SOCK, "pool", "--", "gold", NULL), MX_EXIT_NOT_FOUND, "no pool named 'gold'", NULL);
        expect(run_ctl(0, NULL, SOCK, "detach", "--", "dom", NULL), 0, NULL, "dom: VF 0000:03:02.0 detached");
        expect(run_ctl(0, NULL, SOCK, "detach", "dom", "--", "03:02.1", NULL), 0, NULL, "dom: VF 0000:03:02.1 detached");
        expect(run_ctl(0, NULL, SOCK, "attach", "--", "-dom", NULL), 0, NULL, "-dom: VF 0000:03:02.1");
        expect(run_ctl(0, NULL, SOCK, "--", "show", "--json", NULL), MX_EXIT_USAGE, "'--json' is not a PCI address", "");

        expect(run_ctl(0, NULL, SOCK, "pool", "--bogus", NULL), MX_EXIT_USAGE, "mxgpuctl: unknown option --bogus\n"
               "Usage: mxgpuctl pool [POOL]\n", "");
        expect(run_ctl(0, NULL, SOCK, "detach", "--live", "dom", NULL), MX_EXIT_USAGE, "unknown option --live", "");
        expect(run_ctl(0, NULL, SOCK, "show", "03:00.0", "--bogus", NULL), MX_EXIT_USAGE, "unknown option --bogus", "");
        expect(run_ctl(0, NULL, SOCK, "list", "--bogus", NULL), MX_EXIT_USAGE, "unknown option --bogus", "");
        expect(run_ctl(0, NULL, SOCK, "list", "extra", NULL), MX_EXIT_USAGE, "unexpected argument 'extra'", "");
        expect(run_ctl(0, NULL, SOCK, "show", "03:00.0", "03:00.1", NULL), MX_EXIT_USAGE, "unexpected argument '03:00.1'", "");
        expect(run_ctl(0, NULL, SOCK, "set-vfs", "03:00.0", "-1", NULL), MX_EXIT_USAGE,
               "'-1' is not a VF count: use a whole number from 0 to the PF's total VFs", "");
        expect(run_ctl(0, NULL, SOCK, "doctor", "--libvirt-socket", NULL), MX_EXIT_USAGE, "--libvirt-socket needs a value", "");
        expect(run_ctl(0, NULL, SOCK, "resize", "03:02.1", "--memory", NULL), MX_EXIT_USAGE, "--memory needs a value", "");
        expect(run_ctl(0, NULL, SOCK, "attach", "dom", "--pool=", NULL), MX_EXIT_USAGE, "--pool needs a non-empty value", "");
        expect(run_ctl(0, NULL, SOCK, "resize", "03:02.1", "--dry-run=yes", NULL), MX_EXIT_USAGE, "--dry-run takes no value", "");
        /* Options stand anywhere before "--", with their value apart or after '='. */
        expect(run_ctl(0, NULL, SOCK, "attach", "--memory-min=1G", "dom", "--live", NULL), 0, NULL, "dom: VF 0000:03:02.1 (pool default, 1024 MiB) attached");
}

/* monitor prints each event type with what it carries, in one aligned column of types. */
static void monitor_events(void **state) {
        static const char *const lines[] = {
                "pf-state         0000:03:00.0 degraded, 2 VFs: VF 1 is not bound to vfio-pci\n",
                "vf-count-changed 0000:03:00.0 now 3 VFs, ready\n",
                "vf-resized       0000:03:00.0 VF 1 (0000:03:02.1): 1 GiB at 6928 MiB, 6 ms time slice, 1 other VF moved\n",
                "vf-assigned      0000:03:02.1 to web01\n",
                "vf-released      0000:03:02.1 from web01: detached\n",
                "vf-adopted       0000:03:02.2 in db's definition: recorded as its assignment\n",
                "vf-conflict      0000:03:02.2 in db2's definition: already assigned to db\n",
                "vf-painted       0000:03:02.3 colour=blue\n",
        };
        struct run *r = run_ctl(0, NULL, SOCK, "monitor", NULL);
        assert_int_equal(r->status, 0);
        const char *p = r->out;
        for (size_t i = 0; i < ARRAY_SIZE(lines); i++) {
                /* "HH:MM:SS " then the line */
                if (strlen(p) < 9 || p[2] != ':' || p[5] != ':' || p[8] != ' ' || strncmp(p + 9, lines[i], strlen(lines[i])) != 0)
                        fail_msg("line %zu: '%s', want '%s'", i, p, lines[i]);
                p += 9 + strlen(lines[i]);
        }
        assert_int_equal(*p, 0);
        free(r);
        r = run_ctl(0, NULL, SOCK, "monitor", "--json", NULL);
        assert_int_equal(r->status, 0);
        assert_non_null(strstr(r->out, "{\"domain\":\"web01\",\"type\":\"vf-assigned\",\"device\":\"0000:03:02.1\"}\n"));
        size_t n_lines = 0;
        for (p = r->out; (p = strchr(p, '\n')); p++)
                n_lines++;
        assert_int_equal(n_lines, ARRAY_SIZE(events) - 1);
        free(r);
}

/* A value that is refused names its option, echoes the value as given and says what is allowed. */
static void values(void **state) {
        static const struct { const char *opt, *value, *err; } cases[] = {
                { "--memory", "4294967552M", "--memory 4294967552M: too large: at most 4294967280M" },
                { "--memory", "99999999999999999999G", "--memory 99999999999999999999G: too large: at most 4294967280M" },
                { "--memory", "100M", "--memory 100M: a VF needs at least 256M in steps of 16M" },
                { "--memory", "1000M", "--memory 1000M: a VF needs at least 256M in steps of 16M" },
                { "--memory", "2X", "--memory 2X: unknown size unit" },
                { "--time-slice", "18446744073709s", "--time-slice 18446744073709s: out of range: use 1ms to 255ms" },
                { "--time-slice", "99999999999999999999s", "--time-slice 99999999999999999999s: out of range: use 1ms to 255ms" },
                { "--time-slice", "256ms", "--time-slice 256ms: out of range: use 1ms to 255ms" },
                { "--time-slice", "0ms", "--time-slice 0ms: out of range: use 1ms to 255ms" },
                { "--time-slice", "1500us", "--time-slice 1500us: the hardware scheduler counts whole milliseconds: use 1ms to 255ms" },
        };
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
                expect(run_ctl(0, NULL, SOCK, "resize", "03:02.1", cases[i].opt, cases[i].value, NULL), MX_EXIT_USAGE, cases[i].err, "");
        expect(run_ctl(0, NULL, SOCK, "attach", "dom", "--memory-min", "4096T", NULL), MX_EXIT_USAGE,
               "--memory-min 4096T: too large: at most 2147483647M", "");
        expect(run_ctl(0, NULL, SOCK, "attach", "dom", "--memory-min", "4x", NULL), MX_EXIT_USAGE,
               "--memory-min 4x: unknown size unit", "");
}

int main(void) {
        mx_log_set_level(LOG_CRIT);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(list_table, setup, teardown),
                cmocka_unit_test_setup_teardown(list_json, setup, teardown),
                cmocka_unit_test_setup_teardown(show_pf_and_vf, setup, teardown),
                cmocka_unit_test_setup_teardown(exit_codes, setup, teardown),
                cmocka_unit_test_setup_teardown(ping_version_help, setup, teardown),
                cmocka_unit_test_setup_teardown(arguments, setup, teardown),
                cmocka_unit_test_setup_teardown(json_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(values, setup, teardown),
                cmocka_unit_test_setup_teardown(monitor_events, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
