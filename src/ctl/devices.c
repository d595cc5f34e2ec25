// SPDX-License-Identifier: MIT
// Human rendering of the PF and VF objects that io.mxgpu.Manager.List and Show return.
#include <string.h>

#include "devices.h"
#include "mxgpu/units.h"

static const char *const columns[] = { "DEVICE", "FUNCTION", "STATE", "DRIVER", "VFS", "MEMORY MiB", "TIME", "MODEL / VM" };

static bool in_use(struct json_object *vf) {
        return json_object_get_boolean(json_object_object_get(vf, "in_use"));
}

struct ctl_table *devices_table_new(void) {
        return ctl_table_new(ARRAY_SIZE(columns), columns);
}

static void state_cell(char *buf, size_t size, struct json_object *o, bool color) {
        const char *state = ctl_json_str(o, "state", "unknown");
        const char *on = ctl_state_color(state, color);
        snprintf(buf, size, "%s%s%s", on, state, *on ? CTL_COLOR_RESET : "");
}

void devices_table_add_pf(struct ctl_table *t, struct json_object *pf, bool color) {
        char state[64], vfs[32], mem[64];
        state_cell(state, sizeof(state), pf, color);
        snprintf(vfs, sizeof(vfs), "%lld/%lld", ctl_json_int(pf, "num_vfs", 0), ctl_json_int(pf, "total_vfs", 0));
        struct json_object *m = json_object_object_get(pf, "memory");
        long long total = ctl_json_int(m, "total_mib", -1), free_mib = ctl_json_int(m, "free_mib", -1);
        if (total < 0)
                snprintf(mem, sizeof(mem), "-");
        else if (free_mib < 0)
                snprintf(mem, sizeof(mem), "%lld", total);
        else
                snprintf(mem, sizeof(mem), "%lld (%lld free)", total, free_mib);
        const char *cells[] = {
                ctl_json_str(pf, "address", "?"), "PF", state, ctl_json_str(pf, "driver", NULL), vfs, mem,
                ctl_json_str(pf, "scheduler", NULL), ctl_json_str(pf, "model", NULL),
        };
        ctl_table_add(t, cells);
}

void devices_table_add_vf(struct ctl_table *t, struct json_object *vf, bool color) {
        char state[64], fn[32], mem[64], time[64];
        state_cell(state, sizeof(state), vf, color);
        snprintf(fn, sizeof(fn), "VF%lld", ctl_json_int(vf, "index", -1));
        long long size = ctl_json_int(vf, "memory_size_mib", -1), off = ctl_json_int(vf, "memory_offset_mib", -1);
        if (size < 0)
                snprintf(mem, sizeof(mem), "-");
        else
                snprintf(mem, sizeof(mem), "%lld @ %lld", size, off);
        long long slice = ctl_json_int(vf, "time_slice_ms", -1);
        double share = ctl_json_double(vf, "share_percent", -1);
        if (slice < 0)
                snprintf(time, sizeof(time), "-");
        else if (share < 0)
                snprintf(time, sizeof(time), "%lld ms", slice);
        else
                snprintf(time, sizeof(time), "%lld ms, %.1f%%", slice, share);
        /* In use (its VFIO group held open) is why resize refuses it a new size and set-vfs a new count, VM or not. */
        char vm[128];
        const char *name = ctl_json_str(vf, "vm", NULL);
        if (in_use(vf))
                snprintf(vm, sizeof(vm), "%s%s(in use)", name ?: "", name ? " " : "");
        else
                snprintf(vm, sizeof(vm), "%s", name ?: "-");
        const char *cells[] = {
                ctl_json_str(vf, "address", "?"), fn, state, ctl_json_str(vf, "driver", NULL), NULL, mem, time, vm,
        };
        ctl_table_add(t, cells);
}

static void print_reason(struct json_object *o, FILE *f) {
        const char *state = ctl_json_str(o, "state", NULL), *reason = ctl_json_str(o, "reason", NULL);
        if (reason && state && !streq(state, "ready"))
                fprintf(f, "%s: %s: %s\n", ctl_json_str(o, "address", "?"), state, reason);
}

void devices_print_reasons(struct json_object *pf, FILE *f) {
        print_reason(pf, f);
        struct json_object *vfs = json_object_object_get(pf, "vfs");
        for (size_t i = 0; vfs && i < json_object_array_length(vfs); i++)
                print_reason(json_object_array_get_idx(vfs, i), f);
}

/* What a live override sets for one VF: "1 GiB at 2240 MiB, 12 ms time slice". */
static void override_vf_text(struct json_object *v, char *buf, size_t size) {
        char s[FORMAT_SIZE_MAX], t[FORMAT_TIME_MAX], at[32] = "";
        long long mib = ctl_json_int(v, "memory_size_mib", -1), off = ctl_json_int(v, "memory_offset_mib", -1);
        long long us = ctl_json_int(v, "time_slice_us", -1);
        if (off >= 0)
                snprintf(at, sizeof(at), " at %lld MiB", off);
        snprintf(buf, size, "%s%s%s%s%s", mib >= 0 ? format_size(s, (uint64_t)mib) : "", mib >= 0 ? at : "",
                 mib >= 0 && us >= 0 ? ", " : "", us >= 0 ? format_time(t, (uint64_t)us) : "", us >= 0 ? " time slice" : "");
}

void devices_print_override(struct json_object *pf, FILE *f) {
        struct json_object *o = json_object_object_get(pf, "override");
        if (!o || !json_object_is_type(o, json_type_object))
                return;
        long long num_vfs = ctl_json_int(o, "num_vfs", -1);
        fprintf(f, "%s: live override (dropped on reload)", ctl_json_str(pf, "address", "?"));
        const char *sep = ": ";
        if (num_vfs >= 0) {
                fprintf(f, "%s%lld VFs", sep, num_vfs);
                sep = "; ";
        }
        struct json_object *vfs = json_object_object_get(o, "vfs");
        for (size_t i = 0; vfs && json_object_is_type(vfs, json_type_array) && i < json_object_array_length(vfs); i++) {
                struct json_object *v = json_object_array_get_idx(vfs, i);
                char text[128];
                override_vf_text(v, text, sizeof(text));
                fprintf(f, "%sVF %lld %s", sep, ctl_json_int(v, "index", -1), text);
                sep = "; ";
        }
        fputc('\n', f);
}

static void field(const char *label, const char *value) {
        printf("%-14s %s\n", label, value ? value : "-");
}

static void field_int(const char *label, long long v, const char *unit) {
        char buf[64];
        if (v < 0)
                snprintf(buf, sizeof(buf), "-");
        else
                snprintf(buf, sizeof(buf), "%lld%s", v, unit);
        field(label, buf);
}

static void field_state(struct json_object *o, bool color) {
        char state[64];
        state_cell(state, sizeof(state), o, color);
        field("state:", state);
        if (ctl_json_str(o, "reason", NULL))
                field("reason:", ctl_json_str(o, "reason", NULL));
}

void devices_print_pf(struct json_object *pf, bool color) {
        char vfs[32];
        field("address:", ctl_json_str(pf, "address", NULL));
        field("model:", ctl_json_str(pf, "model", NULL));
        field_state(pf, color);
        field("driver:", ctl_json_str(pf, "driver", NULL));
        snprintf(vfs, sizeof(vfs), "%lld of %lld", ctl_json_int(pf, "num_vfs", 0), ctl_json_int(pf, "total_vfs", 0));
        field("vfs:", vfs);
        struct json_object *m = json_object_object_get(pf, "memory");
        field_int("memory:", ctl_json_int(m, "total_mib", -1), " MiB");
        field_int("  reserved:", ctl_json_int(m, "reserved_mib", -1), " MiB");
        field_int("  for VFs:", ctl_json_int(m, "vf_mib", -1), " MiB");
        field_int("  free:", ctl_json_int(m, "free_mib", -1), " MiB");
        field("scheduler:", ctl_json_str(pf, "scheduler", NULL));
        /* A live change from resize or set-vfs: the hardware differs from the files until a reload. */
        struct json_object *o = json_object_object_get(pf, "override");
        if (o && json_object_is_type(o, json_type_object)) {
                long long num_vfs = ctl_json_int(o, "num_vfs", -1);
                char head[64] = "live, dropped on reload";
                if (num_vfs >= 0)
                        snprintf(head, sizeof(head), "live, dropped on reload: %lld VFs", num_vfs);
                field("override:", head);
                struct json_object *ovfs = json_object_object_get(o, "vfs");
                for (size_t i = 0; ovfs && json_object_is_type(ovfs, json_type_array) && i < json_object_array_length(ovfs); i++) {
                        struct json_object *v = json_object_array_get_idx(ovfs, i);
                        char text[128], line[160];
                        override_vf_text(v, text, sizeof(text));
                        snprintf(line, sizeof(line), "VF %lld: %s", ctl_json_int(v, "index", -1), text);
                        field("", line);
                }
        }
        struct json_object *list = json_object_object_get(pf, "vfs");
        if (list && json_object_array_length(list) > 0) {
                putchar('\n');
                struct ctl_table *t = devices_table_new();
                for (size_t i = 0; i < json_object_array_length(list); i++)
                        devices_table_add_vf(t, json_object_array_get_idx(list, i), color);
                ctl_table_print(t, stdout, color);
                ctl_table_free(t);
        }
}

void devices_print_vf(struct json_object *vf, const char *parent, bool color) {
        field("address:", ctl_json_str(vf, "address", NULL));
        field("pf:", parent);
        field_int("index:", ctl_json_int(vf, "index", -1), "");
        field_state(vf, color);
        field("driver:", ctl_json_str(vf, "driver", NULL));
        field_int("memory:", ctl_json_int(vf, "memory_size_mib", -1), " MiB");
        field_int("  offset:", ctl_json_int(vf, "memory_offset_mib", -1), " MiB");
        field_int("time slice:", ctl_json_int(vf, "time_slice_ms", -1), " ms");
        double share = ctl_json_double(vf, "share_percent", -1);
        if (share >= 0)
                fprintf(stdout, "%-15s%.1f %%\n", "share:", share);
        else
                fprintf(stdout, "%-15s-\n", "share:");
        field("vm:", ctl_json_str(vf, "vm", NULL));
        field("in use:", in_use(vf) ? "yes: its VFIO group is held open (its size and its PF's VF count cannot change)" : "no");
        field("vfio group:", ctl_json_str(vf, "vfio_group", NULL));
}
