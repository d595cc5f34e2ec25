/* SPDX-License-Identifier: MIT */
/* mxgpud's control socket: a Varlink server on an sd-event loop that checks, authorises and
 * dispatches requests to method handlers the daemon registers (protocol: include/mxgpu/protocol.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>
#include <json-c/json.h>

#include "mxgpu/protocol.h"

struct ctl_server;
struct ctl_call;

/* A method handler. Reply with ctl_call_reply()/ctl_call_error() before returning, or keep the call
 * with ctl_call_ref() and reply later from any event callback (asynchronous). A negative return
 * without a reply sends the error for that errno. params have passed the method's schema check and
 * are valid until the handler returns (take a json_object_get() to keep them). */
typedef int (*ctl_handler_t)(struct ctl_call *call, struct json_object *params, void *userdata);

struct ctl_method {
        const char *name;     /* a method of protocol.c's table, e.g. MX_INTERFACE ".List" */
        ctl_handler_t handler;
};

/* Listen on path (NULL = DEFAULT_SOCKET). A socket passed by systemd (sd_listen_fds) and bound to path
 * is used as is; otherwise the directory is created (0755) or checked (owned by us, not writable by
 * group or others), a stale socket is removed, and a new one bound and made 0666: authorisation is by
 * SO_PEERCRED. read_group: members may call read-only methods; (gid_t)-1 = root only. The method
 * table and userdata must outlive the server. org.varlink.service.GetInfo and
 * GetInterfaceDescription are built in. A refusal is logged here with its reason; returns -errno. */
int ctl_server_new(sd_event *e, const char *path, gid_t read_group, const struct ctl_method *methods,
                   size_t n_methods, void *userdata, struct ctl_server **ret);
/* Close every connection (pending calls are dropped), the listening socket, and remove the socket
 * file when we created it. NULL is fine. */
struct ctl_server *ctl_server_free(struct ctl_server *s);

/* Tunables, mostly for tests: idle time before a connection without a pending call is closed
 * (default 60 s, 0 = never), bytes queued to a client that does not read before it is dropped
 * (default 2 * MX_REPLY_MAX), connections at once (default 128). */
void ctl_server_set_idle_timeout(struct ctl_server *s, uint64_t usec);
void ctl_server_set_output_max(struct ctl_server *s, size_t bytes);
void ctl_server_set_max_clients(struct ctl_server *s, unsigned n);

unsigned ctl_server_n_clients(const struct ctl_server *s);
unsigned ctl_server_n_subscribers(const struct ctl_server *s);
const char *ctl_server_path(const struct ctl_server *s);

/* Send {"event": event} as a "continues" reply to every subscribed call. Takes event. Returns the
 * number of subscribers it was queued for. */
int ctl_server_broadcast_event(struct ctl_server *s, struct json_object *event);

struct ctl_call *ctl_call_ref(struct ctl_call *c);
struct ctl_call *ctl_call_unref(struct ctl_call *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct ctl_call *, ctl_call_unref);

/* The final reply. Takes params (NULL = {}). Returns 0, -ENOTCONN when the client is gone (the reply
 * is dropped; not an error for the daemon), -EALREADY after a final reply. */
int ctl_call_reply(struct ctl_call *c, struct json_object *params);
/* One of a stream of replies ("continues": true); only for a call made with more. */
int ctl_call_reply_more(struct ctl_call *c, struct json_object *params);
/* The final error for a negative errno (protocol.h's table); message NULL = strerror. */
int ctl_call_error(struct ctl_call *c, int r, const char *message);
int ctl_call_errorf(struct ctl_call *c, int r, const char *fmt, ...) _printf_(3, 4);
/* A final error by name with free-form parameters (takes params). */
int ctl_call_error_name(struct ctl_call *c, const char *name, struct json_object *params);
/* Keep a call made with more for ctl_server_broadcast_event() until the client goes. Returns 0 or
 * -EINVAL when the call was not made with more. */
int ctl_call_subscribe(struct ctl_call *c);

const char *ctl_call_method(const struct ctl_call *c);
bool ctl_call_more(const struct ctl_call *c);
bool ctl_call_connected(const struct ctl_call *c);
/* The caller's credentials as SO_PEERCRED gave them at connect time; -ENOTCONN once gone. */
int ctl_call_peer(const struct ctl_call *c, uid_t *ret_uid, pid_t *ret_pid);
