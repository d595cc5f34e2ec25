/* SPDX-License-Identifier: MIT */
/* A small blocking Varlink client of mxgpud's control socket, for mxgpuctl and tests. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "mxgpu/protocol.h"

struct ctl_client;

#define CTL_CLIENT_TIMEOUT_DEFAULT_USEC (120ull * 1000000ull)

/* The socket to use: path if given, else $MXGPU_SOCKET, else DEFAULT_SOCKET. */
const char *ctl_client_socket_path(const char *path);

/* Connect (path as ctl_client_socket_path()). Returns 0 or -errno of socket/connect;
 * ctl_client_connect_hint() turns that into words for a user. */
int ctl_client_connect(const char *path, struct ctl_client **ret);
/* "cannot reach mxgpud at PATH: No such file or directory - is mxgpud running? (systemctl status mxgpud)" */
const char *ctl_client_connect_hint(const char *path, int r, char *buf, size_t size);
struct ctl_client *ctl_client_free(struct ctl_client *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct ctl_client *, ctl_client_free);

/* How long a call waits for its reply (default CTL_CLIENT_TIMEOUT_DEFAULT_USEC; 0 = forever). */
void ctl_client_set_timeout(struct ctl_client *c, uint64_t usec);
const char *ctl_client_path(const struct ctl_client *c);

/* One reply from the daemon: either parameters, or an error name with its parameters. */
struct ctl_reply {
        struct json_object *root;       /* the whole message; owns the rest */
        struct json_object *parameters; /* never NULL once filled: {} when the message had none */
        const char *error;              /* NULL on success */
        const char *message;            /* the error's "message", or NULL */
        int error_errno;                /* the error's "errno" (positive), else the table's, else 0 */
        bool continues;
};
void ctl_reply_done(struct ctl_reply *r);
/* The exit code for a reply: MX_EXIT_OK, or the error's (protocol.h). */
enum mx_exit ctl_reply_exit_code(const struct ctl_reply *r);

/* Call method with params (borrowed; NULL = none) and wait for the reply. Returns 0 when a reply
 * arrived (check ret->error), or -errno when the exchange itself failed: -ETIMEDOUT (no answer in
 * time), -ECONNRESET (connection closed), -EBADMSG/-EMSGSIZE (not a Varlink reply). */
int ctl_client_call(struct ctl_client *c, const char *method, struct json_object *params, struct ctl_reply *ret);

/* Call method with "more": cb sees each reply in turn (the continued ones, then the final reply or
 * error, which ends the stream) until it returns non-zero: < 0 stops with that value, > 0 stops with
 * 0. Waits without a timeout after the first reply. Returns 0 when the stream ended or cb stopped it
 * with > 0, else -errno as ctl_client_call. After cb stops a stream the connection is unusable
 * (Varlink cannot cancel a call): free the client. */
typedef int (*ctl_reply_cb)(const struct ctl_reply *reply, void *userdata);
int ctl_client_call_more(struct ctl_client *c, const char *method, struct json_object *params, ctl_reply_cb cb, void *userdata);

/* Send a request without waiting ("oneway": the daemon sends no reply). */
int ctl_client_call_oneway(struct ctl_client *c, const char *method, struct json_object *params);
