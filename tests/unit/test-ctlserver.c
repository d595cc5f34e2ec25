// SPDX-License-Identifier: MIT
// Tests of the control socket server on a real socket in a temporary directory, with its sd-event
// loop run in between the test's own blocking client I/O (no threads).
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <cmocka.h>
#include <systemd/sd-daemon.h>

#include "mxgpu/ctlclient.h"
#include "mxgpu/log.h"
#include "mxgpu/protocol.h"
#include "../../src/daemon/ctlserver.h"

#define READ_GROUP ((gid_t)65534)

struct ts {
        char dir[64];
        char path[128];
        sd_event *e;
        struct ctl_server *server;
        struct ctl_call *kept;       /* the Apply call, answered later by the test */
        int list_calls;
};
static struct ts T;

/* ---- handlers ---- */

static int h_list(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct ts *t = userdata;
        t->list_calls++;
        struct json_object *p = json_object_new_object();
        json_object_object_add(p, "pfs", json_object_new_array());
        return ctl_call_reply(call, p);
}

static int h_show(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct json_object *v;
        json_object_object_get_ex(params, "device", &v);
        if (!streq(json_object_get_string(v), "0000:03:00.0"))
                return -ENODEV;
        struct json_object *pf = json_object_new_object(), *p = json_object_new_object();
        json_object_object_add(pf, "address", json_object_new_string("0000:03:00.0"));
        json_object_object_add(p, "pf", pf);
        return ctl_call_reply(call, p);
}

static int h_apply(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct ts *t = userdata;
        t->kept = ctl_call_ref(call); /* answered later */
        return 0;
}

static int h_reload(struct ctl_call *call, struct json_object *params, void *userdata) {
        return ctl_call_reply(call, NULL);
}

static int h_plan(struct ctl_call *call, struct json_object *params, void *userdata) {
        return -ENOSPC;
}

static int h_set_vfs(struct ctl_call *call, struct json_object *params, void *userdata) {
        return 0; /* a bug: neither replies nor keeps the call */
}

static int h_monitor(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct json_object *p = json_object_new_object();
        json_object_object_add(p, "event", json_object_new_string("hello"));
        int r = ctl_call_reply_more(call, p);
        return r < 0 ? r : ctl_call_subscribe(call);
}

static const struct ctl_method methods[] = {
        { MX_INTERFACE ".List", h_list },
        { MX_INTERFACE ".Show", h_show },
        { MX_INTERFACE ".Apply", h_apply },
        { MX_INTERFACE ".Reload", h_reload },
        { MX_INTERFACE ".Plan", h_plan },
        { MX_INTERFACE ".SetVFs", h_set_vfs },
        { MX_INTERFACE ".Monitor", h_monitor },
        /* Resize has no handler: MethodNotImplemented */
};

static int setup(void **state) {
        memset(&T, 0, sizeof(T));
        strcpy(T.dir, "/tmp/mxgpu-ctl-XXXXXX");
        if (!mkdtemp(T.dir) || chmod(T.dir, 0755) < 0)
                return -1;
        snprintf(T.path, sizeof(T.path), "%s/mxgpud.sock", T.dir);
        if (sd_event_new(&T.e) < 0)
                return -1;
        if (ctl_server_new(T.e, T.path, READ_GROUP, methods, ARRAY_SIZE(methods), &T, &T.server) < 0)
                return -1;
        *state = &T;
        return 0;
}

static int teardown(void **state) {
        ctl_call_unref(T.kept);
        ctl_server_free(T.server);
        sd_event_unref(T.e);
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf %s", T.dir);
        return system(cmd) == 0 ? 0 : -1;
}

/* ---- the test's raw client ---- */

struct raw {
        int fd;
        char buf[MX_REPLY_MAX];
        size_t len;
};

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* One turn of the server's loop. */
static void pump(void) {
        assert_true(sd_event_run(T.e, 10 * 1000) >= 0);
}

/* Run the loop until cond holds; a generous deadline only turns a hang into a failure. */
#define PUMP_UNTIL(cond) do {                                       \
                uint64_t _end = now_ms() + 20000;                   \
                while (!(cond)) {                                   \
                        assert_true(now_ms() < _end);               \
                        pump();                                     \
                }                                                   \
        } while (0)

static struct raw *raw_connect(void) {
        struct raw *c = calloc(1, sizeof(*c));
        assert_non_null(c);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strcpy(sa.sun_path, T.path);
        c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(c->fd >= 0);
        assert_int_equal(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        return c;
}

static void raw_close(struct raw *c) {
        if (c->fd >= 0)
                close(c->fd);
        free(c);
}

static void raw_send_bytes(struct raw *c, const char *s, size_t n) {
        while (n > 0) {
                ssize_t k = send(c->fd, s, n, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0 && errno == EAGAIN) {
                        pump();
                        continue;
                }
                assert_true(k > 0);
                s += k;
                n -= (size_t)k;
        }
}

/* Send a message with its NUL. */
static void raw_send(struct raw *c, const char *s) {
        raw_send_bytes(c, s, strlen(s) + 1);
}

static bool readable(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        return poll(&p, 1, 0) > 0;
}

/* The next message, or NULL at EOF / reset. Pumps the server while waiting. */
static struct json_object *raw_recv(struct raw *c) {
        for (;;) {
                char *nul = memchr(c->buf, 0, c->len);
                if (nul) {
                        size_t n = (size_t)(nul - c->buf);
                        struct json_object *o = NULL;
                        assert_int_equal(mx_json_parse(c->buf, n, &o), 0);
                        memmove(c->buf, nul + 1, c->len - n - 1);
                        c->len -= n + 1;
                        return o;
                }
                PUMP_UNTIL(readable(c->fd));
                ssize_t k = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, MSG_DONTWAIT);
                if (k < 0 && errno == EAGAIN)
                        continue;
                if (k <= 0)
                        return NULL;
                c->len += (size_t)k;
        }
}

static bool raw_at_eof(struct raw *c) {
        PUMP_UNTIL(readable(c->fd));
        char b;
        ssize_t k = recv(c->fd, &b, 1, MSG_DONTWAIT);
        return k == 0 || (k < 0 && errno == ECONNRESET);
}

static const char *error_of(struct json_object *o) {
        struct json_object *v;
        return json_object_object_get_ex(o, "error", &v) ? json_object_get_string(v) : NULL;
}

static struct json_object *params_of(struct json_object *o) {
        struct json_object *v = NULL;
        json_object_object_get_ex(o, "parameters", &v);
        assert_non_null(v);
        return v;
}

static const char *param_str(struct json_object *o, const char *key) {
        struct json_object *v;
        return json_object_object_get_ex(params_of(o), key, &v) ? json_object_get_string(v) : NULL;
}

static int param_int(struct json_object *o, const char *key) {
        struct json_object *v;
        return json_object_object_get_ex(params_of(o), key, &v) ? json_object_get_int(v) : -1;
}

/* Send one request and return its reply. */
static struct json_object *raw_call(struct raw *c, const char *request) {
        raw_send(c, request);
        struct json_object *o = raw_recv(c);
        assert_non_null(o);
        return o;
}

#define LIST_REQ "{\"method\":\"io.mxgpu.Manager.List\"}"

/* ---- tests ---- */

static void valid_call(void **state) {
        struct raw *c = raw_connect();
        _cleanup_json_ struct json_object *o = raw_call(c, LIST_REQ);
        assert_null(error_of(o));
        struct json_object *pfs;
        assert_true(json_object_object_get_ex(params_of(o), "pfs", &pfs));
        assert_true(json_object_is_type(pfs, json_type_array));
        _cleanup_json_ struct json_object *s = raw_call(c, "{\"method\":\"io.mxgpu.Manager.Show\",\"parameters\":{\"device\":\"0000:03:00.0\"}}");
        assert_null(error_of(s));
        _cleanup_json_ struct json_object *e = raw_call(c, "{\"method\":\"io.mxgpu.Manager.Show\",\"parameters\":{\"device\":\"0000:09:00.0\"}}");
        assert_string_equal(error_of(e), "io.mxgpu.Manager.NoSuchDevice");
        assert_int_equal(param_int(e, "errno"), ENODEV);
        raw_close(c);
}

static void introspection(void **state) {
        struct raw *c = raw_connect();
        _cleanup_json_ struct json_object *o = raw_call(c, "{\"method\":\"org.varlink.service.GetInfo\",\"parameters\":{}}");
        assert_null(error_of(o));
        assert_string_equal(param_str(o, "product"), "mxgpud");
        struct json_object *ifaces;
        assert_true(json_object_object_get_ex(params_of(o), "interfaces", &ifaces));
        assert_string_equal(json_object_get_string(json_object_array_get_idx(ifaces, 1)), MX_INTERFACE);

        _cleanup_json_ struct json_object *d = raw_call(c,
                "{\"method\":\"org.varlink.service.GetInterfaceDescription\",\"parameters\":{\"interface\":\"io.mxgpu.Manager\"}}");
        assert_non_null(strstr(param_str(d, "description"), "interface io.mxgpu.Manager\n"));
        _cleanup_json_ struct json_object *n = raw_call(c,
                "{\"method\":\"org.varlink.service.GetInterfaceDescription\",\"parameters\":{\"interface\":\"com.example.X\"}}");
        assert_string_equal(error_of(n), VARLINK_ERROR_INTERFACE_NOT_FOUND);
        assert_string_equal(param_str(n, "interface"), "com.example.X");
        raw_close(c);
}

static void unknown_method(void **state) {
        struct raw *c = raw_connect();
        _cleanup_json_ struct json_object *o = raw_call(c, "{\"method\":\"io.mxgpu.Manager.Explode\"}");
        assert_string_equal(error_of(o), VARLINK_ERROR_METHOD_NOT_FOUND);
        assert_string_equal(param_str(o, "method"), "io.mxgpu.Manager.Explode");
        _cleanup_json_ struct json_object *i = raw_call(c, "{\"method\":\"com.example.Thing.Do\"}");
        assert_string_equal(error_of(i), VARLINK_ERROR_INTERFACE_NOT_FOUND);
        _cleanup_json_ struct json_object *ni = raw_call(c, "{\"method\":\"io.mxgpu.Manager.Resize\",\"parameters\":{\"device\":\"x\"}}");
        assert_string_equal(error_of(ni), VARLINK_ERROR_NOT_IMPLEMENTED);
        /* The connection is still good. */
        _cleanup_json_ struct json_object *l = raw_call(c, LIST_REQ);
        assert_null(error_of(l));
        raw_close(c);
}

static void wrong_types(void **state) {
        static const struct { const char *req, *bad; } cases[] = {
                { "{\"method\":\"io.mxgpu.Manager.Show\",\"parameters\":{\"device\":3}}", "device" },
                { "{\"method\":\"io.mxgpu.Manager.Show\",\"parameters\":{}}", "device" },
                { "{\"method\":\"io.mxgpu.Manager.Show\",\"parameters\":{\"device\":\"a\",\"colour\":\"red\"}}", "colour" },
                { "{\"method\":\"io.mxgpu.Manager.SetVFs\",\"parameters\":{\"device\":\"a\",\"count\":\"4\"}}", "count" },
                { "{\"method\":\"io.mxgpu.Manager.Apply\",\"parameters\":{\"dry_run\":1}}", "dry_run" },
        };
        struct raw *c = raw_connect();
        for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
                _cleanup_json_ struct json_object *o = raw_call(c, cases[i].req);
                assert_string_equal(error_of(o), VARLINK_ERROR_INVALID_PARAMETER);
                assert_string_equal(param_str(o, "parameter"), cases[i].bad);
        }
        /* Requests that are JSON but not requests: an error, the connection stays. */
        static const char *const shapes[] = {
                "[1,2]", "{}", "{\"method\":7}", "{\"method\":\"List\"}", "{\"method\":\"io.mxgpu.Manager.List\",\"parameters\":[]}",
                "{\"method\":\"io.mxgpu.Manager.List\",\"more\":\"yes\"}", "{\"method\":\"io.mxgpu.Manager.List\",\"extra\":1}",
        };
        for (size_t i = 0; i < ARRAY_SIZE(shapes); i++) {
                _cleanup_json_ struct json_object *o = raw_call(c, shapes[i]);
                assert_string_equal(error_of(o), MX_ERROR_PROTOCOL);
                assert_int_equal(param_int(o, "errno"), EPROTO);
        }
        _cleanup_json_ struct json_object *l = raw_call(c, LIST_REQ);
        assert_null(error_of(l));
        raw_close(c);
}

static void garbage_closes(void **state) {
        struct raw *c = raw_connect();
        _cleanup_json_ struct json_object *o = raw_call(c, "{\"method\": nonsense");
        assert_string_equal(error_of(o), MX_ERROR_PROTOCOL);
        assert_int_equal(param_int(o, "errno"), EBADMSG);
        assert_true(raw_at_eof(c));
        raw_close(c);
        /* Invalid UTF-8 is garbage too. */
        c = raw_connect();
        _cleanup_json_ struct json_object *u = raw_call(c, "{\"method\":\"io.mxgpu.Manager.\xff\"}");
        assert_string_equal(error_of(u), MX_ERROR_PROTOCOL);
        assert_true(raw_at_eof(c));
        raw_close(c);
        PUMP_UNTIL(ctl_server_n_clients(T.server) == 0);
}

static void oversize_closes(void **state) {
        struct raw *c = raw_connect();
        _cleanup_free_ char *big = malloc(MX_REQUEST_MAX);
        memset(big, ' ', MX_REQUEST_MAX);
        /* Exactly the cap without a NUL: no parse is tried, the answer is MessageTooLarge. */
        raw_send_bytes(c, big, MX_REQUEST_MAX);
        _cleanup_json_ struct json_object *o = raw_recv(c);
        assert_non_null(o);
        assert_string_equal(error_of(o), MX_ERROR_TOO_LARGE);
        assert_true(raw_at_eof(c));
        raw_close(c);

        /* One byte below the cap with its NUL is still read and answered. */
        struct raw *d = raw_connect();
        memcpy(big, LIST_REQ, strlen(LIST_REQ));
        big[MX_REQUEST_MAX - 1] = 0;
        raw_send_bytes(d, big, MX_REQUEST_MAX);
        _cleanup_json_ struct json_object *l = raw_recv(d);
        assert_null(error_of(l));
        raw_close(d);
}

static void silent_client_does_not_block(void **state) {
        struct raw *silent = raw_connect(), *half = raw_connect(), *other = raw_connect();
        raw_send_bytes(half, "{\"method\":\"io.mxgpu.Man", 23); /* and then nothing */
        _cleanup_json_ struct json_object *o = raw_call(other, LIST_REQ);
        assert_null(error_of(o));
        assert_int_equal(ctl_server_n_clients(T.server), 3);
        raw_close(silent);
        raw_close(half);
        raw_close(other);
}

static void idle_timeout(void **state) {
        ctl_server_set_idle_timeout(T.server, 50 * 1000);
        struct raw *silent = raw_connect(), *half = raw_connect();
        raw_send_bytes(half, "{\"method\"", 9);
        assert_true(raw_at_eof(silent));
        assert_true(raw_at_eof(half));
        PUMP_UNTIL(ctl_server_n_clients(T.server) == 0);
        raw_close(silent);
        raw_close(half);
}

static void pipelined(void **state) {
        struct raw *c = raw_connect();
        const char two[] = "{\"method\":\"io.mxgpu.Manager.Plan\"}\0" LIST_REQ;
        raw_send_bytes(c, two, sizeof(two));
        _cleanup_json_ struct json_object *a = raw_recv(c), *b = raw_recv(c);
        assert_string_equal(error_of(a), "io.mxgpu.Manager.NoSpace");
        assert_int_equal(param_int(a, "errno"), ENOSPC);
        assert_null(error_of(b));
        raw_close(c);
}

static void handler_without_reply(void **state) {
        struct raw *c = raw_connect();
        _cleanup_json_ struct json_object *o = raw_call(c, "{\"method\":\"io.mxgpu.Manager.SetVFs\",\"parameters\":{\"device\":\"a\",\"count\":2}}");
        assert_string_equal(error_of(o), MX_ERROR_FAILED);
        raw_close(c);
}

static void oneway(void **state) {
        struct raw *c = raw_connect();
        raw_send(c, "{\"method\":\"io.mxgpu.Manager.List\",\"oneway\":true}");
        PUMP_UNTIL(T.list_calls == 1);
        /* No reply for the oneway call: the next reply is the next call's. */
        _cleanup_json_ struct json_object *o = raw_call(c, "{\"method\":\"io.mxgpu.Manager.Plan\"}");
        assert_string_equal(error_of(o), "io.mxgpu.Manager.NoSpace");
        raw_close(c);
}

static void async_reply(void **state) {
        struct raw *c = raw_connect(), *other = raw_connect();
        raw_send(c, "{\"method\":\"io.mxgpu.Manager.Apply\"}");
        PUMP_UNTIL(T.kept);
        /* While Apply is pending, the next request on the same connection waits; others are served. */
        raw_send(c, LIST_REQ);
        _cleanup_json_ struct json_object *l = raw_call(other, LIST_REQ);
        assert_null(error_of(l));
        assert_int_equal(T.list_calls, 1);
        assert_false(readable(c->fd));

        struct json_object *p = json_object_new_object();
        json_object_object_add(p, "done", json_object_new_boolean(true));
        assert_int_equal(ctl_call_reply(T.kept, p), 0);
        /* Nothing was queued before it: the reply is on the socket before the loop runs again. */
        assert_true(readable(c->fd));
        assert_int_equal(ctl_call_reply(T.kept, NULL), -EALREADY);
        T.kept = ctl_call_unref(T.kept);
        _cleanup_json_ struct json_object *a = raw_recv(c), *b = raw_recv(c);
        assert_null(error_of(a));
        assert_non_null(json_object_object_get(params_of(a), "done"));
        assert_null(error_of(b));
        assert_int_equal(T.list_calls, 2);

        /* A client that goes away while its call is pending: the late reply is dropped. */
        raw_send(c, "{\"method\":\"io.mxgpu.Manager.Apply\"}");
        PUMP_UNTIL(T.kept);
        raw_close(c);
        PUMP_UNTIL(ctl_server_n_clients(T.server) == 1);
        assert_false(ctl_call_connected(T.kept));
        assert_int_equal(ctl_call_reply(T.kept, NULL), -ENOTCONN);
        T.kept = ctl_call_unref(T.kept);
        raw_close(other);
}

static void monitor_stream(void **state) {
        struct raw *c = raw_connect(), *d = raw_connect();
        _cleanup_json_ struct json_object *no = raw_call(c, "{\"method\":\"io.mxgpu.Manager.Monitor\"}");
        assert_string_equal(error_of(no), VARLINK_ERROR_EXPECTED_MORE);

        raw_send(c, "{\"method\":\"io.mxgpu.Manager.Monitor\",\"more\":true}");
        raw_send(d, "{\"method\":\"io.mxgpu.Manager.Monitor\",\"more\":true}");
        PUMP_UNTIL(ctl_server_n_subscribers(T.server) == 2);
        struct json_object *ev = json_object_new_object();
        json_object_object_add(ev, "type", json_object_new_string("pf-state"));
        assert_int_equal(ctl_server_broadcast_event(T.server, ev), 2);
        for (int i = 0; i < 2; i++) {
                struct raw *x = i ? d : c;
                _cleanup_json_ struct json_object *hello = raw_recv(x), *e = raw_recv(x);
                assert_string_equal(param_str(hello, "event"), "hello");
                assert_true(json_object_get_boolean(json_object_object_get(e, "continues")));
                struct json_object *event = json_object_object_get(params_of(e), "event");
                assert_string_equal(json_object_get_string(json_object_object_get(event, "type")), "pf-state");
        }
        raw_close(d);
        PUMP_UNTIL(ctl_server_n_subscribers(T.server) == 1);
        /* A subscriber gone before the loop noticed: the event's send fails, which drops it at once. */
        struct raw *e = raw_connect();
        raw_send(e, "{\"method\":\"io.mxgpu.Manager.Monitor\",\"more\":true}");
        PUMP_UNTIL(ctl_server_n_subscribers(T.server) == 2);
        raw_close(e);
        ev = json_object_new_object();
        json_object_object_add(ev, "type", json_object_new_string("pf-state"));
        assert_int_equal(ctl_server_broadcast_event(T.server, ev), 1);
        assert_int_equal(ctl_server_n_subscribers(T.server), 1);
        _cleanup_json_ struct json_object *second = raw_recv(c);
        assert_non_null(json_object_object_get(params_of(second), "event"));
        raw_close(c);
        PUMP_UNTIL(ctl_server_n_clients(T.server) == 0);
}

static void slow_reader_dropped(void **state) {
        ctl_server_set_output_max(T.server, 16 * 1024);
        struct raw *slow = raw_connect(), *other = raw_connect();
        raw_send(slow, "{\"method\":\"io.mxgpu.Manager.Monitor\",\"more\":true}");
        PUMP_UNTIL(ctl_server_n_subscribers(T.server) == 1);
        char pad[1024];
        memset(pad, 'x', sizeof(pad) - 1);
        pad[sizeof(pad) - 1] = 0;
        /* slow never reads: once the kernel's buffer and our cap are full, the server lets it go. */
        while (ctl_server_n_subscribers(T.server) > 0) {
                struct json_object *ev = json_object_new_object();
                json_object_object_add(ev, "pad", json_object_new_string(pad));
                ctl_server_broadcast_event(T.server, ev);
                pump();
        }
        _cleanup_json_ struct json_object *o = raw_call(other, LIST_REQ);
        assert_null(error_of(o));
        assert_int_equal(ctl_server_n_clients(T.server), 1);
        raw_close(slow);
        raw_close(other);
}

/* Run fn in a child with the given credentials; the parent turns the server's loop meanwhile. */
static int run_as(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, int (*fn)(void)) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                if (setgroups(n_groups, groups) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
                        _exit(100);
                _exit(fn());
        }
        int status = 0;
        PUMP_UNTIL(waitpid(pid, &status, WNOHANG) == pid);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

/* Child side: exit 0 when each call got the expected error (NULL = success). */
static int call_expect(const char *method, struct json_object *params, const char *error) {
        struct ctl_client *c;
        if (ctl_client_connect(T.path, &c) < 0)
                return 10;
        struct ctl_reply r;
        int ret = ctl_client_call(c, method, params, &r) < 0 ? 11 : 0;
        if (ret == 0) {
                if (error ? !r.error || !streq(r.error, error) : r.error != NULL)
                        ret = 12;
                ctl_reply_done(&r);
        }
        ctl_client_free(c);
        return ret;
}

static int stranger_child(void) {
        return call_expect(MX_INTERFACE ".List", NULL, VARLINK_ERROR_PERMISSION_DENIED) ?:
               call_expect(VARLINK_SERVICE ".GetInfo", NULL, VARLINK_ERROR_PERMISSION_DENIED);
}

static int reader_child(void) {
        return call_expect(MX_INTERFACE ".List", NULL, NULL) ?:
               call_expect(VARLINK_SERVICE ".GetInfo", NULL, NULL) ?:
               (call_expect(MX_INTERFACE ".Reload", NULL, VARLINK_ERROR_PERMISSION_DENIED) ? 20 : 0);
}

static void peer_credentials(void **state) {
        if (geteuid() != 0) {
                print_message("skipped: needs root to run a child as another user\n");
                skip();
        }
        /* Root may call mutating methods. */
        struct raw *c = raw_connect();
        _cleanup_json_ struct json_object *o = raw_call(c, "{\"method\":\"io.mxgpu.Manager.Reload\"}");
        assert_null(error_of(o));
        raw_close(c);

        gid_t none[1] = { 0 };
        assert_int_equal(run_as(12345, 12345, none, 0, stranger_child), 0);
        /* The read group as primary group, and as a supplementary one. */
        assert_int_equal(run_as(65534, READ_GROUP, none, 0, reader_child), 0);
        gid_t sup[] = { 4242, READ_GROUP };
        assert_int_equal(run_as(12345, 12345, sup, ARRAY_SIZE(sup), reader_child), 0);
}

/* ---- the client library against the server ---- */

static int client_child(void) {
        struct ctl_client *c;
        if (ctl_client_connect(T.path, &c) < 0)
                return 1;
        struct ctl_reply r;
        if (ctl_client_call(c, MX_INTERFACE ".List", NULL, &r) < 0 || r.error ||
            !json_object_is_type(json_object_object_get(r.parameters, "pfs"), json_type_array))
                return 2;
        ctl_reply_done(&r);
        if (ctl_client_call(c, MX_INTERFACE ".Plan", NULL, &r) < 0 || !r.error ||
            ctl_reply_exit_code(&r) != MX_EXIT_NO_SPACE || r.error_errno != ENOSPC || !r.message)
                return 3;
        ctl_reply_done(&r);
        /* Apply is never answered here: the timeout ends the wait. */
        ctl_client_set_timeout(c, 100 * 1000);
        if (ctl_client_call(c, MX_INTERFACE ".Apply", NULL, &r) != -ETIMEDOUT)
                return 4;
        ctl_client_free(c);
        return 0;
}

static int count_events(const struct ctl_reply *r, void *userdata) {
        int *n = userdata;
        if (r->error)
                return -EIO;
        return ++*n == 3 ? 1 : 0;
}

static int monitor_child(void) {
        struct ctl_client *c;
        if (ctl_client_connect(T.path, &c) < 0)
                return 1;
        int n = 0;
        int r = ctl_client_call_more(c, MX_INTERFACE ".Monitor", NULL, count_events, &n);
        ctl_client_free(c);
        return r == 0 && n == 3 ? 0 : 2;
}

static void client_library(void **state) {
        assert_int_equal(run_as(0, 0, NULL, 0, client_child), 0);
        T.kept = ctl_call_unref(T.kept);

        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(monitor_child());
        PUMP_UNTIL(ctl_server_n_subscribers(T.server) == 1);
        int status = 0;
        while (waitpid(pid, &status, WNOHANG) != pid) {
                ctl_server_broadcast_event(T.server, json_object_new_string("tick"));
                pump();
        }
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);

        struct ctl_client *c;
        char buf[256];
        char missing[160];
        snprintf(missing, sizeof(missing), "%s/nope.sock", T.dir);
        assert_int_equal(ctl_client_connect(missing, &c), -ENOENT);
        ctl_client_connect_hint(missing, -ENOENT, buf, sizeof(buf));
        assert_non_null(strstr(buf, "cannot reach mxgpud at "));
        assert_non_null(strstr(buf, "is mxgpud running?"));
}

/* ---- the socket's directory ---- */

static void socket_directory_checks(void **state) {
        sd_event *e = T.e;
        struct ctl_server *s;
        char dir[128], path[160];

        /* A missing directory is created 0755. */
        snprintf(dir, sizeof(dir), "%s/run", T.dir);
        snprintf(path, sizeof(path), "%s/x.sock", dir);
        assert_int_equal(ctl_server_new(e, path, (gid_t)-1, NULL, 0, NULL, &s), 0);
        struct stat st;
        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0755);
        assert_int_equal(stat(path, &st), 0);
        assert_true(S_ISSOCK(st.st_mode));
        assert_int_equal(st.st_mode & 0777, 0666);

        /* A second daemon on a live socket is refused; the first one's file stays. */
        struct ctl_server *s2;
        assert_int_equal(ctl_server_new(e, path, (gid_t)-1, NULL, 0, NULL, &s2), -EADDRINUSE);
        ctl_server_free(s);
        assert_int_equal(stat(path, &st), -1);

        /* A stale socket (its daemon died) is replaced. */
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strcpy(sa.sun_path, path);
        assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        close(fd);
        assert_int_equal(ctl_server_new(e, path, (gid_t)-1, NULL, 0, NULL, &s), 0);
        ctl_server_free(s);

        /* Something that is not a socket is left alone. */
        fd = open(path, O_CREAT | O_WRONLY, 0644);
        close(fd);
        assert_int_equal(ctl_server_new(e, path, (gid_t)-1, NULL, 0, NULL, &s), -EEXIST);
        unlink(path);

        /* A directory others can write to is refused. */
        assert_int_equal(chmod(dir, 0777), 0);
        assert_int_equal(ctl_server_new(e, path, (gid_t)-1, NULL, 0, NULL, &s), -EPERM);
        assert_int_equal(chmod(dir, 01777), 0);
        assert_int_equal(ctl_server_new(e, path, (gid_t)-1, NULL, 0, NULL, &s), -EPERM);
        assert_int_equal(chmod(dir, 0755), 0);
        if (geteuid() == 0) {
                assert_int_equal(chown(dir, 12345, 0), 0);
                assert_int_equal(ctl_server_new(e, path, (gid_t)-1, NULL, 0, NULL, &s), -EPERM);
                assert_int_equal(chown(dir, 0, 0), 0);
        }

        /* A handler for a method the protocol does not have is a programming error. */
        static const struct ctl_method bogus[] = { { MX_INTERFACE ".Frobnicate", h_list } };
        assert_int_equal(ctl_server_new(e, path, (gid_t)-1, bogus, 1, NULL, &s), -EINVAL);
}

/* systemd's socket: used as passed, and left in place on exit. In a child, which may clobber fd 3. */
static int activation_child(void) {
        char path[160];
        snprintf(path, sizeof(path), "%s/activated.sock", T.dir);
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        strcpy(sa.sun_path, path);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0)
                return 1;
        if (fd != SD_LISTEN_FDS_START && (dup2(fd, SD_LISTEN_FDS_START) < 0 || close(fd) < 0))
                return 2;
        struct stat before, after;
        if (stat(path, &before) < 0 || chmod(T.dir, 0777) < 0) /* a bad directory does not matter then */
                return 3;
        char pid[32];
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        setenv("LISTEN_PID", pid, 1);
        setenv("LISTEN_FDS", "1", 1);
        sd_event *e;
        struct ctl_server *s;
        if (sd_event_new(&e) < 0 || ctl_server_new(e, path, (gid_t)-1, NULL, 0, NULL, &s) < 0)
                return 4;
        if (stat(path, &after) < 0 || after.st_ino != before.st_ino)
                return 5;
        ctl_server_free(s);
        sd_event_unref(e);
        return stat(path, &after) == 0 ? 0 : 6;
}

static void socket_activation(void **state) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(activation_child());
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void) {
        mx_log_set_level(LOG_CRIT); /* the refusals above are logged by design */
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(valid_call, setup, teardown),
                cmocka_unit_test_setup_teardown(introspection, setup, teardown),
                cmocka_unit_test_setup_teardown(unknown_method, setup, teardown),
                cmocka_unit_test_setup_teardown(wrong_types, setup, teardown),
                cmocka_unit_test_setup_teardown(garbage_closes, setup, teardown),
                cmocka_unit_test_setup_teardown(oversize_closes, setup, teardown),
                cmocka_unit_test_setup_teardown(silent_client_does_not_block, setup, teardown),
                cmocka_unit_test_setup_teardown(idle_timeout, setup, teardown),
                cmocka_unit_test_setup_teardown(pipelined, setup, teardown),
                cmocka_unit_test_setup_teardown(handler_without_reply, setup, teardown),
                cmocka_unit_test_setup_teardown(oneway, setup, teardown),
                cmocka_unit_test_setup_teardown(async_reply, setup, teardown),
                cmocka_unit_test_setup_teardown(monitor_stream, setup, teardown),
                cmocka_unit_test_setup_teardown(slow_reader_dropped, setup, teardown),
                cmocka_unit_test_setup_teardown(peer_credentials, setup, teardown),
                cmocka_unit_test_setup_teardown(client_library, setup, teardown),
                cmocka_unit_test_setup_teardown(socket_directory_checks, setup, teardown),
                cmocka_unit_test_setup_teardown(socket_activation, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
