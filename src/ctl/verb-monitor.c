// SPDX-License-Identifier: MIT
// mxgpuctl monitor: print the daemon's events (PF state changes, VFs degraded, resized, assigned) as they happen.
#include <time.h>

#include "ctl.h"
#include "mxgpu/units.h"

/* The type column: as wide as the longest type, vf-count-changed. */
#define TYPE_WIDTH 16

/* The members an event of an unknown type has besides type, device and message, as key=value. */
static void print_other_members(struct json_object *e) {
        json_object_object_foreach(e, key, value) {
                if (streq(key, "type") || streq(key, "device") || streq(key, "message") || !value ||
                    json_object_is_type(value, json_type_object) || json_object_is_type(value, json_type_array))
                        continue;
                printf(" %s=%s", key, json_object_get_string(value));
        }
}

/* One line per event with what its type carries (docs/protocol.md, Events). */
static void print_event(struct json_object *e) {
        char stamp[32], s[FORMAT_SIZE_MAX];
        time_t now = time(NULL);
        strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&now));
        const char *type = ctl_json_str(e, "type", "?"), *domain = ctl_json_str(e, "domain", NULL);
        const char *state = ctl_json_str(e, "state", "?"), *reason = ctl_json_str(e, "reason", NULL);
        long long num_vfs = ctl_json_int(e, "num_vfs", -1);
        printf("%s %-*s %s", stamp, TYPE_WIDTH, type, ctl_json_str(e, "device", "-"));
        if (streq(type, "pf-state")) {
                printf(" %s", state);
                if (num_vfs >= 0)
                        printf(", %lld VF%s", num_vfs, num_vfs == 1 ? "" : "s");
                if (reason)
                        printf(": %s", reason);
        } else if (streq(type, "vf-count-changed"))
                printf(" now %lld VF%s, %s", num_vfs, num_vfs == 1 ? "" : "s", state);
        else if (streq(type, "vf-resized")) {
                struct json_object *moves = json_object_object_get(e, "moves");
                size_t n_moves = json_object_is_type(moves, json_type_array) ? json_object_array_length(moves) : 0;
                printf(" VF %lld (%s): %s at %lld MiB, %lld ms time slice", ctl_json_int(e, "vf", -1),
                       ctl_json_str(e, "address", "?"), format_size(s, (uint64_t)ctl_json_int(e, "memory_size_mib", 0)),
                       ctl_json_int(e, "memory_offset_mib", 0), ctl_json_int(e, "time_slice_ms", 0));
                if (n_moves)
                        printf(", %zu other VF%s moved", n_moves, n_moves == 1 ? "" : "s");
        } else if (streq(type, "vf-assigned"))
                printf(" to %s", domain ?: "?");
        else if (streq(type, "vf-released")) {
                if (domain)
                        printf(" from %s", domain);
        } else if (streq(type, "vf-adopted") || streq(type, "vf-conflict"))
                printf(" in %s's definition", domain ?: "?");
        else
                print_other_members(e);
        const char *msg = ctl_json_str(e, "message", NULL);
        if (msg)
                printf(": %s", msg);
        printf("\n");
}

static int on_event(const struct ctl_reply *reply, void *userdata) {
        struct ctl_context *ctx = userdata;
        struct json_object *e = json_object_object_get(reply->parameters, "event");
        if (!e)
                return 0; /* the subscription's first reply */
        if (ctx->json)
                puts(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
        else
                print_event(e);
        fflush(stdout);
        return 0;
}

static int run_monitor(struct ctl_context *ctx, int argc, char **argv) {
        if (ctl_parse_args(&verb_monitor, argc, argv, NULL, NULL, 0) < 0)
                return MX_EXIT_USAGE;
        if (ctx->json)
                ctl_json_lines();
        return ctl_stream(ctx, MX_INTERFACE ".Monitor", NULL, on_event, ctx);
}

const struct ctl_verb verb_monitor = {
        .name = "monitor",
        .summary = "print events as they happen (until interrupted)",
        .usage = "",
        .help = "Events: pf-state (state, VFs, reason), vf-count-changed (VFs, state), vf-resized (VF, size, offset,\n"
                "time slice, VFs moved), vf-assigned, vf-released, vf-adopted and vf-conflict (domain, why).\n"
                "With --json, one JSON object per line: {\"type\": ..., \"device\": ..., ...} (docs/protocol.md).",
        .run = run_monitor,
        .needs_daemon = true,
};
