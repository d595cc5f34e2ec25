// SPDX-License-Identifier: MIT
// mxgpuctl apply: bring the hardware back to the config in force, and report where each PF ended.
#include "changes.h"
#include "ctl.h"

int ctl_run_apply(struct ctl_context *ctx, const struct ctl_verb *v, const char *method, int argc, char **argv);

int ctl_run_apply(struct ctl_context *ctx, const struct ctl_verb *v, const char *method, int argc, char **argv) {
        if (ctl_parse_args(v, argc, argv, NULL, NULL, 0) < 0)
                return MX_EXIT_USAGE;
        struct ctl_reply reply;
        int r = ctl_call(ctx, method, NULL, &reply);
        if (r != MX_EXIT_OK)
                return r;
        int not_ready;
        if (ctx->json) {
                ctl_print_json(reply.parameters);
                struct json_object *pfs = json_object_object_get(reply.parameters, "pfs");
                not_ready = 0;
                for (size_t i = 0; pfs && i < json_object_array_length(pfs); i++)
                        not_ready += !streq(ctl_json_str(json_object_array_get_idx(pfs, i), "state", ""), "ready");
        } else {
                not_ready = ctl_print_changes(reply.parameters, true, ctx->color);
                printf("%s\n", ctl_json_str(reply.parameters, "summary", ""));
        }
        ctl_reply_done(&reply);
        return not_ready ? MX_EXIT_FAILED : MX_EXIT_OK;
}

static int run_apply(struct ctl_context *ctx, int argc, char **argv) {
        return ctl_run_apply(ctx, &verb_apply, MX_INTERFACE ".Apply", argc, argv);
}

const struct ctl_verb verb_apply = {
        .name = "apply",
        .summary = "apply the config in force again (converge the hardware to it)",
        .usage = "",
        .help = "Exit status 1 when a PF ends degraded or failed. 'reload' reads the files first.",
        .run = run_apply,
        .needs_daemon = true,
};
