// SPDX-License-Identifier: MIT
// The control protocol's tables (methods, schemas, errors, interface descriptions) and its framing
// and message helpers, shared by mxgpud's server, mxgpuctl's client and the tests.
#include <errno.h>
#include <string.h>

#include "mxgpu/protocol.h"

/* errno -> error name -> exit code. Several errnos may share a name; the first row of a name is
 * the one whose errno a client reports. Keep docs/protocol.md's table in step (test-protocol checks). */
static const struct mx_error errors[] = {
        { MX_INTERFACE ".InvalidParameter", EINVAL,     MX_EXIT_USAGE,       true,  "the daemon rejected a parameter's value" },
        { MX_INTERFACE ".InvalidParameter", ERANGE,     MX_EXIT_USAGE,       true,  "a value is out of range" },
        { VARLINK_ERROR_PERMISSION_DENIED,  EPERM,      MX_EXIT_PERMISSION,  true,  "the caller may not call this method" },
        { VARLINK_ERROR_PERMISSION_DENIED,  EACCES,     MX_EXIT_PERMISSION,  true,  "the caller may not call this method" },
        { MX_INTERFACE ".NotFound",         ENOENT,     MX_EXIT_NOT_FOUND,   true,  "no such object (VF, VM, configuration entry)" },
        { MX_INTERFACE ".NoSuchDevice",     ENODEV,     MX_EXIT_NOT_FOUND,   true,  "no such PCI function, or it is gone" },
        { MX_INTERFACE ".NoSuchDevice",     ENXIO,      MX_EXIT_NOT_FOUND,   true,  "no such PCI function, or it is gone" },
        { MX_INTERFACE ".NoSuchDevice",     ESTALE,     MX_EXIT_NOT_FOUND,   true,  "the PCI function at that address was replaced" },
        { MX_INTERFACE ".InUse",            EBUSY,      MX_EXIT_CONFLICT,    true,  "in use: assigned to a running VM, or another operation is in progress" },
        { MX_INTERFACE ".InUse",            EAGAIN,     MX_EXIT_CONFLICT,    true,  "busy for now: try again" },
        { MX_INTERFACE ".AlreadyExists",    EEXIST,     MX_EXIT_CONFLICT,    true,  "already exists or already assigned" },
        { MX_INTERFACE ".NoSpace",          ENOSPC,     MX_EXIT_NO_SPACE,    true,  "does not fit: the pool or the framebuffer is exhausted" },
        { MX_INTERFACE ".Timeout",          ETIMEDOUT,  MX_EXIT_FAILED,      true,  "the hardware or the kernel did not answer in time" },
        { MX_INTERFACE ".HardwareError",    EIO,        MX_EXIT_FAILED,      true,  "the device reported an error or stopped responding" },
        { MX_INTERFACE ".HardwareError",    EREMOTEIO,  MX_EXIT_FAILED,      true,  "the device reported an error or stopped responding" },
        { MX_INTERFACE ".NotSupported",     EOPNOTSUPP, MX_EXIT_FAILED,      true,  "this card, driver or kernel cannot do that" },
        { MX_INTERFACE ".Cancelled",        ECANCELED,  MX_EXIT_FAILED,      true,  "the operation was cancelled (daemon shutting down, superseded)" },
        { VARLINK_ERROR_NOT_IMPLEMENTED,    ENOSYS,     MX_EXIT_FAILED,      true,  "the method exists but this daemon does not implement it" },
        { MX_ERROR_PROTOCOL,                EPROTO,     MX_EXIT_UNREACHABLE, true,  "the message is JSON but not a valid request" },
        { MX_ERROR_PROTOCOL,                EBADMSG,    MX_EXIT_UNREACHABLE, true,  "the message is not valid JSON (the connection is closed)" },
        { MX_ERROR_TOO_LARGE,               EMSGSIZE,   MX_EXIT_USAGE,       true,  "the request is longer than 64 KiB (the connection is closed)" },
        /* Sent by name only. */
        { MX_INTERFACE ".InvalidConfig",    EINVAL,     MX_EXIT_USAGE,       false, "the config files are not valid; \"problems\" lists each with file:line; nothing was changed" },
        /* Sent by the dispatcher only. */
        { VARLINK_ERROR_INVALID_PARAMETER,  EINVAL,     MX_EXIT_USAGE,       false, "a parameter is missing, unknown or of the wrong type" },
        { VARLINK_ERROR_METHOD_NOT_FOUND,   EBADRQC,    MX_EXIT_UNREACHABLE, false, "no such method: mxgpuctl and mxgpud are of different versions" },
        { VARLINK_ERROR_INTERFACE_NOT_FOUND, EPROTONOSUPPORT, MX_EXIT_UNREACHABLE, false, "no such interface" },
        { VARLINK_ERROR_EXPECTED_MORE,      EINVAL,     MX_EXIT_USAGE,       false, "the method streams replies: call it with \"more\": true" },
        /* The fallback for any other errno: "errno" carries the real one. */
        { MX_ERROR_FAILED,                  0,          MX_EXIT_FAILED,      false, "the operation failed; \"errno\" and \"message\" say why" },
};

const struct mx_error *mx_error_table(size_t *ret_n) {
        *ret_n = ARRAY_SIZE(errors);
        return errors;
}

const struct mx_error *mx_error_from_errno(int r) {
        int e = r < 0 ? -r : r;
        for (size_t i = 0; i < ARRAY_SIZE(errors); i++)
                if (errors[i].from_errno && errors[i].errno_value == e)
                        return &errors[i];
        return &errors[ARRAY_SIZE(errors) - 1];
}

const struct mx_error *mx_error_from_name(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < ARRAY_SIZE(errors); i++)
                if (streq(errors[i].name, name))
                        return &errors[i];
        return NULL;
}

enum mx_exit mx_exit_from_error_name(const char *name) {
        const struct mx_error *e = mx_error_from_name(name);
        return e ? e->exit_code : MX_EXIT_FAILED;
}

/* Parameter schemas. The lead's verbs own the drafts below (Plan .. Resize); change them here and in
 * the interface description and docs/protocol.md together. */
static const struct mx_param p_interface[] = { { "interface", MX_PARAM_STRING, true }, {} };
static const struct mx_param p_device[] = { { "device", MX_PARAM_STRING, true }, {} };
static const struct mx_param p_apply[] = { { "dry_run", MX_PARAM_BOOL, false }, {} };
static const struct mx_param p_set_vfs[] = {
        { "device", MX_PARAM_STRING, true }, { "count", MX_PARAM_INT, true },
        { "dry_run", MX_PARAM_BOOL, false }, { "persist", MX_PARAM_BOOL, false }, {} };
static const struct mx_param p_resize[] = {
        { "device", MX_PARAM_STRING, true },
        { "memory_mib", MX_PARAM_INT, false },
        { "time_slice_us", MX_PARAM_INT, false },
        { "dry_run", MX_PARAM_BOOL, false },
        { "persist", MX_PARAM_BOOL, false },
        {} };

static const struct mx_param p_attach[] = {
        { "domain", MX_PARAM_STRING, true },
        { "pool", MX_PARAM_STRING, false },
        { "memory_min_mib", MX_PARAM_INT, false },
        { "vf", MX_PARAM_STRING, false },
        { "live", MX_PARAM_BOOL, false },
        { "config", MX_PARAM_BOOL, false },
        {} };
static const struct mx_param p_detach[] = { { "domain", MX_PARAM_STRING, true }, { "vf", MX_PARAM_STRING, false }, {} };
static const struct mx_param p_pool[] = { { "pool", MX_PARAM_STRING, false }, {} };

static const struct mx_method methods[] = {
        { VARLINK_SERVICE ".GetInfo",                 MX_METHOD_READ_ONLY, NULL },
        { VARLINK_SERVICE ".GetInterfaceDescription", MX_METHOD_READ_ONLY, p_interface },
        { MX_INTERFACE ".List",    MX_METHOD_READ_ONLY, NULL },
        { MX_INTERFACE ".Show",    MX_METHOD_READ_ONLY, p_device },
        { MX_INTERFACE ".Monitor", MX_METHOD_READ_ONLY | MX_METHOD_MORE, NULL },
        { MX_INTERFACE ".Plan",    MX_METHOD_READ_ONLY, NULL },
        { MX_INTERFACE ".Apply",   0, p_apply },
        { MX_INTERFACE ".Reload",  0, NULL },
        { MX_INTERFACE ".SetVFs",  0, p_set_vfs },
        { MX_INTERFACE ".Resize",  0, p_resize },
        { MX_INTERFACE ".Attach",  0, p_attach },
        { MX_INTERFACE ".Detach",  0, p_detach },
        { MX_INTERFACE ".Pool",    MX_METHOD_READ_ONLY, p_pool },
};

const struct mx_method *mx_method_table(size_t *ret_n) {
        *ret_n = ARRAY_SIZE(methods);
        return methods;
}

const struct mx_method *mx_method_find(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < ARRAY_SIZE(methods); i++)
                if (streq(methods[i].name, name))
                        return &methods[i];
        return NULL;
}

bool mx_interface_known(const char *interface) {
        return interface && (streq(interface, MX_INTERFACE) || streq(interface, VARLINK_SERVICE));
}

static const char varlink_service_idl[] =
        "# The Varlink service interface (https://varlink.org)\n"
        "interface org.varlink.service\n"
        "\n"
        "# Get a list of all the interfaces a service provides and information about the implementation.\n"
        "method GetInfo() -> (\n"
        "  vendor: string,\n"
        "  product: string,\n"
        "  version: string,\n"
        "  url: string,\n"
        "  interfaces: []string\n"
        ")\n"
        "\n"
        "# Get the description of an interface that is implemented by this service.\n"
        "method GetInterfaceDescription(interface: string) -> (description: string)\n"
        "\n"
        "error InterfaceNotFound (interface: string)\n"
        "error MethodNotFound (method: string)\n"
        "error MethodNotImplemented (method: string)\n"
        "error InvalidParameter (parameter: string)\n"
        "error PermissionDenied ()\n"
        "error ExpectedMore ()\n";

static const char manager_idl[] =
        "# The control interface of mxgpud, which manages AMD MxGPU SR-IOV GPUs and their virtual functions.\n"
        "# Protocol version 1. New methods, new optional parameters and new reply fields keep this\n"
        "# name; an incompatible change gets a new interface name. See docs/protocol.md.\n"
        "interface io.mxgpu.Manager\n"
        "\n"
        "# A PF's state: pending and applying only while a cycle runs; gone once it left the bus.\n"
        "type PFState (pending, applying, ready, degraded, failed, unmanaged, gone)\n"
        "\n"
        "# A VF's state: degraded when its PF wants it on vfio-pci and it is not.\n"
        "type VFState (ready, degraded, unmanaged)\n"
        "\n"
        "# The scheduling policy (GIM8's 1-4): solid (idle VFs keep their slot) or liquid (idle VFs are skipped)\n"
        "# in the hardware scheduler, fairness or round_robin in software. MI300X runs only the last two.\n"
        "type Scheduler (solid, liquid, fairness, round_robin)\n"
        "\n"
        "# A physical function's framebuffer, in MiB.\n"
        "type Memory (\n"
        "  total_mib: int,\n"
        "  reserved_mib: int,\n"
        "  vf_mib: int,\n"
        "  free_mib: int\n"
        ")\n"
        "\n"
        "# A virtual function and the slice of the GPU it owns (null where the PF has no GPU-IOV registers).\n"
        "type VF (\n"
        "  index: int,\n"
        "  address: string,\n"
        "  driver: ?string,\n"
        "  memory_offset_mib: ?int,\n"
        "  memory_size_mib: ?int,\n"
        "  time_slice_ms: ?int,\n"
        "  share_percent: ?float,\n"
        "  state: VFState,\n"
        "  reason: ?string,\n"
        "  in_use: bool,\n"
        "  vm: ?string,\n"
        "  vfio_group: ?string\n"
        ")\n"
        "\n"
        "# One VF's live override (Resize): its slice and/or time slice.\n"
        "type OverrideVF (\n"
        "  index: int,\n"
        "  memory_offset_mib: ?int,\n"
        "  memory_size_mib: ?int,\n"
        "  time_slice_us: ?int\n"
        ")\n"
        "\n"
        "# A PF's live overrides (SetVFs, Resize), kept until the next Reload.\n"
        "type Override (\n"
        "  num_vfs: ?int,\n"
        "  vfs: []OverrideVF\n"
        ")\n"
        "\n"
        "# A physical function (one GPU or SR-IOV device) and its virtual functions.\n"
        "type PF (\n"
        "  address: string,\n"
        "  model: ?string,\n"
        "  vendor_id: int,\n"
        "  device_id: int,\n"
        "  state: PFState,\n"
        "  reason: ?string,\n"
        "  driver: ?string,\n"
        "  num_vfs: int,\n"
        "  total_vfs: int,\n"
        "  pool: ?string,\n"
        "  override: ?Override,\n"
        "  scheduler: ?Scheduler,\n"
        "  memory: ?Memory,\n"
        "  vfs: []VF\n"
        ")\n"
        "\n"
        "# Every GPU the daemon found, managed or not; summary as in \"2 managed PFs, 2 ready\"; cycles: how\n"
        "# many times the daemon has applied the config.\n"
        "method List() -> (pfs: []PF, summary: string, cycles: int)\n"
        "\n"
        "# One PF (with its VFs) or one VF (with its PF's address), by PCI address.\n"
        "method Show(device: string) -> (pf: ?PF, vf: ?VF, parent: ?string)\n"
        "\n"
        "# One change a cycle makes to a PF (vf: the VF it is about, if one).\n"
        "type Action (\n"
        "  action: string,\n"
        "  vf: ?int,\n"
        "  what: string\n"
        ")\n"
        "\n"
        "# A PF's part of a plan or of an applied cycle (state and reason only once applied).\n"
        "type PlannedPF (\n"
        "  address: string,\n"
        "  actions: []Action,\n"
        "  refused: ?string,\n"
        "  state: ?PFState,\n"
        "  reason: ?string\n"
        ")\n"
        "\n"
        "# What a reload would change (the files on disk, without the live overrides), changing nothing.\n"
        "method Plan() -> (pfs: []PlannedPF)\n"
        "\n"
        "# The config in force and the live overrides applied again; with dry_run what that would change\n"
        "# (no summary then).\n"
        "method Apply(dry_run: ?bool) -> (summary: ?string, pfs: []PlannedPF)\n"
        "\n"
        "# Read the config files again, drop the live overrides and apply.\n"
        "method Reload() -> (summary: string, pfs: []PlannedPF)\n"
        "\n"
        "# A VF that moved to make room for a resized one.\n"
        "type Move (\n"
        "  index: int,\n"
        "  address: ?string,\n"
        "  from_mib: int,\n"
        "  to_mib: int,\n"
        "  size_mib: int\n"
        ")\n"
        "\n"
        "# Something that happened: pf-state (state, reason, num_vfs), vf-count-changed (num_vfs, state),\n"
        "# vf-resized (vf, address, memory_offset_mib, memory_size_mib, time_slice_ms, moves), vf-assigned,\n"
        "# vf-released, vf-adopted, vf-conflict (device: the VF; domain, message). device: the PF, or the VF\n"
        "# for the pool's events.\n"
        "type Event (\n"
        "  type: string,\n"
        "  device: ?string,\n"
        "  vf: ?int,\n"
        "  state: ?PFState,\n"
        "  reason: ?string,\n"
        "  num_vfs: ?int,\n"
        "  address: ?string,\n"
        "  memory_offset_mib: ?int,\n"
        "  memory_size_mib: ?int,\n"
        "  time_slice_ms: ?int,\n"
        "  moves: ?[]Move,\n"
        "  domain: ?string,\n"
        "  message: ?string\n"
        ")\n"
        "\n"
        "# Stream events as they happen; call with more. The first reply is {\"type\": \"subscribed\"}, each\n"
        "# one after it {\"event\": Event}.\n"
        "method Monitor() -> (type: ?string, event: ?Event)\n"
        "\n"
        "# Enable count VFs on a PF (0 disables SR-IOV), refused while any of its VFs is in use. Kept as a\n"
        "# live override until the next Reload; persist also writes it to the 90-mxgpuctl.conf drop-in.\n"
        "method SetVFs(device: string, count: int, dry_run: ?bool, persist: ?bool) -> (\n"
        "  device: string,\n"
        "  num_vfs: int,\n"
        "  state: ?PFState,\n"
        "  reason: ?string,\n"
        "  actions: []Action,\n"
        "  dry_run: bool,\n"
        "  persisted: ?string\n"
        ")\n"
        "\n"
        "# Change an idle VF's framebuffer size (MiB, moving as few other idle VFs as possible) and/or its\n"
        "# time slice (microseconds, whole milliseconds 1-255). Same override and persist rules as SetVFs.\n"
        "method Resize(device: string, memory_mib: ?int, time_slice_us: ?int, dry_run: ?bool, persist: ?bool) -> (\n"
        "  device: string,\n"
        "  pf: string,\n"
        "  index: int,\n"
        "  memory_offset_mib: int,\n"
        "  memory_size_mib: int,\n"
        "  time_slice_ms: int,\n"
        "  moves: []Move,\n"
        "  actions: []Action,\n"
        "  dry_run: bool,\n"
        "  persisted: ?string\n"
        ")\n"
        "\n"
        "# Give a libvirt domain a free VF of a pool (a <hostdev managed='no'> in its definition and/or live).\n"
        "method Attach(domain: string, pool: ?string, memory_min_mib: ?int, vf: ?string, live: ?bool, config: ?bool)\n"
        "  -> (domain: string, vf: string, pf: string, index: int, pool: string, memory_mib: int, live: bool, config: bool)\n"
        "\n"
        "# Take a domain's VFs (or one of them) back into their pool; they are reset before reuse.\n"
        "method Detach(domain: string, vf: ?string) -> (domain: string, vfs: []string)\n"
        "\n"
        "# A pool VF's state: dirty when it came back but its reset failed (not handed out), unusable when\n"
        "# it is not on vfio-pci or its PF is not ready.\n"
        "type PoolVFState (free, assigned, dirty, unusable)\n"
        "\n"
        "# A VF of a pool; domain: the one it is assigned to; published: in libvirt's node device list.\n"
        "type PoolVF (\n"
        "  address: string,\n"
        "  pf: string,\n"
        "  index: int,\n"
        "  memory_mib: int,\n"
        "  state: PoolVFState,\n"
        "  domain: ?string,\n"
        "  published: bool\n"
        ")\n"
        "\n"
        "type Pool (\n"
        "  name: string,\n"
        "  free: int,\n"
        "  used: int,\n"
        "  vfs: []PoolVF\n"
        ")\n"
        "\n"
        "# The pools with their free and assigned VFs.\n"
        "method Pool(pool: ?string) -> (pools: []Pool, libvirt_uri: string, connected: bool)\n"
        "\n"
        "# One problem of a config or a live change: where (file and line, or the device) and what.\n"
        "type Problem (\n"
        "  severity: ProblemSeverity,\n"
        "  file: ?string,\n"
        "  line: ?int,\n"
        "  key: ?string,\n"
        "  value: ?string,\n"
        "  device: ?string,\n"
        "  message: string\n"
        ")\n"
        "\n"
        "type ProblemSeverity (error, warning)\n"
        "\n"
        "error InvalidParameter (message: string, errno: int)\n"
        "error InvalidConfig (message: string, errno: int, problems: []Problem)\n"
        "error NotFound (message: string, errno: int)\n"
        "error NoSuchDevice (message: string, errno: int)\n"
        "error InUse (message: string, errno: int)\n"
        "error AlreadyExists (message: string, errno: int)\n"
        "error NoSpace (message: string, errno: int)\n"
        "error Timeout (message: string, errno: int)\n"
        "error HardwareError (message: string, errno: int)\n"
        "error NotSupported (message: string, errno: int)\n"
        "error Cancelled (message: string, errno: int)\n"
        "error ProtocolError (message: string, errno: int)\n"
        "error MessageTooLarge (message: string, errno: int)\n"
        "error Failed (message: string, errno: int)\n";

const char *mx_interface_description(const char *interface) {
        if (!interface)
                return NULL;
        if (streq(interface, MX_INTERFACE))
                return manager_idl;
        if (streq(interface, VARLINK_SERVICE))
                return varlink_service_idl;
        return NULL;
}

static bool param_type_ok(enum mx_param_type t, struct json_object *v) {
        switch (t) {
        case MX_PARAM_STRING: return json_object_is_type(v, json_type_string);
        case MX_PARAM_INT:    return json_object_is_type(v, json_type_int);
        case MX_PARAM_BOOL:   return json_object_is_type(v, json_type_boolean);
        case MX_PARAM_OBJECT: return json_object_is_type(v, json_type_object);
        case MX_PARAM_ARRAY:  return json_object_is_type(v, json_type_array);
        }
        return false;
}

int mx_params_check(const struct mx_method *m, struct json_object *params, const char **ret_bad) {
        /* Unknown names first: a typo in an optional parameter must not pass silently. */
        json_object_object_foreach(params, key, val) {
                const struct mx_param *p = m->params;
                while (p && p->name && !streq(p->name, key))
                        p++;
                /* Varlink: null is the same as absent for an optional parameter. */
                if (!p || !p->name || (val ? !param_type_ok(p->type, val) : p->required)) {
                        *ret_bad = key;
                        return -EINVAL;
                }
        }
        for (const struct mx_param *p = m->params; p && p->name; p++) {
                struct json_object *v;
                if (p->required && (!json_object_object_get_ex(params, p->name, &v) || !v)) {
                        *ret_bad = p->name;
                        return -EINVAL;
                }
        }
        return 0;
}

int mx_frame_scan(const char *buf, size_t len, size_t max, size_t *ret_len) {
        size_t n = MIN(len, max);
        const char *nul = memchr(buf, 0, n);
        if (nul) {
                *ret_len = (size_t)(nul - buf);
                return 1;
        }
        return len >= max ? -EMSGSIZE : 0;
}

int mx_json_parse(const char *msg, size_t len, struct json_object **ret) {
        if (len > INT32_MAX || memchr(msg, 0, len))
                return -EBADMSG;
        struct json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
        struct json_object *v = json_tokener_parse_ex(tok, msg, (int)len);
        enum json_tokener_error err = json_tokener_get_error(tok);
        /* A complete value must end exactly at the message's end: no trailing bytes, nothing missing. */
        bool whole = v && err == json_tokener_success && (size_t)json_tokener_get_parse_end(tok) == len;
        json_tokener_free(tok);
        if (!whole) {
                json_object_put(v);
                return -EBADMSG;
        }
        *ret = v;
        return 0;
}

static int request_fail(struct json_object *root, const char *why, const char **ret_problem) {
        json_object_put(root);
        if (ret_problem)
                *ret_problem = why;
        return -EPROTO;
}

int mx_request_parse(const char *msg, size_t len, struct mx_request *ret, const char **ret_problem) {
        struct json_object *root;
        int r = mx_json_parse(msg, len, &root);
        if (r < 0) {
                if (ret_problem)
                        *ret_problem = "the message is not valid JSON";
                return r;
        }
        if (!json_object_is_type(root, json_type_object))
                return request_fail(root, "a request must be a JSON object", ret_problem);

        struct mx_request req = { .root = root };
        json_object_object_foreach(root, key, val) {
                if (streq(key, "method")) {
                        if (!json_object_is_type(val, json_type_string))
                                return request_fail(root, "\"method\" must be a string", ret_problem);
                        req.method = json_object_get_string(val);
                } else if (streq(key, "parameters")) {
                        if (val && !json_object_is_type(val, json_type_object))
                                return request_fail(root, "\"parameters\" must be an object", ret_problem);
                        req.parameters = val;
                } else if (streq(key, "more") || streq(key, "oneway") || streq(key, "upgrade")) {
                        if (val && !json_object_is_type(val, json_type_boolean))
                                return request_fail(root, "\"more\", \"oneway\" and \"upgrade\" must be booleans", ret_problem);
                        bool b = val && json_object_get_boolean(val);
                        if (key[0] == 'm')
                                req.more = b;
                        else if (key[0] == 'o')
                                req.oneway = b;
                        else if (b)
                                return request_fail(root, "connection upgrades are not supported", ret_problem);
                } else
                        return request_fail(root, "unknown key in request (allowed: method, parameters, more, oneway)", ret_problem);
        }
        if (!req.method)
                return request_fail(root, "\"method\" is missing", ret_problem);
        const char *dot = strrchr(req.method, '.');
        if (!dot || dot == req.method || !dot[1])
                return request_fail(root, "\"method\" must be INTERFACE.Method", ret_problem);
        if (req.more && req.oneway)
                return request_fail(root, "\"more\" and \"oneway\" exclude each other", ret_problem);
        if (!req.parameters) {
                req.parameters = json_object_new_object();
                if (!req.parameters) {
                        json_object_put(root);
                        return -ENOMEM;
                }
                /* The root owns it from here, like a parameters object that came in the message. */
                json_object_object_add(root, "parameters", req.parameters);
        }
        *ret = req;
        return 0;
}

void mx_request_done(struct mx_request *req) {
        json_object_put(req->root);
        *req = (struct mx_request) {};
}

char *mx_message_format(struct json_object *msg, size_t *ret_len) {
        size_t n;
        const char *s = json_object_to_json_string_length(msg, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
        if (!s)
                return NULL;
        char *buf = malloc(n + 1);
        if (!buf)
                return NULL;
        memcpy(buf, s, n);
        buf[n] = 0;
        *ret_len = n + 1;
        return buf;
}

struct json_object *mx_reply_new(struct json_object *params, bool continues) {
        struct json_object *o = json_object_new_object();
        if (!o) {
                json_object_put(params);
                return NULL;
        }
        json_object_object_add(o, "parameters", params ?: json_object_new_object());
        if (continues)
                json_object_object_add(o, "continues", json_object_new_boolean(true));
        return o;
}

struct json_object *mx_error_reply_new(const char *name, struct json_object *params) {
        struct json_object *o = json_object_new_object();
        if (!o) {
                json_object_put(params);
                return NULL;
        }
        json_object_object_add(o, "error", json_object_new_string(name));
        json_object_object_add(o, "parameters", params ?: json_object_new_object());
        return o;
}

struct json_object *mx_error_reply_from_errno(int r, const char *message) {
        const struct mx_error *e = mx_error_from_errno(r);
        struct json_object *p = json_object_new_object();
        if (!p)
                return NULL;
        json_object_object_add(p, "message", json_object_new_string(message ?: strerror(r < 0 ? -r : r)));
        json_object_object_add(p, "errno", json_object_new_int(r < 0 ? -r : r));
        return mx_error_reply_new(e->name, p);
}
