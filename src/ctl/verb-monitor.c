// SPDX-License-Identifier: MIT
// mxgpuctl monitor: print the daemon's events (PF state changes, VFs degraded, resized, assigned) as they happen.
#include <time.h>

#include "ctl.h"

static int on_event(const struct ctl_reply *reply, void *userdata) {
        struct ctl_context *ctx = userdata;
        struct json_object *e = json_object_object_get(reply->parameters, "event");
        if (!e)
                return 0; /* the subscription's first reply */
        if (ctx->json) {
                puts(json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN));
        } else {
                char stamp[32];
                time_t now = time(NULL);
                strftime(stamp, sizeof(stamp), "%H:%M:%S", localtime(&now));
                printf("%s %-10s %s", stamp, ctl_json_str(e, "type", "?"), ctl_json_str(e, "device", "-"));
                long long vf = ctl_json_int(e, "vf", -1);
                if (vf >= 0)
                        printf(" vf%lld", vf);
                const char *state = ctl_json_str(e, "state", NULL), *reason = ctl_json_str(e, "reason", NULL);
                if (state)
                        printf(" %s", state);
                if (reason)
                        printf(": %s", reason);
                printf("\n");
        }
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
        .help = "With --json, one JSON object per line: {\"type\": ..., \"device\": ..., ...}.",
        .run = run_monitor,
        .needs_daemon = true,
};
