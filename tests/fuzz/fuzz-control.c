// SPDX-License-Identifier: MIT
// Fuzz harness: mxgpud's control socket as any local client can write to it. The bytes go to a real
// server (framing, JSON, request checks, authorisation, dispatch) over a Unix socket; every reply must
// be one whole JSON message, and the server must let go of the connection once the client has gone.
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mxgpu/log.h"
#include "mxgpu/protocol.h"
#include "../../src/daemon/ctlserver.h"
#include "fuzz.h"

/* Handlers that answer the way the daemon's do: a reply, an error from an errno, a stream. */
static int h_list(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct json_object *p = json_object_new_object();
        json_object_object_add(p, "pfs", json_object_new_array());
        return ctl_call_reply(call, p);
}
static int h_echo(struct ctl_call *call, struct json_object *params, void *userdata) {
        return ctl_call_reply(call, json_object_get(params));
}
static int h_refuse(struct ctl_call *call, struct json_object *params, void *userdata) {
        const char *dev = json_object_get_string(json_object_object_get(params, "device"));
        return ctl_call_errorf(call, -ENODEV, "no device %s", dev ? dev : "(none)");
}
static int h_monitor(struct ctl_call *call, struct json_object *params, void *userdata) {
        int r = ctl_call_reply_more(call, json_object_new_object());
        return r < 0 ? r : ctl_call_subscribe(call);
}
static int h_enospc(struct ctl_call *call, struct json_object *params, void *userdata) { return -ENOSPC; }

static const struct ctl_method methods[] = {
        { MX_INTERFACE ".List", h_list },       { MX_INTERFACE ".Show", h_echo },
        { MX_INTERFACE ".Resize", h_refuse },   { MX_INTERFACE ".Monitor", h_monitor },
        { MX_INTERFACE ".Plan", h_enospc },     { MX_INTERFACE ".Attach", h_echo },
};

static sd_event *loop;
static struct ctl_server *server;
static char path[96];

static void teardown(void) {
        server = ctl_server_free(server); /* removes the socket it made */
        loop = sd_event_unref(loop);
}

static void setup(void) {
        mx_log_set_level(LOG_CRIT); /* refusals are logged: one line per input otherwise */
        snprintf(path, sizeof(path), "%s/mxgpud.sock", fuzz_dir("control"));
        CHECK(sd_event_new(&loop) >= 0);
        CHECK(ctl_server_new(loop, path, (gid_t)-1, methods, sizeof(methods) / sizeof(methods[0]), NULL, &server) == 0);
        atexit(teardown);
}

/* Every NUL-terminated message in buf is one JSON object: a reply or an error; nothing is cut. */
static void check_replies(const char *buf, size_t len) {
        size_t start = 0;
        while (start < len) {
                const char *nul = memchr(buf + start, 0, len - start);
                CHECK(nul); /* a reply without its terminating NUL */
                size_t n = (size_t)(nul - (buf + start));
                struct json_object *msg;
                CHECK(mx_json_parse(buf + start, n, &msg) == 0);
                CHECK(json_object_is_type(msg, json_type_object));
                struct json_object *err = json_object_object_get(msg, "error");
                CHECK(err ? json_object_is_type(err, json_type_string) : json_object_object_get_ex(msg, "parameters", NULL));
                json_object_put(msg);
                start += n + 1;
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size > 2 * MX_REQUEST_MAX)
                return 0;
        if (!server)
                setup();
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        CHECK(fd >= 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
        CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);

        size_t sent = 0, got = 0, cap = 1 << 16;
        char *replies = malloc(cap);
        CHECK(replies);
        bool eof = false, shut = false;
        for (unsigned idle = 0; !eof && idle < 3;) {
                bool progress = false;
                if (sent < size) {
                        ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
                        if (n > 0) {
                                sent += (size_t)n;
                                progress = true;
                        } else
                                CHECK(errno == EAGAIN || errno == EPIPE || errno == ECONNRESET);
                        if (n < 0 && errno != EAGAIN)
                                sent = size; /* the server hung up: nothing more goes through */
                }
                if (sent == size && !shut) {
                        shutdown(fd, SHUT_WR); /* the end of the requests, as a client that exits */
                        shut = true;
                }
                int r = sd_event_run(loop, 0);
                CHECK(r >= 0);
                progress |= r > 0;
                for (;;) {
                        if (got == cap) {
                                CHECK(cap < 64u << 20);
                                replies = realloc(replies, cap *= 2);
                                CHECK(replies);
                        }
                        ssize_t n = recv(fd, replies + got, cap - got, 0);
                        if (n > 0) {
                                got += (size_t)n;
                                progress = true;
                                continue;
                        }
                        eof = n == 0 || errno == ECONNRESET;
                        CHECK(n == 0 || errno == EAGAIN || errno == ECONNRESET);
                        break;
                }
                idle = progress ? 0 : idle + 1;
        }
        close(fd);
        check_replies(replies, got);
        free(replies);
        /* The client is gone: the server must drop the connection (and any subscription) at once. */
        for (unsigned i = 0; i < 100 && ctl_server_n_clients(server) > 0; i++)
                CHECK(sd_event_run(loop, 0) >= 0);
        CHECK(ctl_server_n_clients(server) == 0);
        return 0;
}
