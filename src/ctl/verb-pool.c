// SPDX-License-Identifier: MIT
// mxgpuctl pool [NAME]: the VF pools with their free and assigned VFs (io.mxgpu.Manager.Pool).
#include <stdio.h>

#include "ctl.h"

static int run_pool(struct ctl_context *ctx, int argc, char **argv) {
        const char *name;
        int n = ctl_parse_args(&verb_pool, argc, argv, NULL, &name, 1);
        if (n < 0)
                return MX_EXIT_USAGE;
        struct json_object *params = json_object_new_object();
        if (n == 1)
                json_object_object_add(params, "pool", json_object_new_string(name));
        struct ctl_reply reply;
        int r = ctl_call(ctx, MX_INTERFACE ".Pool", params, &reply);
        json_object_put(params);
        if (r != MX_EXIT_OK)
                return r;
        if (ctx->json) {
                ctl_print_json(reply.parameters);
                ctl_reply_done(&reply);
                return MX_EXIT_OK;
        }
        struct json_object *pools = json_object_object_get(reply.parameters, "pools");
        printf("libvirt %s: %s\n", ctl_json_str(reply.parameters, "libvirt_uri", "?"),
               json_object_get_boolean(json_object_object_get(reply.parameters, "connected")) ? "connected" : "not connected");
        for (size_t i = 0; pools && i < json_object_array_length(pools); i++) {
                struct json_object *p = json_object_array_get_idx(pools, i), *vfs = json_object_object_get(p, "vfs");
                printf("\npool %s: %lld free, %lld used\n", ctl_json_str(p, "name", "?"), ctl_json_int(p, "free", 0),
                       ctl_json_int(p, "used", 0));
                static const char *const head[] = { "VF", "PF", "MEMORY", "STATE", "DOMAIN", "LIBVIRT" };
                struct ctl_table *t = ctl_table_new(ARRAY_SIZE(head), head);
                for (size_t k = 0; t && vfs && k < json_object_array_length(vfs); k++) {
                        struct json_object *v = json_object_array_get_idx(vfs, k);
                        char mem[32];
                        snprintf(mem, sizeof(mem), "%lld MiB", ctl_json_int(v, "memory_mib", 0));
                        const char *cells[] = {
                                ctl_json_str(v, "address", NULL), ctl_json_str(v, "pf", NULL), mem, ctl_json_str(v, "state", NULL),
                                ctl_json_str(v, "domain", NULL),
                                json_object_get_boolean(json_object_object_get(v, "published")) ? "published" : "not listed",
                        };
                        ctl_table_add(t, cells);
                }
                if (t) {
                        ctl_table_print(t, stdout, ctx->color);
                        ctl_table_free(t);
                }
        }
        ctl_reply_done(&reply);
        return MX_EXIT_OK;
}

const struct ctl_verb verb_pool = {
        .name = "pool",
        .summary = "show the VF pools: free and assigned VFs",
        .usage = "[POOL]",
        .help = "LIBVIRT says whether the VF is in libvirt's node device list.",
        .run = run_pool,
        .needs_daemon = true,
};
