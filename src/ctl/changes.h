/* SPDX-License-Identifier: MIT */
/* Printing what plan, apply and reload report: the actions per PF and where each PF ended. */
#pragma once

#include <json-c/json.h>
#include <stdbool.h>

/* Print {"pfs": [{address, actions: [{action, vf, what}], refused, state?, reason?}]}. Returns the
 * number of PFs that are not ready (for apply's exit code) when with_state, else 0. */
int ctl_print_changes(struct json_object *reply, bool with_state, bool color);
