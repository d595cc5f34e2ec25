// SPDX-License-Identifier: MIT
// mxgpuctl detach DOMAIN [VF]: take a domain's VFs back into their pool (io.mxgpu.Manager.Detach).
#include "ctl.h"
#include "mxgpu/pciaddr.h"

static int run_detach(struct ctl_context *ctx, int argc, char **argv) {
        const char *pos[2];
        int n = ctl_parse_args(&verb_detach, argc, argv, NULL, pos, 2);
        if (n < 0)
                return MX_EXIT_USAGE;
        if (n < 1)
                return ctl_usage_error(&verb_detach, "a libvirt domain name is needed");
        const char *domain = pos[0];
        struct json_object *params = json_object_new_object();
        json_object_object_add(params, "domain", json_object_new_string(domain));
        if (n == 2) {
                struct pci_addr a;
                char bdf[PCI_ADDR_STRLEN];
                if (pci_addr_parse(pos[1], &a) < 0) {
                        json_object_put(params);
                        return ctl_usage_error(&verb_detach, "'%s' is not a PCI address (DDDD:BB:DD.F or BB:DD.F)", pos[1]);
                }
                json_object_object_add(params, "vf", json_object_new_string(pci_addr_format(&a, bdf)));
        }
        struct ctl_reply reply;
        int r = ctl_call(ctx, MX_INTERFACE ".Detach", params, &reply);
        json_object_put(params);
        if (r != MX_EXIT_OK)
                return r;
        if (ctx->json)
                ctl_print_json(reply.parameters);
        else {
                struct json_object *vfs = json_object_object_get(reply.parameters, "vfs");
                for (size_t i = 0; vfs && i < json_object_array_length(vfs); i++)
                        printf("%s: VF %s detached and returned to its pool\n", domain,
                               json_object_get_string(json_object_array_get_idx(vfs, i)));
        }
        ctl_reply_done(&reply);
        return MX_EXIT_OK;
}

const struct ctl_verb verb_detach = {
        .name = "detach",
        .summary = "take a domain's VFs (or one VF) back into their pool",
        .usage = "DOMAIN [VF]",
        .help = "Removes the hostdev from the domain's definition and the running domain. A returned VF is\n"
                "reset (and its framebuffer cleared with fb_clear = yes) before another domain gets it.",
        .run = run_detach,
        .needs_daemon = true,
};
