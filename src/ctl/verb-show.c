// SPDX-License-Identifier: MIT
// mxgpuctl show PF|VF: one GPU with its VFs, or one VF, in detail (io.mxgpu.Manager.Show).
#include "mxgpu/pciaddr.h"
#include "devices.h"

static int run_show(struct ctl_context *ctx, int argc, char **argv) {
        const char *dev;
        int n = ctl_parse_args(&verb_show, argc, argv, NULL, &dev, 1);
        if (n < 0)
                return MX_EXIT_USAGE;
        if (n < 1)
                return ctl_usage_error(&verb_show, "a PCI address is needed");
        struct pci_addr a;
        char bdf[PCI_ADDR_STRLEN];
        if (pci_addr_parse(dev, &a) < 0)
                return ctl_usage_error(&verb_show, "'%s' is not a PCI address (DDDD:BB:DD.F or BB:DD.F)", dev);
        struct json_object *params = json_object_new_object();
        json_object_object_add(params, "device", json_object_new_string(pci_addr_format(&a, bdf)));
        struct ctl_reply reply;
        int r = ctl_call(ctx, MX_INTERFACE ".Show", params, &reply);
        json_object_put(params);
        if (r != MX_EXIT_OK)
                return r;
        struct json_object *pf = json_object_object_get(reply.parameters, "pf");
        struct json_object *vf = json_object_object_get(reply.parameters, "vf");
        if (ctx->json)
                ctl_print_json(reply.parameters);
        else if (pf)
                devices_print_pf(pf, ctx->color);
        else if (vf)
                devices_print_vf(vf, ctl_json_str(reply.parameters, "parent", NULL), ctx->color);
        else
                printf("%s: the daemon returned neither a PF nor a VF\n", bdf);
        ctl_reply_done(&reply);
        return MX_EXIT_OK;
}

const struct ctl_verb verb_show = {
        .name = "show",
        .summary = "show one GPU (PF) with its VFs, or one VF",
        .usage = "PF|VF",
        .help = "PF|VF is a PCI address such as 0000:03:00.0 or 03:02.1.",
        .run = run_show,
        .needs_daemon = true,
};
