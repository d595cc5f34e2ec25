// SPDX-License-Identifier: MIT
// A blocking Varlink client of mxgpud's control socket: connect, call, stream, with a timeout.
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "mxgpu/clock.h"
#include "mxgpu/ctlclient.h"
#include "mxgpu/names.h"

struct ctl_client {
        int fd;
        char *path;
        uint64_t timeout_usec;
        char *in;              /* received bytes not yet returned as messages */
        size_t in_len, in_size;
        bool broken;           /* a stream was abandoned or a framing error seen */
};

const char *ctl_client_socket_path(const char *path) {
        if (path && *path)
                return path;
        const char *e = getenv(ENV_SOCKET);
        return e && *e ? e : DEFAULT_SOCKET;
}

int ctl_client_connect(const char *path, struct ctl_client **ret) {
        path = ctl_client_socket_path(path);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
                return negative_errno();
        struct ctl_client *c = calloc(1, sizeof(*c));
        if (!c || !(c->path = strdup(path))) {
                free(c);
                return -ENOMEM;
        }
        c->fd = TAKE_FD(fd);
        c->timeout_usec = CTL_CLIENT_TIMEOUT_DEFAULT_USEC;
        *ret = c;
        return 0;
}

const char *ctl_client_connect_hint(const char *path, int r, char *buf, size_t size) {
        path = ctl_client_socket_path(path);
        const char *hint = "";
        if (r == -ENOENT || r == -ECONNREFUSED)
                hint = " - is mxgpud running? (systemctl status mxgpud)";
        else if (r == -EACCES || r == -EPERM)
                hint = " - check the permissions of the socket and its directory";
        else if (r == -ENAMETOOLONG)
                hint = " - socket paths are limited to 107 bytes";
        snprintf(buf, size, "cannot reach mxgpud at %s: %s%s", path, strerror(r < 0 ? -r : r), hint);
        return buf;
}

struct ctl_client *ctl_client_free(struct ctl_client *c) {
        if (!c)
                return NULL;
        if (c->fd >= 0)
                close(c->fd);
        free(c->path);
        free(c->in);
        free(c);
        return NULL;
}

void ctl_client_set_timeout(struct ctl_client *c, uint64_t usec) { c->timeout_usec = usec; }
const char *ctl_client_path(const struct ctl_client *c) { return c->path; }

void ctl_reply_done(struct ctl_reply *r) {
        json_object_put(r->root);
        *r = (struct ctl_reply) {};
}

enum mx_exit ctl_reply_exit_code(const struct ctl_reply *r) {
        return r->error ? mx_exit_from_error_name(r->error) : MX_EXIT_OK;
}

static int send_all(struct ctl_client *c, const char *buf, size_t len) {
        while (len > 0) {
                ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

static int send_request(struct ctl_client *c, const char *method, struct json_object *params, bool more, bool oneway) {
        if (c->broken)
                return -ENOTCONN;
        _cleanup_json_ struct json_object *req = json_object_new_object();
        if (!req)
                return -ENOMEM;
        json_object_object_add(req, "method", json_object_new_string(method));
        json_object_object_add(req, "parameters", params ? json_object_get(params) : json_object_new_object());
        if (more)
                json_object_object_add(req, "more", json_object_new_boolean(true));
        if (oneway)
                json_object_object_add(req, "oneway", json_object_new_boolean(true));
        size_t len;
        _cleanup_free_ char *text = mx_message_format(req, &len);
        if (!text)
                return -ENOMEM;
        if (len > MX_REQUEST_MAX)
                return -EMSGSIZE;
        return send_all(c, text, len);
}

/* Read one message into ret (timeout 0 = wait forever). */
static int read_reply(struct ctl_client *c, uint64_t timeout_usec, struct ctl_reply *ret) {
        uint64_t deadline = timeout_usec ? mx_now_usec() + timeout_usec : 0;
        size_t len;
        for (;;) {
                int r = c->in_len > 0 ? mx_frame_scan(c->in, c->in_len, MX_REPLY_MAX, &len) : 0;
                if (r < 0) {
                        c->broken = true;
                        return r;
                }
                if (r > 0)
                        break;
                if (c->in_size - c->in_len < 4096) {
                        size_t size = MIN(MAX(c->in_size * 2, (size_t)16384), (size_t)MX_REPLY_MAX + 4096);
                        char *p = realloc(c->in, size);
                        if (!p)
                                return -ENOMEM;
                        c->in = p;
                        c->in_size = size;
                }
                int wait_ms = -1;
                if (deadline) {
                        uint64_t now = mx_now_usec();
                        if (now >= deadline)
                                return -ETIMEDOUT;
                        wait_ms = (int)MIN((deadline - now + 999) / 1000, (uint64_t)INT32_MAX);
                }
                struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
                r = poll(&pfd, 1, wait_ms);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (r == 0)
                        return -ETIMEDOUT;
                ssize_t n = recv(c->fd, c->in + c->in_len, c->in_size - c->in_len, 0);
                if (n < 0) {
                        if (errno == EINTR || errno == EAGAIN)
                                continue;
                        c->broken = true;
                        return negative_errno();
                }
                if (n == 0) {
                        c->broken = true;
                        return -ECONNRESET;
                }
                c->in_len += (size_t)n;
        }

        struct json_object *root;
        int r = mx_json_parse(c->in, len, &root);
        memmove(c->in, c->in + len + 1, c->in_len - len - 1);
        c->in_len -= len + 1;
        if (r < 0) {
                c->broken = true;
                return r;
        }
        struct ctl_reply reply = { .root = root };
        struct json_object *v;
        if (!json_object_is_type(root, json_type_object))
                goto bad;
        if (json_object_object_get_ex(root, "parameters", &v) && v) {
                if (!json_object_is_type(v, json_type_object))
                        goto bad;
                reply.parameters = v;
        } else {
                reply.parameters = json_object_new_object();
                json_object_object_add(root, "parameters", reply.parameters);
        }
        if (json_object_object_get_ex(root, "error", &v) && v) {
                if (!json_object_is_type(v, json_type_string))
                        goto bad;
                reply.error = json_object_get_string(v);
                const struct mx_error *e = mx_error_from_name(reply.error);
                reply.error_errno = e ? e->errno_value : 0;
                if (json_object_object_get_ex(reply.parameters, "message", &v) && json_object_is_type(v, json_type_string))
                        reply.message = json_object_get_string(v);
                if (json_object_object_get_ex(reply.parameters, "errno", &v) && json_object_is_type(v, json_type_int) &&
                    json_object_get_int(v) > 0)
                        reply.error_errno = json_object_get_int(v);
        }
        if (json_object_object_get_ex(root, "continues", &v) && v) {
                if (!json_object_is_type(v, json_type_boolean))
                        goto bad;
                reply.continues = json_object_get_boolean(v);
        }
        *ret = reply;
        return 0;
bad:
        json_object_put(root);
        c->broken = true;
        return -EBADMSG;
}

int ctl_client_call(struct ctl_client *c, const char *method, struct json_object *params, struct ctl_reply *ret) {
        int r = send_request(c, method, params, false, false);
        if (r < 0)
                return r;
        struct ctl_reply reply;
        r = read_reply(c, c->timeout_usec, &reply);
        if (r < 0)
                return r;
        if (reply.continues) { /* never sent without "more" */
                ctl_reply_done(&reply);
                c->broken = true;
                return -EBADMSG;
        }
        *ret = reply;
        return 0;
}

int ctl_client_call_more(struct ctl_client *c, const char *method, struct json_object *params, ctl_reply_cb cb, void *userdata) {
        int r = send_request(c, method, params, true, false);
        if (r < 0)
                return r;
        for (bool first = true;; first = false) {
                struct ctl_reply reply;
                r = read_reply(c, first ? c->timeout_usec : 0, &reply);
                if (r < 0)
                        return r;
                bool last = !reply.continues || reply.error;
                r = cb(&reply, userdata);
                ctl_reply_done(&reply);
                if (r != 0 && !last)
                        c->broken = true;
                if (r < 0)
                        return r;
                if (r > 0 || last)
                        return 0;
        }
}

int ctl_client_call_oneway(struct ctl_client *c, const char *method, struct json_object *params) {
        return send_request(c, method, params, false, true);
}
