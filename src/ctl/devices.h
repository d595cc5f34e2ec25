/* SPDX-License-Identifier: MIT */
/* Rendering of the PF and VF objects of List and Show replies (docs/protocol.md), shared by the verbs. */
#pragma once

#include "ctl.h"

/* Add a PF's row, then one row per VF, to a table made by devices_table_new(). */
struct ctl_table *devices_table_new(void);
void devices_table_add_pf(struct ctl_table *t, struct json_object *pf, bool color);
void devices_table_add_vf(struct ctl_table *t, struct json_object *vf, bool color);
/* "ADDRESS: STATE: REASON" lines for anything not ready that says why. */
void devices_print_reasons(struct json_object *pf, FILE *f);
/* "ADDRESS: live override (dropped on reload): ..." for a PF with a live override, else nothing. */
void devices_print_override(struct json_object *pf, FILE *f);
/* A field list for one PF or one VF. */
void devices_print_pf(struct json_object *pf, bool color);
void devices_print_vf(struct json_object *vf, const char *parent, bool color);
