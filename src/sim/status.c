// SPDX-License-Identifier: MIT
// The host as the hardware sees it (status JSON), and the parsers of latency and errno arguments.
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "card.h"
#include "mxgpu/names.h"
#include "sim.h"

#define MS 1000000ull

void sim_latency_default(struct sim_latency *lat) {
        /* measured on a real kernel (testing.md): msleep(100) + per-VF work on enable, ssleep(1) on disable */
        *lat = (struct sim_latency){
                .vf_enable = 100 * MS, .vf_enable_per_vf = 2 * MS, .vf_disable = 1000 * MS, .bind = 8 * MS, .cmd = 2 * MS,
        };
}

static int parse_duration(const char *s, uint64_t *ret) {
        char *end;
        errno = 0;
        double v = strtod(s, &end);
        if (errno || end == s || v < 0 || s[0] == '-')
                return -EINVAL;
        double mult;
        if (!*end)
                mult = v == 0 ? 1 : -1; /* a bare number must be 0 */
        else if (streq(end, "s"))
                mult = 1e9;
        else if (streq(end, "ms"))
                mult = 1e6;
        else if (streq(end, "us"))
                mult = 1e3;
        else if (streq(end, "ns"))
                mult = 1;
        else
                return -EINVAL;
        if (mult < 0 || v * mult > 3600e9)
                return -EINVAL;
        *ret = (uint64_t)(v * mult);
        return 0;
}

int sim_latency_parse(const char *spec, struct sim_latency *lat, char *err, size_t errsize) {
        struct sim_latency l = *lat;
        _cleanup_free_ char *copy = strdup(spec);
        if (!copy)
                return -ENOMEM;
        char *save = NULL;
        for (char *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
                if (streq(item, "realistic")) {
                        sim_latency_default(&l);
                        continue;
                }
                if (streq(item, "zero")) {
                        l = (struct sim_latency){ 0 };
                        continue;
                }
                char *eq = strchr(item, '=');
                if (!eq) {
                        snprintf(err, errsize, "latency '%s': expected realistic, zero or OP=DURATION", item);
                        return -EINVAL;
                }
                *eq = 0;
                uint64_t *dst = streq(item, "vf_enable") ? &l.vf_enable : streq(item, "vf_enable_per_vf") ? &l.vf_enable_per_vf :
                                streq(item, "vf_disable") ? &l.vf_disable : streq(item, "bind") ? &l.bind :
                                streq(item, "cmd") ? &l.cmd : NULL;
                if (!dst) {
                        snprintf(err, errsize, "latency: unknown operation '%s'; allowed: vf_enable, vf_enable_per_vf, "
                                 "vf_disable, bind, cmd", item);
                        return -EINVAL;
                }
                if (parse_duration(eq + 1, dst) < 0) {
                        snprintf(err, errsize, "latency %s=%s: expected a duration like 100ms, 250us, 1s or 0", item, eq + 1);
                        return -EINVAL;
                }
        }
        *lat = l;
        return 0;
}

static const struct { const char *name; int err; } errnos[] = {
        { "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EIO", EIO }, { "ENXIO", ENXIO }, { "E2BIG", E2BIG },
        { "EAGAIN", EAGAIN }, { "ENOMEM", ENOMEM }, { "EACCES", EACCES }, { "EBUSY", EBUSY }, { "EEXIST", EEXIST },
        { "ENODEV", ENODEV }, { "EINVAL", EINVAL }, { "ENOSPC", ENOSPC }, { "ERANGE", ERANGE },
        { "ETIMEDOUT", ETIMEDOUT }, { "EOPNOTSUPP", EOPNOTSUPP }, { "ENOTSUP", ENOTSUP }, { "EINTR", EINTR },
        { "EFAULT", EFAULT }, { "ENOSYS", ENOSYS }, { "ENOTTY", ENOTTY },
};

int sim_errno_parse(const char *s) {
        for (size_t i = 0; i < ARRAY_SIZE(errnos); i++)
                if (strcasecmp(s, errnos[i].name) == 0)
                        return errnos[i].err;
        char *end;
        long v = strtol(s, &end, 10);
        if (*s && !*end && v > 0 && v < 4096)
                return (int)v;
        return -EINVAL;
}

/* --- status --- */

static struct json_object *str_or_null(const char *s) { return s ? json_object_new_string(s) : NULL; }

static struct json_object *hex16(uint16_t v) {
        char b[8];
        snprintf(b, sizeof(b), "0x%04x", v);
        return json_object_new_string(b);
}

static struct json_object *vfio_path(const struct sim_fn *fn) {
        if (fn->drv != DRVI_VFIO_PCI || fn->iommu_group < 0)
                return NULL;
        char p[32];
        snprintf(p, sizeof(p), DEV_VFIO "/%d", fn->iommu_group);
        return json_object_new_string(p);
}

static struct json_object *card_vf_entry(struct json_object *card, unsigned index) {
        struct json_object *vfs;
        if (!card || !json_object_object_get_ex(card, "vfs", &vfs) || !json_object_is_type(vfs, json_type_array))
                return NULL;
        for (size_t i = 0; i < json_object_array_length(vfs); i++) {
                struct json_object *e = json_object_array_get_idx(vfs, i), *idx;
                if (json_object_object_get_ex(e, "index", &idx) && json_object_get_int(idx) == (int)index)
                        return e;
        }
        return NULL;
}

static struct json_object *vf_json(struct sim_fn *vf, struct json_object *card) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "index", json_object_new_int((int)vf->vf_index));
        json_object_object_add(o, "address", json_object_new_string(vf->bdf));
        json_object_object_add(o, "device", hex16(vf->device));
        json_object_object_add(o, "driver", str_or_null(sim_drv_name(vf->drv)));
        json_object_object_add(o, "driver_override", str_or_null(vf->driver_override));
        json_object_object_add(o, "iommu_group", vf->iommu_group >= 0 ? json_object_new_int(vf->iommu_group) : NULL);
        json_object_object_add(o, "vfio", vfio_path(vf));
        json_object_object_add(o, "vfio_open", json_object_new_boolean(vf->vfio_open));
        json_object_object_add(o, "resets", json_object_new_int((int)vf->resets));
        /* the card's decoded view of this VF, merged in */
        struct json_object *e = card_vf_entry(card, vf->vf_index);
        if (e) {
                json_object_object_foreach(e, k, v) {
                        if (!json_object_object_get_ex(o, k, NULL))
                                json_object_object_add(o, k, json_object_get(v));
                }
        }
        return o;
}

static struct json_object *pf_json(struct sim_fn *fn) {
        struct sim_pf *pf = fn->pf;
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "address", json_object_new_string(fn->bdf));
        json_object_object_add(o, "model", json_object_new_string(fn->model));
        json_object_object_add(o, "vendor", hex16(fn->vendor));
        json_object_object_add(o, "device", hex16(fn->device));
        json_object_object_add(o, "driver", str_or_null(sim_drv_name(fn->drv)));
        json_object_object_add(o, "driver_override", str_or_null(fn->driver_override));
        json_object_object_add(o, "sriov", json_object_new_boolean(pf && pf->sriov_pos));
        json_object_object_add(o, "totalvfs", json_object_new_int(pf ? (int)pf->total_vfs : 0));
        json_object_object_add(o, "numvfs", json_object_new_int(pf ? (int)pf->num_vfs : 0));
        json_object_object_add(o, "autoprobe", json_object_new_boolean(pf ? pf->autoprobe : false));
        json_object_object_add(o, "iommu_group", fn->iommu_group >= 0 ? json_object_new_int(fn->iommu_group) : NULL);
        json_object_object_add(o, "vfio", vfio_path(fn));
        json_object_object_add(o, "vfio_open", json_object_new_boolean(fn->vfio_open));
        json_object_object_add(o, "resets", json_object_new_int((int)fn->resets));
        struct json_object *card = pf && pf->card ? sim_card_status(pf->card, fn->config) : NULL;
        json_object_object_add(o, "gpuiov", card);
        struct json_object *vfs = json_object_new_array();
        if (pf) {
                struct json_object *missing = json_object_new_array();
                for (unsigned i = 0; i < pf->total_vfs; i++) {
                        if (pf->vfs[i])
                                json_object_array_add(vfs, vf_json(pf->vfs[i], card));
                        if (pf->vf_missing[i])
                                json_object_array_add(missing, json_object_new_int((int)i));
                }
                json_object_object_add(o, "vf_missing", missing);
        }
        json_object_object_add(o, "vfs", vfs);
        return o;
}

struct json_object *sim_status_json(struct sim_host *h) {
        struct json_object *root = json_object_new_object();
        struct json_object *host = json_object_new_object();
        json_object_object_add(host, "spec", json_object_new_string(h->spec));
        json_object_object_add(host, "iommu", json_object_new_boolean(h->iommu));
        json_object_object_add(host, "ari", json_object_new_boolean(h->ari));
        json_object_object_add(host, "sriov", json_object_new_boolean(h->sriov));
        json_object_object_add(host, "mmio_room", json_object_new_int64((int64_t)h->mmio_room));
        json_object_object_add(host, "vfio_enable_sriov", json_object_new_boolean(h->vfio_enable_sriov));
        json_object_object_add(host, "uevents", json_object_new_boolean(h->uevent_fd >= 0));
        struct json_object *lat = json_object_new_object();
        json_object_object_add(lat, "vf_enable_us", json_object_new_int64((int64_t)(h->lat.vf_enable / 1000)));
        json_object_object_add(lat, "vf_enable_per_vf_us", json_object_new_int64((int64_t)(h->lat.vf_enable_per_vf / 1000)));
        json_object_object_add(lat, "vf_disable_us", json_object_new_int64((int64_t)(h->lat.vf_disable / 1000)));
        json_object_object_add(lat, "bind_us", json_object_new_int64((int64_t)(h->lat.bind / 1000)));
        json_object_object_add(lat, "cmd_us", json_object_new_int64((int64_t)(h->lat.cmd / 1000)));
        json_object_object_add(host, "latency", lat);
        struct json_object *faults = json_object_new_array();
        for (unsigned i = 0; i < h->n_faults; i++) {
                if (!h->faults[i].count)
                        continue;
                struct json_object *f = json_object_new_object();
                json_object_object_add(f, "target", json_object_new_string(h->faults[i].target));
                json_object_object_add(f, "attr", json_object_new_string(h->faults[i].attr));
                json_object_object_add(f, "errno", json_object_new_int(h->faults[i].err));
                json_object_object_add(f, "count", json_object_new_int((int)h->faults[i].count));
                json_object_array_add(faults, f);
        }
        json_object_object_add(host, "write_faults", faults);
        json_object_object_add(root, "host", host);
        struct json_object *pfs = json_object_new_array();
        for (size_t i = 0; i < h->n_fns; i++)
                if (h->fns[i]->kind == FN_PF)
                        json_object_array_add(pfs, pf_json(h->fns[i]));
        json_object_object_add(root, "pfs", pfs);
        return root;
}
