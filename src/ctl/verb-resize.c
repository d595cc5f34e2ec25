// SPDX-License-Identifier: MIT
// mxgpuctl resize VF and set-vfs PF N: live changes through the daemon (io.mxgpu.Manager.Resize, SetVFs).
#include <inttypes.h>
#include <string.h>

#include "changes.h"
#include "ctl.h"
#include "mxgpu/cards.h"
#include "mxgpu/gpuiov.h"
#include "mxgpu/pciaddr.h"
#include "mxgpu/units.h"

/* The largest size Resize takes (a 32-bit MiB count, in FB_ALIGN_MIB steps); a card's VF area is far smaller. */
#define VF_MEMORY_MAX_MIB ((uint64_t)UINT32_MAX / FB_ALIGN_MIB * FB_ALIGN_MIB)

static void print_actions(struct json_object *acts) {
        for (size_t k = 0; acts && k < json_object_array_length(acts); k++)
                printf("  %s\n", ctl_json_str(json_object_array_get_idx(acts, k), "what", "?"));
}

/* --dry-run and --persist, the same in both verbs: as parameters, and what became of the change */
static void add_change_flags(struct json_object *params, bool dry, bool persist) {
        if (dry)
                json_object_object_add(params, "dry_run", json_object_new_boolean(true));
        if (persist)
                json_object_object_add(params, "persist", json_object_new_boolean(true));
}

static void print_persisted(struct json_object *p, bool dry) {
        const char *pers = ctl_json_str(p, "persisted", NULL);
        if (pers)
                printf("written to %s\n", pers);
        else if (!dry)
                printf("kept as a live override until the next reload (--persist keeps it in the config)\n");
}

static int run_resize(struct ctl_context *ctx, int argc, char **argv) {
        const char *dev = NULL, *mem = NULL, *slice = NULL;
        bool dry = false, persist = false;
        const struct ctl_option opts[] = {
                { "--memory", .value = &mem }, { "--time-slice", .value = &slice },
                { "--dry-run", .flag = &dry }, { "--persist", .flag = &persist }, {},
        };
        if (ctl_parse_args(&verb_resize, argc, argv, opts, &dev, 1) < 0)
                return MX_EXIT_USAGE;
        if (!dev)
                return ctl_usage_error(&verb_resize, "a VF's PCI address is needed");
        if (!mem && !slice)
                return ctl_usage_error(&verb_resize, "nothing to change: give --memory SIZE, --time-slice T or both");
        struct pci_addr a;
        char bdf[PCI_ADDR_STRLEN];
        if (pci_addr_parse(dev, &a) < 0)
                return ctl_usage_error(&verb_resize, "'%s' is not a PCI address (DDDD:BB:DD.F or BB:DD.F)", dev);
        uint64_t mib = 0, us = 0;
        const char *err = NULL;
        /* The daemon checks these too; here the message names the option and echoes the value as given. */
        int r = mem ? parse_size_mib(mem, &mib, &err) : 0;
        if (r < 0 && r != -ERANGE)
                return ctl_usage_error(&verb_resize, "--memory %s: %s", mem, err);
        if (mem && (r == -ERANGE || mib > VF_MEMORY_MAX_MIB))
                return ctl_usage_error(&verb_resize, "--memory %s: too large: at most %" PRIu64 "M, and no more than the PF's "
                                       "memory for VFs (mxgpuctl show PF)", mem, VF_MEMORY_MAX_MIB);
        if (mem && (mib < FB_MIN_VF_MIB || mib % FB_ALIGN_MIB))
                return ctl_usage_error(&verb_resize, "--memory %s: a VF needs at least %uM in steps of %uM (e.g. 256M, 480M, 2G)",
                                       mem, FB_MIN_VF_MIB, FB_ALIGN_MIB);
        r = slice ? parse_time_us(slice, &us, &err) : 0;
        if (r < 0 && r != -ERANGE)
                return ctl_usage_error(&verb_resize, "--time-slice %s: %s", slice, err);
        if (slice && r == 0 && us % 1000)
                return ctl_usage_error(&verb_resize, "--time-slice %s: the hardware scheduler counts whole milliseconds: "
                                       "use 1ms to %ums", slice, SCH_QUANTUM_MAX_MS);
        if (slice && (r == -ERANGE || us < 1000 || us > SCH_QUANTUM_MAX_MS * 1000ull))
                return ctl_usage_error(&verb_resize, "--time-slice %s: out of range: use 1ms to %ums", slice, SCH_QUANTUM_MAX_MS);

        struct json_object *params = json_object_new_object();
        json_object_object_add(params, "device", json_object_new_string(pci_addr_format(&a, bdf)));
        if (mem)
                json_object_object_add(params, "memory_mib", json_object_new_int64((int64_t)mib));
        if (slice)
                json_object_object_add(params, "time_slice_us", json_object_new_int64((int64_t)us));
        add_change_flags(params, dry, persist);
        struct ctl_reply reply;
        r = ctl_call(ctx, MX_INTERFACE ".Resize", params, &reply);
        json_object_put(params);
        if (r != MX_EXIT_OK)
                return r;
        struct json_object *p = reply.parameters;
        if (ctx->json)
                ctl_print_json(p);
        else {
                char s[FORMAT_SIZE_MAX];
                printf("%s VF %lld (%s): %s at %lld MiB, %lld ms time slice\n", dry ? "would resize" : "resized",
                       ctl_json_int(p, "index", -1), ctl_json_str(p, "device", "?"),
                       format_size(s, (uint64_t)ctl_json_int(p, "memory_size_mib", 0)), ctl_json_int(p, "memory_offset_mib", 0),
                       ctl_json_int(p, "time_slice_ms", 0));
                struct json_object *mv = json_object_object_get(p, "moves");
                for (size_t k = 0; mv && k < json_object_array_length(mv); k++) {
                        struct json_object *m = json_object_array_get_idx(mv, k);
                        printf("  %s VF %lld (%s, %s) from %lld MiB to %lld MiB\n", dry ? "would move" : "moved",
                               ctl_json_int(m, "index", -1), ctl_json_str(m, "address", "?"),
                               format_size(s, (uint64_t)ctl_json_int(m, "size_mib", 0)), ctl_json_int(m, "from_mib", 0),
                               ctl_json_int(m, "to_mib", 0));
                }
                if (dry)
                        print_actions(json_object_object_get(p, "actions"));
                print_persisted(p, dry);
        }
        ctl_reply_done(&reply);
        return MX_EXIT_OK;
}

const struct ctl_verb verb_resize = {
        .name = "resize",
        .summary = "change an idle VF's framebuffer size and/or time slice, live",
        .usage = "VF [--memory SIZE] [--time-slice T] [--dry-run] [--persist]",
        .help = "  --memory SIZE     new framebuffer size: at least 256M, in 16M steps (e.g. 1G, 1536M)\n"
                "  --time-slice T    new time slice: whole milliseconds 1ms to 255ms (at most 4 distinct per GPU)\n"
                "  --dry-run         print the new layout and the VFs that would move; change nothing\n"
                "  --persist         also write the change to the drop-in 90-mxgpuctl.conf\n"
                "Refused (exit 6) while the VF is in use; exit 7 when the size cannot fit. Without --persist the\n"
                "change is a live override that 'reload' drops.",
        .run = run_resize,
        .needs_daemon = true,
};

static int run_set_vfs(struct ctl_context *ctx, int argc, char **argv) {
        const char *pos[2] = {};
        bool dry = false, persist = false;
        const struct ctl_option opts[] = { { "--dry-run", .flag = &dry }, { "--persist", .flag = &persist }, {} };
        if (ctl_parse_args(&verb_set_vfs, argc, argv, opts, pos, 2) < 0)
                return MX_EXIT_USAGE;
        const char *dev = pos[0], *count = pos[1];
        if (!dev || !count)
                return ctl_usage_error(&verb_set_vfs, "a PF's PCI address and a VF count are needed");
        struct pci_addr a;
        char bdf[PCI_ADDR_STRLEN];
        uint64_t n;
        if (pci_addr_parse(dev, &a) < 0)
                return ctl_usage_error(&verb_set_vfs, "'%s' is not a PCI address (DDDD:BB:DD.F or BB:DD.F)", dev);
        if (parse_uint(count, UINT16_MAX, &n) < 0)
                return ctl_usage_error(&verb_set_vfs, "'%s' is not a VF count: use a whole number from 0 to the PF's "
                                       "total VFs (mxgpuctl show PF)", count);
        struct json_object *params = json_object_new_object();
        json_object_object_add(params, "device", json_object_new_string(pci_addr_format(&a, bdf)));
        json_object_object_add(params, "count", json_object_new_int((int)n));
        add_change_flags(params, dry, persist);
        struct ctl_reply reply;
        int r = ctl_call(ctx, MX_INTERFACE ".SetVFs", params, &reply);
        json_object_put(params);
        if (r != MX_EXIT_OK)
                return r;
        struct json_object *p = reply.parameters;
        const char *state = ctl_json_str(p, "state", NULL);
        if (ctx->json)
                ctl_print_json(p);
        else {
                printf("%s: %s %lld VFs%s%s%s%s\n", ctl_json_str(p, "device", "?"), dry ? "would have" : "now has",
                       ctl_json_int(p, "num_vfs", 0), state ? ", " : "", state ? state : "",
                       ctl_json_str(p, "reason", NULL) ? ": " : "", ctl_json_str(p, "reason", ""));
                print_actions(json_object_object_get(p, "actions"));
                print_persisted(p, dry);
        }
        int rc = !dry && state && !streq(state, "ready") ? MX_EXIT_FAILED : MX_EXIT_OK;
        ctl_reply_done(&reply);
        return rc;
}

const struct ctl_verb verb_set_vfs = {
        .name = "set-vfs",
        .summary = "change a PF's VF count, refused while any of its VFs is in use",
        .usage = "PF N [--dry-run] [--persist]",
        .help = "  --dry-run         print what would change; change nothing\n"
                "  --persist         also write vfs = N to the drop-in 90-mxgpuctl.conf\n"
                "Refused (exit 6) while a VF of the PF is in use, naming it. Exit 1 when the PF does not end ready.",
        .run = run_set_vfs,
        .needs_daemon = true,
};
