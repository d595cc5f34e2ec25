// SPDX-License-Identifier: MIT
// mxgpuctl attach DOMAIN: give a libvirt domain a free VF of a pool (io.mxgpu.Manager.Attach).
#include <string.h>

#include "ctl.h"
#include "mxgpu/pciaddr.h"
#include "mxgpu/units.h"

static int run_attach(struct ctl_context *ctx, int argc, char **argv) {
        const char *domain = NULL, *pool = NULL, *vf = NULL, *mem = NULL;
        bool live = false, config = false;
        const struct ctl_option opts[] = {
                { "--pool", .value = &pool }, { "--vf", .value = &vf }, { "--memory-min", .value = &mem },
                { "--live", .flag = &live }, { "--config", .flag = &config }, {},
        };
        if (ctl_parse_args(&verb_attach, argc, argv, opts, &domain, 1) < 0)
                return MX_EXIT_USAGE;
        if (!domain)
                return ctl_usage_error(&verb_attach, "a libvirt domain name is needed");
        struct json_object *params = json_object_new_object();
        json_object_object_add(params, "domain", json_object_new_string(domain));
        if (pool)
                json_object_object_add(params, "pool", json_object_new_string(pool));
        if (vf) {
                struct pci_addr a;
                char bdf[PCI_ADDR_STRLEN];
                if (pci_addr_parse(vf, &a) < 0) {
                        json_object_put(params);
                        return ctl_usage_error(&verb_attach, "--vf '%s' is not a PCI address (DDDD:BB:DD.F or BB:DD.F)", vf);
                }
                json_object_object_add(params, "vf", json_object_new_string(pci_addr_format(&a, bdf)));
        }
        if (mem) {
                uint64_t mib;
                const char *err = NULL;
                int r = parse_size_mib(mem, &mib, &err);
                if (r < 0 && r != -ERANGE) {
                        json_object_put(params);
                        return ctl_usage_error(&verb_attach, "--memory-min %s: %s", mem, err);
                }
                if (r == -ERANGE || mib > INT32_MAX) {
                        json_object_put(params);
                        return ctl_usage_error(&verb_attach, "--memory-min %s: too large: at most %dM (no VF has more)", mem, INT32_MAX);
                }
                json_object_object_add(params, "memory_min_mib", json_object_new_int64((int64_t)mib));
        }
        if (live)
                json_object_object_add(params, "live", json_object_new_boolean(true));
        if (config)
                json_object_object_add(params, "config", json_object_new_boolean(true));
        struct ctl_reply reply;
        int r = ctl_call(ctx, MX_INTERFACE ".Attach", params, &reply);
        json_object_put(params);
        if (r != MX_EXIT_OK)
                return r;
        if (ctx->json)
                ctl_print_json(reply.parameters);
        else
                printf("%s: VF %s (pool %s, %lld MiB) attached%s%s\n", ctl_json_str(reply.parameters, "domain", domain),
                       ctl_json_str(reply.parameters, "vf", "?"), ctl_json_str(reply.parameters, "pool", "?"),
                       ctl_json_int(reply.parameters, "memory_mib", 0),
                       json_object_get_boolean(json_object_object_get(reply.parameters, "config")) ? ", persistent" : "",
                       json_object_get_boolean(json_object_object_get(reply.parameters, "live")) ? ", live" : "");
        ctl_reply_done(&reply);
        return MX_EXIT_OK;
}

const struct ctl_verb verb_attach = {
        .name = "attach",
        .summary = "give a libvirt domain a free VF of a pool",
        .usage = "DOMAIN [--pool P] [--memory-min SIZE] [--vf VF] [--live] [--config]",
        .help = "Picks the free VF of pool P (any pool without --pool) with the smallest framebuffer of at least\n"
                "SIZE (e.g. 4G), or exactly VF, and adds <hostdev managed='no'> for it to the domain.\n"
                "--config changes the domain's definition, --live the running domain; neither: the definition,\n"
                "and the running domain too when it runs. Exit 7 when the pool is exhausted.",
        .run = run_attach,
        .needs_daemon = true,
};
