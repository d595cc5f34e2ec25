/* SPDX-License-Identifier: MIT */
/* Control-socket handlers for live changes: Resize and SetVFs (kept as overrides, override.h). */
#pragma once

#include <json-c/json.h>

struct ctl_call;

/* The drop-in --persist writes, in the config's drop-in directory. */
#define MXGPUCTL_DROPIN "90-mxgpuctl.conf"

int control_resize(struct ctl_call *call, struct json_object *params, void *userdata);
int control_set_vfs(struct ctl_call *call, struct json_object *params, void *userdata);
