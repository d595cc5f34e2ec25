// SPDX-License-Identifier: MIT
// mxgpuctl plan: what the daemon would change for the config as it is on disk now, changing nothing.
#include "changes.h"
#include "ctl.h"

static int run_plan(struct ctl_context *ctx, int argc, char **argv) {
        if (ctl_parse_args(&verb_plan, argc, argv, NULL, NULL, 0) < 0)
                return MX_EXIT_USAGE;
        struct ctl_reply reply;
        int r = ctl_call(ctx, MX_INTERFACE ".Plan", NULL, &reply);
        if (r != MX_EXIT_OK)
                return r;
        if (ctx->json)
                ctl_print_json(reply.parameters);
        else
                ctl_print_changes(reply.parameters, false, ctx->color);
        ctl_reply_done(&reply);
        return MX_EXIT_OK;
}

const struct ctl_verb verb_plan = {
        .name = "plan",
        .summary = "show what applying the config on disk would change, changing nothing",
        .usage = "",
        .help = "Reads the config files again and compares them with what the hardware has.\n"
                "Each PF lists its actions in bring-up order, or why they cannot be applied.",
        .run = run_plan,
        .needs_daemon = true,
};
