/* SPDX-License-Identifier: MIT */
/* Live changes made through the control socket (mxgpuctl resize, set-vfs): kept on top of the config
 * in force, in STATE_DIR/overrides.json, until `reload` (or SIGHUP) drops them (mxgpuctl(8)). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#include "mxgpu/config.h"
#include "mxgpu/pciaddr.h"
#include "mxgpu/plan.h"

#define OVERRIDES_FILE   "overrides.json"
#define OVERRIDE_ORIGIN  "mxgpuctl (live override)"

struct override_vf {
        bool memory;                   /* offset and size set */
        uint32_t offset_mib, size_mib;
        uint32_t time_slice_us;        /* 0: none */
};

struct override_pf {
        char addr[PCI_ADDR_STRLEN];
        bool generic;                  /* a [device] PF: num_vfs goes into [device ADDR] */
        int num_vfs;                   /* -1: none */
        struct override_vf vf[MX_MAX_GPU_VFS];
};

struct overrides {
        size_t n;
        struct override_pf *pf;        /* owned */
};

void overrides_done(struct overrides *o);
int overrides_copy(const struct overrides *from, struct overrides *ret);
struct override_pf *overrides_get(struct overrides *o, const char *addr);
/* The PF's entry, added empty when missing; NULL on -ENOMEM. */
struct override_pf *overrides_add(struct overrides *o, const char *addr);
bool override_pf_empty(const struct override_pf *p);

/* dir/overrides.json: a missing file is no override. */
int overrides_load(const char *dir, struct overrides *ret);
int overrides_save(const char *dir, const struct overrides *o);

/* cfg with every override set on top, as settings from OVERRIDE_ORIGIN; a copy even without any. */
int overrides_config(const struct overrides *o, const struct mx_config *cfg, struct mx_config **ret,
                     struct mx_diags *diags);
/* After resolve: the override's framebuffer offsets replace the config's sequential layout when they
 * describe every VF with the resolved sizes and form a valid layout. */
void overrides_fix_layout(const struct overrides *o, struct pf_desired *d);

/* {"num_vfs": ?int, "vfs": [{"index", "memory_offset_mib", "memory_size_mib", "time_slice_ms"}]} or NULL. */
struct json_object *overrides_pf_json(const struct overrides *o, const char *addr);
