// SPDX-License-Identifier: MIT
// mxgpud's control socket server: accepts Varlink connections, checks each request in a fixed order
// (length, JSON, request shape, interface, method, permission, parameters) and dispatches it.
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libgen.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include "mxgpu/log.h"
#include "mxgpu/names.h"
#include "ctlserver.h"

#define IDLE_TIMEOUT_DEFAULT_USEC (60ull * 1000000ull)
#define MAX_CLIENTS_DEFAULT 128u

struct ctl_conn {
        unsigned n_ref;
        struct ctl_server *server;
        struct ctl_conn *prev, *next;
        int fd;                       /* -1 once disconnected */
        sd_event_source *io, *idle_timer, *resume;
        struct ucred cred;
        bool may_read, may_write;
        char *in;                     /* MX_REQUEST_MAX bytes */
        size_t in_len;
        char *out;                    /* queued replies; out[out_sent..out_len) not yet written */
        size_t out_len, out_sent, out_size;
        struct ctl_call *current;     /* the call being served; requests are answered in order */
        bool read_eof;
        bool close_after_flush;       /* a framing error: say why, then hang up */
};

struct ctl_call {
        unsigned n_ref;
        struct ctl_conn *client;    /* NULL once the client is gone: replies are dropped */
        char *method;
        bool more, oneway, done, subscribed;
};

struct ctl_server {
        sd_event *event;
        sd_event_source *listen_src;
        int listen_fd;
        char *path;
        bool unlink_on_free;          /* we created the socket file (not systemd) */
        gid_t read_group;
        const struct ctl_method *methods;
        size_t n_methods;
        void *userdata;
        struct ctl_conn *clients;
        unsigned n_clients, max_clients;
        uint64_t idle_usec;
        size_t output_max;
};

static void client_update(struct ctl_conn *c);
static void client_disconnect(struct ctl_conn *c);
static void client_process(struct ctl_conn *c);
static int client_flush(struct ctl_conn *c);
static void client_failed(struct ctl_conn *c, int r);

static struct ctl_conn *conn_ref(struct ctl_conn *c) {
        c->n_ref++;
        return c;
}

static void conn_unref(struct ctl_conn *c) {
        if (!c || --c->n_ref > 0)
                return;
        free(c->in);
        free(c->out);
        free(c);
}

/* ---- calls ---- */

struct ctl_call *ctl_call_ref(struct ctl_call *call) {
        if (call)
                call->n_ref++;
        return call;
}

struct ctl_call *ctl_call_unref(struct ctl_call *call) {
        if (!call || --call->n_ref > 0)
                return NULL;
        free(call->method);
        free(call);
        return NULL;
}

const char *ctl_call_method(const struct ctl_call *call) { return call->method; }
bool ctl_call_more(const struct ctl_call *call) { return call->more; }
bool ctl_call_connected(const struct ctl_call *call) { return call->client && call->client->fd >= 0; }

int ctl_call_peer(const struct ctl_call *call, uid_t *ret_uid, pid_t *ret_pid) {
        if (!ctl_call_connected(call))
                return -ENOTCONN;
        if (ret_uid)
                *ret_uid = call->client->cred.uid;
        if (ret_pid)
                *ret_pid = call->client->cred.pid;
        return 0;
}

/* Append one formatted message to the client's output; drop a client whose unread output passes the cap.
 * With nothing queued before it the message goes to the socket at once, as much as it takes: the client
 * has its reply before the daemon frees what it built it from. Returns -ENOTCONN when the peer is gone. */
static int client_queue_text(struct ctl_conn *c, const char *text, size_t len) {
        size_t pending = c->out_len - c->out_sent;
        /* One message always fits into an empty queue, however large: the cap is about a client that
         * does not read, not about big replies. */
        if (pending > 0 && pending + len > c->server->output_max) {
                log_notice("control: client pid %d is not reading its replies (%zu bytes queued), disconnecting",
                           (int)c->cred.pid, pending);
                client_disconnect(c);
                return -ENOBUFS;
        }
        if (c->out_len + len > c->out_size && c->out_sent > 0) {
                /* Reclaim what was written before growing. */
                memmove(c->out, c->out + c->out_sent, pending);
                c->out_len = pending;
                c->out_sent = 0;
        }
        if (c->out_len + len > c->out_size) {
                size_t size = MAX(c->out_len + len, c->out_size * 2);
                char *p = realloc(c->out, size);
                if (!p) {
                        client_disconnect(c);
                        return -ENOMEM;
                }
                c->out = p;
                c->out_size = size;
        }
        memcpy(c->out + c->out_len, text, len);
        c->out_len += len;
        if (pending == 0) {
                int r = client_flush(c);
                if (r < 0) {
                        client_failed(c, r);
                        return -ENOTCONN;
                }
        }
        client_update(c);
        return 0;
}

static int client_queue(struct ctl_conn *c, struct json_object *msg) {
        size_t len;
        _cleanup_json_ struct json_object *m = msg;
        _cleanup_free_ char *text = m ? mx_message_format(m, &len) : NULL;
        if (!text) {
                client_disconnect(c);
                return -ENOMEM;
        }
        return client_queue_text(c, text, len);
}

/* Send a reply or error (takes msg), and end the call unless continues. */
static int call_send(struct ctl_call *call, struct json_object *msg, bool final) {
        _cleanup_json_ struct json_object *m = msg;
        if (!m)
                return -ENOMEM;
        if (call->done)
                return -EALREADY;
        struct ctl_conn *c = call->client;
        if (final)
                call->done = true;
        if (!c || c->fd < 0)
                return -ENOTCONN;

        int r = 0;
        conn_ref(c); /* a failed send disconnects c, which may drop the last other reference */
        if (!call->oneway) {
                size_t len;
                _cleanup_free_ char *text = mx_message_format(m, &len);
                if (text && len > MX_REPLY_MAX) {
                        log_error("control: reply to %s is %zu bytes, more than %u; sending an error instead",
                                  call->method, len, MX_REPLY_MAX);
                        struct json_object *p = json_object_new_object();
                        json_object_object_add(p, "message", json_object_new_string("reply too large"));
                        json_object_object_add(p, "errno", json_object_new_int(EMSGSIZE));
                        call->done = final = true;
                        r = client_queue(c, mx_error_reply_new(MX_ERROR_FAILED, p));
                } else if (text)
                        r = client_queue_text(c, text, len);
                else {
                        client_disconnect(c);
                        r = -ENOMEM;
                }
        }
        if (final && c->current == call) {
                c->current = NULL;
                ctl_call_unref(call);
                /* The next pipelined request is served from the loop, not from inside this reply. */
                if (c->fd >= 0) {
                        sd_event_source_set_enabled(c->resume, SD_EVENT_ONESHOT);
                        client_update(c);
                }
        }
        conn_unref(c);
        return r;
}

int ctl_call_reply(struct ctl_call *call, struct json_object *params) {
        return call_send(call, mx_reply_new(params, false), true);
}

int ctl_call_reply_more(struct ctl_call *call, struct json_object *params) {
        if (!call->more) {
                json_object_put(params);
                return -EINVAL;
        }
        return call_send(call, mx_reply_new(params, true), false);
}

int ctl_call_error(struct ctl_call *call, int r, const char *message) {
        return call_send(call, mx_error_reply_from_errno(r, message), true);
}

int ctl_call_errorf(struct ctl_call *call, int r, const char *fmt, ...) {
        char msg[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        return ctl_call_error(call, r, msg);
}

int ctl_call_error_name(struct ctl_call *call, const char *name, struct json_object *params) {
        return call_send(call, mx_error_reply_new(name, params), true);
}

int ctl_call_subscribe(struct ctl_call *call) {
        if (!call->more || call->done)
                return -EINVAL;
        call->subscribed = true;
        return 0;
}

int ctl_server_broadcast_event(struct ctl_server *s, struct json_object *event) {
        int n = 0;
        for (struct ctl_conn *c = s->clients, *next; c; c = next) {
                next = c->next; /* a reply may disconnect c */
                struct ctl_call *call = c->current;
                if (!call || !call->subscribed)
                        continue;
                struct json_object *p = json_object_new_object();
                json_object_object_add(p, "event", json_object_get(event));
                if (ctl_call_reply_more(call, p) >= 0)
                        n++;
        }
        json_object_put(event);
        return n;
}

/* ---- dispatch ---- */

static int error_with(struct ctl_call *call, const char *name, const char *key, const char *value, const char *message) {
        struct json_object *p = json_object_new_object();
        if (key)
                json_object_object_add(p, key, json_object_new_string(value));
        if (message)
                json_object_object_add(p, "message", json_object_new_string(message));
        const struct mx_error *e = mx_error_from_name(name);
        if (e && e->errno_value)
                json_object_object_add(p, "errno", json_object_new_int(e->errno_value));
        return ctl_call_error_name(call, name, p);
}

static int builtin_get_info(struct ctl_call *call) {
        struct json_object *p = json_object_new_object(), *ifaces = json_object_new_array();
        json_object_object_add(p, "vendor", json_object_new_string("mxgpu"));
        json_object_object_add(p, "product", json_object_new_string("mxgpud"));
        json_object_object_add(p, "version", json_object_new_string(MXGPU_VERSION));
        json_object_object_add(p, "url", json_object_new_string(MXGPU_URL));
        json_object_array_add(ifaces, json_object_new_string(VARLINK_SERVICE));
        json_object_array_add(ifaces, json_object_new_string(MX_INTERFACE));
        json_object_object_add(p, "interfaces", ifaces);
        return ctl_call_reply(call, p);
}

static int builtin_get_description(struct ctl_call *call, struct json_object *params) {
        struct json_object *v;
        const char *iface = json_object_object_get_ex(params, "interface", &v) ? json_object_get_string(v) : NULL;
        const char *text = mx_interface_description(iface);
        if (!text)
                return error_with(call, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", iface, "no such interface");
        struct json_object *p = json_object_new_object();
        json_object_object_add(p, "description", json_object_new_string(text));
        return ctl_call_reply(call, p);
}

static const struct ctl_method *server_handler(struct ctl_server *s, const char *name) {
        for (size_t i = 0; i < s->n_methods; i++)
                if (streq(s->methods[i].name, name))
                        return &s->methods[i];
        return NULL;
}

static void call_run(struct ctl_conn *c, struct ctl_call *call, struct mx_request *req) {
        struct ctl_server *s = c->server;
        char iface[256];
        const char *dot = strrchr(req->method, '.');
        snprintf(iface, sizeof(iface), "%.*s", (int)(dot - req->method), req->method);
        if (!mx_interface_known(iface)) {
                error_with(call, VARLINK_ERROR_INTERFACE_NOT_FOUND, "interface", iface, "no such interface");
                return;
        }
        const struct mx_method *m = mx_method_find(req->method);
        if (!m) {
                error_with(call, VARLINK_ERROR_METHOD_NOT_FOUND, "method", req->method, "no such method");
                return;
        }
        /* Refused before the parameters are looked at: a stranger learns nothing from the answers. */
        if (!c->may_read || (!(m->flags & MX_METHOD_READ_ONLY) && !c->may_write)) {
                char msg[160];
                snprintf(msg, sizeof(msg), "%s needs %s (caller uid %u)", req->method,
                         m->flags & MX_METHOD_READ_ONLY ? "root or the read group" : "root", (unsigned)c->cred.uid);
                error_with(call, VARLINK_ERROR_PERMISSION_DENIED, NULL, NULL, msg);
                return;
        }
        const char *bad = NULL;
        if (mx_params_check(m, req->parameters, &bad) < 0) {
                char msg[160];
                snprintf(msg, sizeof(msg), "parameter '%s' is missing, unknown or of the wrong type", bad);
                error_with(call, VARLINK_ERROR_INVALID_PARAMETER, "parameter", bad, msg);
                return;
        }
        if ((m->flags & MX_METHOD_MORE) && !req->more) {
                error_with(call, VARLINK_ERROR_EXPECTED_MORE, NULL, NULL, "call this method with \"more\": true");
                return;
        }
        if (streq(m->name, VARLINK_SERVICE ".GetInfo")) {
                builtin_get_info(call);
                return;
        }
        if (streq(m->name, VARLINK_SERVICE ".GetInterfaceDescription")) {
                builtin_get_description(call, req->parameters);
                return;
        }
        const struct ctl_method *h = server_handler(s, m->name);
        if (!h || !h->handler) {
                error_with(call, VARLINK_ERROR_NOT_IMPLEMENTED, "method", m->name, "not implemented by this daemon");
                return;
        }

        ctl_call_ref(call); /* the handler may finish the call, which drops the client's reference */
        int r = h->handler(call, req->parameters, s->userdata);
        if (!call->done) {
                if (r < 0)
                        ctl_call_error(call, r, NULL);
                else if (call->n_ref <= 2 && !call->subscribed) {
                        /* Neither replied nor kept: the client would wait forever. */
                        log_error("control: handler of %s returned without replying or keeping the call", m->name);
                        error_with(call, MX_ERROR_FAILED, NULL, NULL, "internal error: the handler did not reply");
                }
        }
        ctl_call_unref(call);
}

static void client_dispatch(struct ctl_conn *c, const char *msg, size_t len) {
        struct mx_request req;
        const char *problem = NULL;
        int r = mx_request_parse(msg, len, &req, &problem);

        struct ctl_call *call = calloc(1, sizeof(*call));
        if (!call) {
                if (r >= 0)
                        mx_request_done(&req);
                client_disconnect(c);
                return;
        }
        call->n_ref = 1;
        call->client = c;
        c->current = call;

        if (r == -ENOMEM) {
                client_disconnect(c);
                return;
        }
        if (r < 0) {
                call->method = strdup("(invalid)");
                log_debug("control: pid %d sent an invalid request: %s", (int)c->cred.pid, problem);
                struct json_object *p = json_object_new_object();
                json_object_object_add(p, "message", json_object_new_string(problem));
                json_object_object_add(p, "errno", json_object_new_int(-r));
                ctl_call_error_name(call, MX_ERROR_PROTOCOL, p);
                /* Not JSON at all: the stream cannot be trusted to be in step any more. */
                if (r == -EBADMSG)
                        c->close_after_flush = true;
                return;
        }
        call->method = strdup(req.method);
        call->more = req.more;
        call->oneway = req.oneway;
        if (!call->method) {
                mx_request_done(&req);
                client_disconnect(c);
                return;
        }
        conn_ref(c);
        call_run(c, call, &req);
        conn_unref(c);
        mx_request_done(&req);
}

/* Serve complete requests in order, one at a time. */
static void client_process(struct ctl_conn *c) {
        conn_ref(c);
        while (c->fd >= 0 && !c->current && !c->close_after_flush && c->in_len > 0) {
                size_t len;
                int r = mx_frame_scan(c->in, c->in_len, MX_REQUEST_MAX, &len);
                if (r == 0)
                        break;
                if (r < 0) {
                        log_debug("control: pid %d sent more than %u bytes without a NUL, closing", (int)c->cred.pid, MX_REQUEST_MAX);
                        c->in_len = 0;
                        c->close_after_flush = true;
                        struct json_object *p = json_object_new_object();
                        json_object_object_add(p, "message", json_object_new_string("request longer than 64 KiB"));
                        json_object_object_add(p, "errno", json_object_new_int(EMSGSIZE));
                        client_queue(c, mx_error_reply_new(MX_ERROR_TOO_LARGE, p));
                        break;
                }
                /* Copy the message out so the buffer can take more input while the call is pending. */
                _cleanup_free_ char *msg = strndup(c->in, len);
                memmove(c->in, c->in + len + 1, c->in_len - len - 1);
                c->in_len -= len + 1;
                if (!msg) {
                        client_disconnect(c);
                        break;
                }
                client_dispatch(c, msg, len);
        }
        /* After the peer's EOF an incomplete message can never complete. */
        if (c->read_eof && !c->current && !c->close_after_flush && c->in_len > 0 &&
            mx_frame_scan(c->in, c->in_len, MX_REQUEST_MAX, &(size_t){0}) == 0)
                c->in_len = 0;
        if (c->fd >= 0)
                client_update(c);
        conn_unref(c);
}

/* ---- connection I/O ---- */

static void client_update(struct ctl_conn *c) {
        if (c->fd < 0)
                return;
        bool pending_out = c->out_len > c->out_sent;
        if (!pending_out && (c->close_after_flush || (c->read_eof && !c->current && c->in_len == 0))) {
                client_disconnect(c);
                return;
        }
        uint32_t ev = 0;
        if (!c->read_eof && !c->close_after_flush && c->in_len < MX_REQUEST_MAX)
                ev |= EPOLLIN;
        if (pending_out)
                ev |= EPOLLOUT;
        sd_event_source_set_io_events(c->io, ev);
        /* Idle = no call in progress; a monitor or a slow handler is not idle. The deadline moves on
         * every update, and updates only happen on traffic or replies. */
        if (c->server->idle_usec > 0 && !c->current) {
                sd_event_source_set_time_relative(c->idle_timer, c->server->idle_usec);
                sd_event_source_set_enabled(c->idle_timer, SD_EVENT_ONESHOT);
        } else
                sd_event_source_set_enabled(c->idle_timer, SD_EVENT_OFF);
}

static void client_disconnect(struct ctl_conn *c) {
        if (c->fd < 0)
                return;
        struct ctl_server *s = c->server;
        c->io = sd_event_source_disable_unref(c->io);
        c->idle_timer = sd_event_source_disable_unref(c->idle_timer);
        c->resume = sd_event_source_disable_unref(c->resume);
        close(c->fd);
        c->fd = -1;
        if (c->current) {
                c->current->client = NULL; /* a handler still holding it gets -ENOTCONN */
                c->current = ctl_call_unref(c->current);
        }
        if (c->prev)
                c->prev->next = c->next;
        else
                s->clients = c->next;
        if (c->next)
                c->next->prev = c->prev;
        c->prev = c->next = NULL;
        s->n_clients--;
        conn_unref(c);
}

static int client_flush(struct ctl_conn *c) {
        while (c->out_sent < c->out_len) {
                ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        return -errno;
                }
                c->out_sent += (size_t)n;
        }
        c->out_sent = c->out_len = 0;
        return 0;
}

/* A send or receive failed: the peer is gone or the socket broken. */
static void client_failed(struct ctl_conn *c, int r) {
        log_debug("control: connection of pid %d failed: %s", (int)c->cred.pid, strerror(-r));
        client_disconnect(c);
}

static int client_fill(struct ctl_conn *c) {
        while (!c->read_eof && c->in_len < MX_REQUEST_MAX) {
                ssize_t n = recv(c->fd, c->in + c->in_len, MX_REQUEST_MAX - c->in_len, MSG_DONTWAIT);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EINTR)
                                return 0;
                        return -errno;
                }
                if (n == 0)
                        c->read_eof = true;
                c->in_len += (size_t)n;
        }
        return 0;
}

static int on_client_io(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct ctl_conn *c = userdata;
        if (revents & (EPOLLHUP | EPOLLERR)) {
                /* The peer is gone: nobody would read an answer. */
                client_disconnect(c);
                return 0;
        }
        conn_ref(c);
        int r = 0;
        if (revents & EPOLLOUT)
                r = client_flush(c);
        if (r >= 0 && (revents & EPOLLIN))
                r = client_fill(c);
        if (r < 0)
                client_failed(c, r);
        else
                client_process(c);
        conn_unref(c);
        return 0;
}

static int on_client_idle(sd_event_source *src, uint64_t usec, void *userdata) {
        struct ctl_conn *c = userdata;
        log_debug("control: connection of pid %d idle, closing", (int)c->cred.pid);
        client_disconnect(c);
        return 0;
}

static int on_client_resume(sd_event_source *src, void *userdata) {
        client_process(userdata);
        return 0;
}

static bool peer_in_group(int fd, const struct ucred *cred, gid_t group) {
        if (group == (gid_t)-1)
                return false;
        if (cred->gid == group)
                return true;
        /* The groups the peer had when it connected (Linux >= 4.13). */
        gid_t groups[256];
        socklen_t len = sizeof(groups);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) >= 0) {
                for (size_t i = 0; i < len / sizeof(gid_t); i++)
                        if (groups[i] == group)
                                return true;
                return false;
        }
        /* Older kernels: the user's configured groups. */
        struct passwd pw, *pwp = NULL;
        char buf[4096];
        if (getpwuid_r(cred->uid, &pw, buf, sizeof(buf), &pwp) != 0 || !pwp)
                return false;
        int n = (int)ARRAY_SIZE(groups);
        if (getgrouplist(pw.pw_name, pw.pw_gid, groups, &n) < 0)
                return false;
        for (int i = 0; i < n; i++)
                if (groups[i] == group)
                        return true;
        return false;
}

static int on_accept(sd_event_source *src, int fd, uint32_t revents, void *userdata) {
        struct ctl_server *s = userdata;
        _cleanup_close_ int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
                if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
                        log_warning_errno(-errno, "control: accept failed, ignoring");
                return 0;
        }
        if (s->n_clients >= s->max_clients) {
                log_notice("control: %u connections already, refusing another", s->n_clients);
                return 0;
        }
        struct ucred cred;
        socklen_t len = sizeof(cred);
        if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                log_warning_errno(-errno, "control: SO_PEERCRED failed, refusing the connection");
                return 0;
        }
        struct ctl_conn *c = calloc(1, sizeof(*c));
        if (!c || !(c->in = malloc(MX_REQUEST_MAX))) {
                free(c);
                return 0;
        }
        c->n_ref = 1;
        c->server = s;
        c->cred = cred;
        c->may_write = cred.uid == 0;
        c->may_read = c->may_write || peer_in_group(cfd, &cred, s->read_group);
        if (sd_event_add_io(s->event, &c->io, cfd, EPOLLIN, on_client_io, c) < 0 ||
            sd_event_add_time_relative(s->event, &c->idle_timer, CLOCK_MONOTONIC, IDLE_TIMEOUT_DEFAULT_USEC, 0,
                                       on_client_idle, c) < 0 ||
            sd_event_add_defer(s->event, &c->resume, on_client_resume, c) < 0) {
                sd_event_source_disable_unref(c->io);
                sd_event_source_disable_unref(c->idle_timer);
                sd_event_source_disable_unref(c->resume);
                conn_unref(c);
                return 0;
        }
        sd_event_source_set_enabled(c->resume, SD_EVENT_OFF);
        sd_event_source_set_enabled(c->idle_timer, SD_EVENT_OFF);
        c->fd = TAKE_FD(cfd);
        c->next = s->clients;
        if (s->clients)
                s->clients->prev = c;
        s->clients = c;
        s->n_clients++;
        log_debug("control: connection from pid %d uid %u (%s)", (int)cred.pid, (unsigned)cred.uid,
                  c->may_write ? "all methods" : c->may_read ? "read-only" : "refused");
        client_update(c);
        return 0;
}

/* ---- listening socket ---- */

static int socket_from_systemd(const char *path) {
        int n = sd_listen_fds(0);
        for (int i = 0; i < n; i++)
                if (sd_is_socket_unix(SD_LISTEN_FDS_START + i, SOCK_STREAM, 1, path, 0) > 0)
                        return SD_LISTEN_FDS_START + i;
        return -ENOENT;
}

static int socket_dir_check(const char *path) {
        _cleanup_free_ char *copy = strdup(path);
        if (!copy)
                return -ENOMEM;
        const char *dir = dirname(copy);
        struct stat st;
        if (mkdir(dir, 0755) >= 0) {
                /* Not the umask's choice: clients of the read group must be able to reach the socket. */
                if (chmod(dir, 0755) < 0)
                        return log_error_errno(-errno, "control: cannot set the mode of %s", dir);
                return 0;
        }
        if (errno != EEXIST)
                return log_error_errno(-errno, "control: cannot create the socket directory %s", dir);
        if (stat(dir, &st) < 0)
                return log_error_errno(-errno, "control: cannot check the socket directory %s", dir);
        if (!S_ISDIR(st.st_mode)) {
                log_error("control: %s is not a directory", dir);
                return -ENOTDIR;
        }
        /* Whoever can write there can replace our socket with theirs. */
        if (st.st_uid != geteuid() || (st.st_mode & 022)) {
                log_error("control: socket directory %s is owned by uid %u with mode %04o; it must be owned by uid %u "
                          "and not writable by group or others, refusing to listen there",
                          dir, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), (unsigned)geteuid());
                return -EPERM;
        }
        return 0;
}

static int socket_create(const char *path) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path)) {
                log_error("control: socket path %s is longer than %zu bytes", path, sizeof(sa.sun_path) - 1);
                return -ENAMETOOLONG;
        }
        strcpy(sa.sun_path, path);
        int r = socket_dir_check(path);
        if (r < 0)
                return r;

        struct stat st;
        if (lstat(path, &st) >= 0) {
                if (!S_ISSOCK(st.st_mode)) {
                        log_error("control: %s exists and is not a socket, refusing to replace it", path);
                        return -EEXIST;
                }
                _cleanup_close_ int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
                if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) >= 0) {
                        log_error("control: another daemon is listening on %s", path);
                        return -EADDRINUSE;
                }
                /* Left by a daemon that died: nobody answers on it. */
                if (unlink(path) < 0 && errno != ENOENT)
                        return log_error_errno(-errno, "control: cannot remove the stale socket %s", path);
        }

        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return log_error_errno(-errno, "control: socket");
        if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return log_error_errno(-errno, "control: cannot bind %s", path);
        /* Anyone may connect; SO_PEERCRED decides what they may do. */
        if (chmod(path, 0666) < 0 || listen(fd, SOMAXCONN) < 0) {
                r = log_error_errno(-errno, "control: cannot listen on %s", path);
                unlink(path);
                return r;
        }
        return TAKE_FD(fd);
}

int ctl_server_new(sd_event *e, const char *path, gid_t read_group, const struct ctl_method *methods,
                   size_t n_methods, void *userdata, struct ctl_server **ret) {
        if (!path)
                path = DEFAULT_SOCKET;
        for (size_t i = 0; i < n_methods; i++)
                if (!mx_method_find(methods[i].name)) {
                        log_error("control: handler for %s, which the protocol does not define", methods[i].name);
                        return -EINVAL;
                }
        struct ctl_server *s = calloc(1, sizeof(*s));
        if (!s || !(s->path = strdup(path))) {
                free(s);
                return -ENOMEM;
        }
        s->event = sd_event_ref(e);
        s->listen_fd = -1;
        s->read_group = read_group;
        s->methods = methods;
        s->n_methods = n_methods;
        s->userdata = userdata;
        s->idle_usec = IDLE_TIMEOUT_DEFAULT_USEC;
        s->output_max = 2 * (size_t)MX_REPLY_MAX;
        s->max_clients = MAX_CLIENTS_DEFAULT;

        int fd = socket_from_systemd(path);
        if (fd >= 0) {
                if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
                        int r = log_error_errno(-errno, "control: socket from systemd");
                        ctl_server_free(s);
                        return r;
                }
                log_debug("control: using the socket systemd passed for %s", path);
        } else {
                fd = socket_create(path);
                if (fd < 0) {
                        ctl_server_free(s);
                        return fd;
                }
                s->unlink_on_free = true;
        }
        s->listen_fd = fd;
        int r = sd_event_add_io(e, &s->listen_src, fd, EPOLLIN, on_accept, s);
        if (r < 0) {
                ctl_server_free(s);
                return log_error_errno(r, "control: cannot watch %s", path);
        }
        *ret = s;
        return 0;
}

struct ctl_server *ctl_server_free(struct ctl_server *s) {
        if (!s)
                return NULL;
        while (s->clients)
                client_disconnect(s->clients);
        s->listen_src = sd_event_source_disable_unref(s->listen_src);
        if (s->listen_fd >= 0)
                close(s->listen_fd);
        if (s->unlink_on_free)
                unlink(s->path);
        free(s->path);
        sd_event_unref(s->event);
        free(s);
        return NULL;
}

void ctl_server_set_idle_timeout(struct ctl_server *s, uint64_t usec) { s->idle_usec = usec; }
void ctl_server_set_output_max(struct ctl_server *s, size_t bytes) { s->output_max = bytes; }
void ctl_server_set_max_clients(struct ctl_server *s, unsigned n) { s->max_clients = n; }
unsigned ctl_server_n_clients(const struct ctl_server *s) { return s->n_clients; }
const char *ctl_server_path(const struct ctl_server *s) { return s->path; }

unsigned ctl_server_n_subscribers(const struct ctl_server *s) {
        unsigned n = 0;
        for (const struct ctl_conn *c = s->clients; c; c = c->next)
                n += c->current && c->current->subscribed;
        return n;
}
