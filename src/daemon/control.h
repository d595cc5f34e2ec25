/* SPDX-License-Identifier: MIT */
/* The daemon's side of the control socket: method handlers over the manager's data, and events. */
#pragma once

#include <json-c/json.h>

struct manager;
struct mx_config;

/* Open the control socket (systemd's, or opt->socket / cfg's path and group) in the manager's loop. */
int manager_control_start(struct manager *m, const struct mx_config *cfg);
void manager_control_stop(struct manager *m);
/* Tell every monitor: {"type": type, "device": dev, ...fields of extra (taken)}. */
void manager_event(struct manager *m, const char *type, const char *dev, int vf, struct json_object *extra);
struct ctl_call;
struct mx_diags;
/* Answer with InvalidConfig: message and every problem (file:line, key, value); clears diags. */
int control_reply_problems(struct ctl_call *call, const char *message, struct mx_diags *diags);
/* A PF as `mxgpuctl list` shows it: what the hardware has now, with the daemon's verdict. */
struct json_object *manager_pf_json(struct manager *m, size_t i);
