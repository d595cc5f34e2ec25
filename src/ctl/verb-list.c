// SPDX-License-Identifier: MIT
// mxgpuctl list: every GPU the daemon knows, with its VFs, as a table (io.mxgpu.Manager.List).
#include "devices.h"

static int run_list(struct ctl_context *ctx, int argc, char **argv) {
        if (ctl_parse_args(&verb_list, argc, argv, NULL, NULL, 0) < 0)
                return MX_EXIT_USAGE;
        struct ctl_reply reply;
        int r = ctl_call(ctx, MX_INTERFACE ".List", NULL, &reply);
        if (r != MX_EXIT_OK)
                return r;
        if (ctx->json) {
                ctl_print_json(reply.parameters);
                ctl_reply_done(&reply);
                return MX_EXIT_OK;
        }
        struct json_object *pfs = json_object_object_get(reply.parameters, "pfs");
        size_t n = json_object_is_type(pfs, json_type_array) ? json_object_array_length(pfs) : 0;
        if (n == 0) {
                printf("No MxGPU devices found.\n");
                ctl_reply_done(&reply);
                return MX_EXIT_OK;
        }
        struct ctl_table *t = devices_table_new();
        for (size_t i = 0; i < n; i++) {
                struct json_object *pf = json_object_array_get_idx(pfs, i);
                devices_table_add_pf(t, pf, ctx->color);
                struct json_object *vfs = json_object_object_get(pf, "vfs");
                for (size_t k = 0; vfs && k < json_object_array_length(vfs); k++)
                        devices_table_add_vf(t, json_object_array_get_idx(vfs, k), ctx->color);
        }
        ctl_table_print(t, stdout, ctx->color);
        ctl_table_free(t);
        for (size_t i = 0; i < n; i++) {
                devices_print_reasons(json_object_array_get_idx(pfs, i), stdout);
                devices_print_override(json_object_array_get_idx(pfs, i), stdout);
        }
        ctl_reply_done(&reply);
        return MX_EXIT_OK;
}

const struct ctl_verb verb_list = {
        .name = "list",
        .summary = "list GPUs (PFs) and their virtual functions",
        .usage = "",
        .help = "Columns: PCI address, function, state (ready, degraded, failed, unmanaged), driver,\n"
                "VFs enabled/total, framebuffer (PF: total and free; VF: size @ offset), time slice and\n"
                "share, and the PF's model or the VF's VM, with (in use) when its VFIO group is held open.\n"
                "Reasons for anything not ready and each PF's live override follow the table.\n"
                "--json prints the daemon's reply as is.",
        .run = run_list,
        .needs_daemon = true,
};
