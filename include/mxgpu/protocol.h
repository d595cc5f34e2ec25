/* SPDX-License-Identifier: MIT */
/* The mxgpud control protocol in one place: Varlink framing, the io.mxgpu.Manager interface and its
 * methods, error names, and the errno -> error name -> mxgpuctl exit code mapping (docs/protocol.md). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "mxgpu/macro.h"

#define MX_INTERFACE           "io.mxgpu.Manager"
#define VARLINK_SERVICE        "org.varlink.service"
/* Bumped only together with a new interface name: compatible additions keep both (docs/protocol.md). */
#define MX_PROTOCOL_VERSION    1
#define MXGPU_VERSION          "0.1"
#define MXGPU_URL              "https://github.com/mxgpu/mxgpu"

/* The largest request the daemon reads, terminating NUL included; checked before parsing. */
#define MX_REQUEST_MAX         (64u * 1024u)
/* The largest reply the daemon sends and mxgpuctl reads (a List of many PFs and VFs is bigger than a request). */
#define MX_REPLY_MAX           (4u * 1024u * 1024u)

/* mxgpuctl exit codes (man/mxgpuctl.8, docs/protocol.md). */
enum mx_exit {
        MX_EXIT_OK          = 0, /* success */
        MX_EXIT_FAILED      = 1, /* the operation failed (hardware error, timeout, internal error) */
        MX_EXIT_USAGE       = 2, /* bad command line or a value the daemon rejected */
        MX_EXIT_UNREACHABLE = 3, /* daemon not reachable, connection lost, no answer, or incompatible */
        MX_EXIT_PERMISSION  = 4, /* permission denied */
        MX_EXIT_NOT_FOUND   = 5, /* no such device, VF or object */
        MX_EXIT_CONFLICT    = 6, /* in use (assigned to a running VM, operation in progress) or exists */
        MX_EXIT_NO_SPACE    = 7, /* does not fit: pool or framebuffer exhausted */
};

/* One row of the error table: an errno the daemon may return and what it becomes on the wire. */
struct mx_error {
        const char *name;      /* full Varlink error name */
        int errno_value;       /* positive errno sent as "errno" and returned by the client */
        enum mx_exit exit_code;
        bool from_errno;       /* false: only the dispatcher sends it, never chosen from an errno */
        const char *meaning;
};

/* The error a negative errno becomes; an errno not in the table becomes io.mxgpu.Manager.Failed. */
const struct mx_error *mx_error_from_errno(int r);
/* The table row of an error name (the first row with that name); NULL for an unknown name. */
const struct mx_error *mx_error_from_name(const char *name);
/* The exit code for an error name; MX_EXIT_FAILED for a name this version does not know. */
enum mx_exit mx_exit_from_error_name(const char *name);
/* The whole table, for docs checks and tests. */
const struct mx_error *mx_error_table(size_t *ret_n);

#define MX_ERROR_FAILED             MX_INTERFACE ".Failed"
#define MX_ERROR_PROTOCOL           MX_INTERFACE ".ProtocolError"
#define MX_ERROR_TOO_LARGE          MX_INTERFACE ".MessageTooLarge"
#define VARLINK_ERROR_INTERFACE_NOT_FOUND   VARLINK_SERVICE ".InterfaceNotFound"
#define VARLINK_ERROR_METHOD_NOT_FOUND      VARLINK_SERVICE ".MethodNotFound"
#define VARLINK_ERROR_NOT_IMPLEMENTED       VARLINK_SERVICE ".MethodNotImplemented"
#define VARLINK_ERROR_INVALID_PARAMETER     VARLINK_SERVICE ".InvalidParameter"
#define VARLINK_ERROR_PERMISSION_DENIED     VARLINK_SERVICE ".PermissionDenied"
#define VARLINK_ERROR_EXPECTED_MORE         VARLINK_SERVICE ".ExpectedMore"

/* Parameter schema of a method: every parameter must be listed, unknown ones are refused. */
enum mx_param_type { MX_PARAM_STRING, MX_PARAM_INT, MX_PARAM_BOOL, MX_PARAM_OBJECT, MX_PARAM_ARRAY };
struct mx_param {
        const char *name;
        enum mx_param_type type;
        bool required;
};

enum {
        MX_METHOD_READ_ONLY = 1u << 0, /* members of the read group may call it; others need root */
        MX_METHOD_MORE      = 1u << 1, /* streams replies: the call must set "more" */
};
struct mx_method {
        const char *name;              /* full name, e.g. io.mxgpu.Manager.List */
        unsigned flags;
        const struct mx_param *params; /* terminated by a NULL name; NULL = no parameters */
};

/* A method of either interface by full name; NULL when unknown. */
const struct mx_method *mx_method_find(const char *name);
/* Every method, for the server's checks and tests. */
const struct mx_method *mx_method_table(size_t *ret_n);
/* True for "io.mxgpu.Manager" and "org.varlink.service". */
bool mx_interface_known(const char *interface);
/* The Varlink interface description (IDL text) of a known interface; NULL otherwise. */
const char *mx_interface_description(const char *interface);

/* Check params against the method's schema. Returns 0, or -EINVAL with *ret_bad naming the
 * offending parameter (a missing, unknown or wrongly typed one). */
int mx_params_check(const struct mx_method *m, struct json_object *params, const char **ret_bad);

/* Framing: find the NUL that ends the first message in buf[0..len). Returns 1 with *ret_len the
 * message length (NUL excluded), 0 when more bytes are needed, -EMSGSIZE when max bytes (NUL
 * included) have arrived without a NUL. */
int mx_frame_scan(const char *buf, size_t len, size_t max, size_t *ret_len);

/* Parse one message (without its NUL) as strict JSON with valid UTF-8; the whole text must be one
 * value. Returns 0 and the value, or -EBADMSG. */
int mx_json_parse(const char *msg, size_t len, struct json_object **ret);

/* A request, after structural checks (object, method a string "iface.Name", parameters an object,
 * more/oneway booleans, no other keys). */
struct mx_request {
        struct json_object *root;       /* owns everything below */
        const char *method;
        struct json_object *parameters; /* borrowed from root; an empty object when absent */
        bool more;
        bool oneway;
};
/* Returns 0, -EBADMSG when msg is not JSON (the connection cannot be trusted: close it), or
 * -EPROTO when it is JSON but not a request (*ret_problem says why). */
int mx_request_parse(const char *msg, size_t len, struct mx_request *ret, const char **ret_problem);
void mx_request_done(struct mx_request *req);

/* Serialise a message with its terminating NUL; *ret_len counts the NUL. NULL on ENOMEM. */
char *mx_message_format(struct json_object *msg, size_t *ret_len);
/* {"parameters": params} (+ "continues": true). Takes params (NULL = {}). */
struct json_object *mx_reply_new(struct json_object *params, bool continues);
/* {"error": name, "parameters": params}. Takes params (NULL = {}). */
struct json_object *mx_error_reply_new(const char *name, struct json_object *params);
/* The error reply for a negative errno: {"error": <name>, "parameters": {"message", "errno"}}.
 * message NULL = strerror. */
struct json_object *mx_error_reply_from_errno(int r, const char *message);

/* Add val under key, a string literal not yet in obj: json-c then neither copies the key nor looks
 * for it first. For replies built in bulk (List: some 1700 keys per call). */
#define mx_json_add_new(obj, key, val) \
        json_object_object_add_ex((obj), "" key "", (val), JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_ADD_CONSTANT_KEY)

static inline void json_object_putp(struct json_object **p) { if (*p) json_object_put(*p); }
#define _cleanup_json_ _cleanup_(json_object_putp)
