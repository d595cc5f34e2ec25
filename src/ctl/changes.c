// SPDX-License-Identifier: MIT
// Print the per-PF actions and outcomes of plan, apply and reload as a readable list.
#include <stdio.h>

#include "changes.h"
#include "ctl.h"

int ctl_print_changes(struct json_object *reply, bool with_state, bool color) {
        struct json_object *pfs = json_object_object_get(reply, "pfs");
        int not_ready = 0;
        size_t n = pfs && json_object_is_type(pfs, json_type_array) ? json_object_array_length(pfs) : 0;
        for (size_t i = 0; i < n; i++) {
                struct json_object *pf = json_object_array_get_idx(pfs, i), *acts = json_object_object_get(pf, "actions");
                size_t n_acts = acts && json_object_is_type(acts, json_type_array) ? json_object_array_length(acts) : 0;
                const char *refused = ctl_json_str(pf, "refused", NULL);
                const char *state = ctl_json_str(pf, "state", NULL), *reason = ctl_json_str(pf, "reason", NULL);
                printf("%s", ctl_json_str(pf, "address", "?"));
                if (with_state && state) {
                        printf(": %s%s%s", ctl_state_color(state, color), state, color ? CTL_COLOR_RESET : "");
                        if (reason)
                                printf(" (%s)", reason);
                        not_ready += !streq(state, "ready");
                } else if (refused)
                        printf(": cannot apply: %s", refused);
                else
                        printf(": %s", n_acts ? "would change" : "no change");
                printf("\n");
                for (size_t k = 0; k < n_acts; k++)
                        printf("  %s %s\n", with_state ? "-" : "+", ctl_json_str(json_object_array_get_idx(acts, k), "what", "?"));
        }
        if (n == 0)
                printf("no managed PF\n");
        return not_ready;
}
