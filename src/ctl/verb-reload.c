// SPDX-License-Identifier: MIT
// mxgpuctl reload: re-read the config files and apply the difference (as SIGHUP does).
#include "ctl.h"

int ctl_run_apply(struct ctl_context *ctx, const struct ctl_verb *v, const char *method, int argc, char **argv);

static int run_reload(struct ctl_context *ctx, int argc, char **argv) {
        return ctl_run_apply(ctx, &verb_reload, MX_INTERFACE ".Reload", argc, argv);
}

const struct ctl_verb verb_reload = {
        .name = "reload",
        .summary = "re-read the config files and apply the difference",
        .usage = "",
        .help = "A config that is not valid is refused with every problem (file:line) and nothing changes.\n"
                "Exit status 1 when a PF ends degraded or failed.",
        .run = run_reload,
        .needs_daemon = true,
};
