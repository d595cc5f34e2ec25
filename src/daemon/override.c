// SPDX-License-Identifier: MIT
// Live overrides (resize, set-vfs): their file in the state directory, and how they sit on top of the config.
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mxgpu/fballoc.h"
#include "mxgpu/macro.h"
#include "mxgpu/protocol.h"
#include "override.h"

void overrides_done(struct overrides *o) {
        free(o->pf);
        *o = (struct overrides){};
}

int overrides_copy(const struct overrides *from, struct overrides *ret) {
        struct overrides c = { .n = from->n };
        if (from->n) {
                c.pf = malloc(from->n * sizeof(*c.pf));
                if (!c.pf)
                        return -ENOMEM;
                memcpy(c.pf, from->pf, from->n * sizeof(*c.pf));
        }
        *ret = c;
        return 0;
}

struct override_pf *overrides_get(struct overrides *o, const char *addr) {
        for (size_t i = 0; i < o->n; i++)
                if (streq(o->pf[i].addr, addr))
                        return &o->pf[i];
        return NULL;
}

struct override_pf *overrides_add(struct overrides *o, const char *addr) {
        struct override_pf *p = overrides_get(o, addr);
        if (p)
                return p;
        p = realloc(o->pf, (o->n + 1) * sizeof(*p));
        if (!p)
                return NULL;
        o->pf = p;
        p = &o->pf[o->n++];
        *p = (struct override_pf){ .num_vfs = -1 };
        snprintf(p->addr, sizeof(p->addr), "%s", addr);
        return p;
}

bool override_pf_empty(const struct override_pf *p) {
        if (p->num_vfs >= 0)
                return false;
        for (unsigned i = 0; i < MX_MAX_GPU_VFS; i++)
                if (p->vf[i].memory || p->vf[i].time_slice_us)
                        return false;
        return true;
}

static int get_int(struct json_object *o, const char *key, int64_t min, int64_t max, int64_t *ret) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !v)
                return 0;
        if (!json_object_is_type(v, json_type_int))
                return -EBADMSG;
        int64_t x = json_object_get_int64(v);
        if (x < min || x > max)
                return -EBADMSG;
        *ret = x;
        return 1;
}

int overrides_load(const char *dir, struct overrides *ret) {
        _cleanup_free_ char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, OVERRIDES_FILE) < 0)
                return -ENOMEM;
        if (access(path, F_OK) < 0) {
                if (errno != ENOENT)
                        return negative_errno();
                *ret = (struct overrides){};
                return 0;
        }
        _cleanup_json_ struct json_object *root = json_object_from_file(path);
        if (!root || !json_object_is_type(root, json_type_object))
                return -EBADMSG;
        struct json_object *pfs = json_object_object_get(root, "pfs");
        if (!pfs || !json_object_is_type(pfs, json_type_array))
                return -EBADMSG;
        struct overrides o = {};
        int r = 0;
        for (size_t i = 0; r >= 0 && i < json_object_array_length(pfs); i++) {
                struct json_object *p = json_object_array_get_idx(pfs, i), *v;
                const char *addr = json_object_get_string(json_object_object_get(p, "address"));
                struct pci_addr a;
                if (!addr || pci_addr_parse(addr, &a) < 0) {
                        r = -EBADMSG;
                        break;
                }
                struct override_pf *op = overrides_add(&o, addr);
                if (!op) {
                        r = -ENOMEM;
                        break;
                }
                op->generic = json_object_get_boolean(json_object_object_get(p, "generic"));
                int64_t x;
                if ((r = get_int(p, "num_vfs", 0, UINT16_MAX, &x)) > 0)
                        op->num_vfs = (int)x;
                struct json_object *vfs = json_object_object_get(p, "vfs");
                for (size_t k = 0; r >= 0 && vfs && k < json_object_array_length(vfs); k++) {
                        v = json_object_array_get_idx(vfs, k);
                        int64_t idx, off = -1, size = -1, us = 0;
                        if ((r = get_int(v, "index", 0, MX_MAX_GPU_VFS - 1, &idx)) <= 0) {
                                r = -EBADMSG;
                                break;
                        }
                        if ((r = get_int(v, "memory_offset_mib", 0, UINT32_MAX, &off)) < 0 ||
                            (r = get_int(v, "memory_size_mib", 0, UINT32_MAX, &size)) < 0 ||
                            (r = get_int(v, "time_slice_us", 0, UINT32_MAX, &us)) < 0)
                                break;
                        struct override_vf *ov = &op->vf[idx];
                        ov->memory = off >= 0 && size > 0;
                        ov->offset_mib = ov->memory ? (uint32_t)off : 0;
                        ov->size_mib = ov->memory ? (uint32_t)size : 0;
                        ov->time_slice_us = (uint32_t)us;
                }
        }
        if (r < 0) {
                overrides_done(&o);
                return r;
        }
        *ret = o;
        return 0;
}

static struct json_object *vf_json(unsigned i, const struct override_vf *v) {
        struct json_object *o = json_object_new_object();
        json_object_object_add(o, "index", json_object_new_int((int)i));
        json_object_object_add(o, "memory_offset_mib", v->memory ? json_object_new_int64(v->offset_mib) : NULL);
        json_object_object_add(o, "memory_size_mib", v->memory ? json_object_new_int64(v->size_mib) : NULL);
        json_object_object_add(o, "time_slice_us", v->time_slice_us ? json_object_new_int64(v->time_slice_us) : NULL);
        return o;
}

int overrides_save(const char *dir, const struct overrides *o) {
        _cleanup_json_ struct json_object *root = json_object_new_object();
        struct json_object *pfs = json_object_new_array();
        json_object_object_add(root, "version", json_object_new_int(1));
        json_object_object_add(root, "pfs", pfs);
        for (size_t i = 0; i < o->n; i++) {
                const struct override_pf *p = &o->pf[i];
                if (override_pf_empty(p))
                        continue;
                struct json_object *j = json_object_new_object(), *vfs = json_object_new_array();
                json_object_object_add(j, "address", json_object_new_string(p->addr));
                json_object_object_add(j, "generic", json_object_new_boolean(p->generic));
                json_object_object_add(j, "num_vfs", p->num_vfs >= 0 ? json_object_new_int(p->num_vfs) : NULL);
                for (unsigned k = 0; k < MX_MAX_GPU_VFS; k++)
                        if (p->vf[k].memory || p->vf[k].time_slice_us)
                                json_object_array_add(vfs, vf_json(k, &p->vf[k]));
                json_object_object_add(j, "vfs", vfs);
                json_object_array_add(pfs, j);
        }
        _cleanup_free_ char *path = NULL, *tmp = NULL;
        if (asprintf(&path, "%s/%s", dir, OVERRIDES_FILE) < 0 || asprintf(&tmp, "%s.XXXXXX", path) < 0)
                return -ENOMEM;
        int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        const char *s = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
        size_t len = strlen(s);
        int r = 0;
        if (write(fd, s, len) != (ssize_t)len || write(fd, "\n", 1) != 1 || fchmod(fd, 0644) < 0 || fsync(fd) < 0)
                r = errno ? negative_errno() : -EIO;
        close(fd);
        if (r == 0 && rename(tmp, path) < 0)
                r = negative_errno();
        if (r < 0)
                unlink(tmp);
        return r;
}

int overrides_config(const struct overrides *o, const struct mx_config *cfg, struct mx_config **ret,
                     struct mx_diags *diags) {
        _cleanup_(mx_config_freep) struct mx_config *c = NULL;
        int r = mx_config_copy(cfg, &c);
        if (r < 0)
                return r;
        for (size_t i = 0; i < o->n; i++) {
                const struct override_pf *p = &o->pf[i];
                struct pci_addr a;
                char buf[32];
                if (pci_addr_parse(p->addr, &a) < 0)
                        continue;
                if (p->num_vfs >= 0) {
                        snprintf(buf, sizeof(buf), "%d", p->num_vfs);
                        r = mx_config_set(c, p->generic ? MX_SECTION_DEVICE : MX_SECTION_GPU_ADDR, &a, 0, MX_KEY_VFS, buf,
                                          OVERRIDE_ORIGIN, diags);
                        if (r < 0)
                                return r;
                }
                for (unsigned k = 0; k < MX_MAX_GPU_VFS && !p->generic; k++) {
                        const struct override_vf *v = &p->vf[k];
                        if (v->memory) {
                                snprintf(buf, sizeof(buf), "%" PRIu32 "M", v->size_mib);
                                r = mx_config_set(c, MX_SECTION_VF, &a, k, MX_KEY_VF_MEMORY, buf, OVERRIDE_ORIGIN, diags);
                                if (r < 0)
                                        return r;
                        }
                        if (v->time_slice_us) {
                                /* In ms when whole, so that a refusal echoes the value as it was given (256ms). */
                                if (v->time_slice_us % 1000 == 0)
                                        snprintf(buf, sizeof(buf), "%" PRIu32 "ms", v->time_slice_us / 1000);
                                else
                                        snprintf(buf, sizeof(buf), "%" PRIu32 "us", v->time_slice_us);
                                r = mx_config_set(c, MX_SECTION_VF, &a, k, MX_KEY_TIME_SLICE, buf, OVERRIDE_ORIGIN, diags);
                                if (r < 0)
                                        return r;
                        }
                }
        }
        *ret = TAKE_PTR(c);
        return 0;
}

void overrides_fix_layout(const struct overrides *o, struct pf_desired *d) {
        char addr[PCI_ADDR_STRLEN];
        pci_addr_format(&d->addr, addr);
        const struct override_pf *p = overrides_get((struct overrides *)o, addr);
        if (!p || !d->managed || d->generic || d->num_vfs == 0 || d->num_vfs > MX_MAX_GPU_VFS)
                return;
        struct fb_layout l = { .area_start_mib = d->vf_base_mib, .area_end_mib = d->pf_reserve_mib + d->fb_consumed_mib,
                               .n_vfs = d->num_vfs };
        for (unsigned i = 0; i < d->num_vfs; i++) {
                if (!p->vf[i].memory || p->vf[i].size_mib != d->vf[i].fb_size_mib)
                        return;
                l.vf[i] = (struct fb_vf){ p->vf[i].offset_mib, p->vf[i].size_mib, false };
        }
        if (fb_layout_check(&l) < 0)
                return;
        for (unsigned i = 0; i < d->num_vfs; i++)
                d->vf[i].fb_offset_mib = p->vf[i].offset_mib;
}

struct json_object *overrides_pf_json(const struct overrides *o, const char *addr) {
        const struct override_pf *p = overrides_get((struct overrides *)o, addr);
        if (!p || override_pf_empty(p))
                return NULL;
        struct json_object *j = json_object_new_object(), *vfs = json_object_new_array();
        json_object_object_add(j, "num_vfs", p->num_vfs >= 0 ? json_object_new_int(p->num_vfs) : NULL);
        for (unsigned k = 0; k < MX_MAX_GPU_VFS; k++)
                if (p->vf[k].memory || p->vf[k].time_slice_us)
                        json_object_array_add(vfs, vf_json(k, &p->vf[k]));
        json_object_object_add(j, "vfs", vfs);
        return j;
}
