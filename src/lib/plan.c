// SPDX-License-Identifier: MIT
// Resolve the config for one PF: merge matching sections by precedence, check against the card, lay out memory and quanta.
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxgpu/plan.h"
#include "mxgpu/units.h"

/* Where a value came from: a setting in a file, or a default (file NULL). */
struct origin {
        const char *file;
        unsigned line;
        const char *key;
        const char *value;
};

struct resolve_ctx {
        const struct pf_facts *facts;
        struct mx_diags *diags;
        char dev[PCI_ADDR_STRLEN];
        const char *product;
        size_t n_errors;
        const struct mx_setting *merged[_MX_KEY_MAX];  /* the winning setting per key, NULL = default */
        const struct mx_section *sections[3];          /* matched PF sections, lowest precedence first */
        const struct mx_section *vf_sections[MX_MAX_GPU_VFS];
};

static void err_at(struct resolve_ctx *c, const struct origin *o, const char *fmt, ...) _printf_(3, 4);
static void err_at(struct resolve_ctx *c, const struct origin *o, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        mx_diags_addv(c->diags, MX_DIAG_ERROR, o ? o->file : NULL, o ? o->line : 0, o ? o->key : NULL,
                      o ? o->value : NULL, c->dev, fmt, ap);
        va_end(ap);
        c->n_errors++;
}

static struct origin origin_of(const struct mx_setting *s, enum mx_key k, const char *default_value) {
        if (s && s->set)
                return (struct origin){ s->file, s->line, mx_key_info(k)->name, s->raw };
        return (struct origin){ NULL, 0, mx_key_info(k)->name, default_value };
}

static struct origin section_origin(const struct mx_section *s) {
        return (struct origin){ s->file, s->line, NULL, NULL };
}

uint32_t mx_pf_reserve_default(const struct pf_facts *f) {
        if (!f->card)
                return 0;
        if (f->card->layout != GPUIOV_TONGA || f->pf_bar0_mib == 0)
                return f->card->pf_reserve_mib;
        /* Tonga: the PF reserve covers the PF's BAR0; a BAR0 that maps all memory needs only 16 MiB. */
        if (f->fb_available_mib && f->pf_bar0_mib >= f->fb_available_mib)
                return FB_ALIGN_MIB;
        return ALIGN_UP(f->pf_bar0_mib, FB_ALIGN_MIB);
}

void mx_pf_reserve_range(const struct pf_facts *f, uint32_t *ret_min, uint32_t *ret_max) {
        uint32_t min = f->card ? f->card->pf_reserve_min : 0, max = f->card ? f->card->pf_reserve_max : 0;
        if (f->card && f->card->layout == GPUIOV_TONGA)
                min = MAX(min, mx_pf_reserve_default(f));  /* at least the PF BAR0 */
        *ret_min = min;
        *ret_max = max;
}

static bool same_addr(const struct pci_addr *a, const struct pci_addr *b) {
        return a->domain == b->domain && a->bus == b->bus && a->dev == b->dev && a->fn == b->fn;
}

static void merge(struct resolve_ctx *c, const struct mx_section *s) {
        if (!s)
                return;
        for (unsigned k = 0; k < _MX_KEY_MAX; k++)
                if (s->settings[k].set)
                        c->merged[k] = &s->settings[k];
}

static uint64_t get_u(struct resolve_ctx *c, enum mx_key k, uint64_t def) {
        return c->merged[k] ? c->merged[k]->u : def;
}

/* "1 or 8", "1-12" */
static void allowed_counts(const struct mx_card *card, unsigned limit, char *buf, size_t size) {
        if (card && card->vf_counts) {
                size_t o = 0;
                unsigned n = 0, total = 0;
                for (unsigned i = 1; i <= limit && i < 32; i++)
                        total += (card->vf_counts >> i) & 1;
                buf[0] = 0;
                for (unsigned i = 1; i <= limit && i < 32; i++) {
                        if (!((card->vf_counts >> i) & 1))
                                continue;
                        n++;
                        o += (size_t)snprintf(buf + o, size - o, "%s%u", n == 1 ? "" : n == total ? " or " : ", ", i);
                }
                snprintf(buf + o, size - o, " (or 0)");
        } else
                snprintf(buf, size, "0 to %u", limit);
}

static unsigned default_vfs(const struct mx_card *card, unsigned limit) {
        for (unsigned n = limit; n > 0; n--)
                if (mx_card_vf_count_allowed(card, n))
                        return n;
        return 0;
}

static void fill_common(struct resolve_ctx *c, struct pf_desired *d) {
        d->pf_driver = (enum mx_pf_driver)get_u(c, MX_KEY_PF_DRIVER, MX_PF_DRIVER_PCI_PF_STUB);
        d->vfio = get_u(c, MX_KEY_VFIO, true);
        d->take_over_host_driver = get_u(c, MX_KEY_TAKE_OVER_HOST_DRIVER, false);
        snprintf(d->pool, sizeof(d->pool), "%s", c->merged[MX_KEY_POOL] ? c->merged[MX_KEY_POOL]->raw : "default");
}

static int resolve_generic(struct resolve_ctx *c, const struct mx_section *dev, struct pf_desired *d) {
        d->generic = true;
        fill_common(c, d);
        if (!c->merged[MX_KEY_VFS]) {
                struct origin o = section_origin(dev);
                err_at(c, &o, "[device %s] needs vfs = N: a generic device is managed only with an explicit VF count "
                       "(0 to %u)", c->dev, c->facts->total_vfs);
                return -EINVAL;
        }
        d->num_vfs = (unsigned)c->merged[MX_KEY_VFS]->u;
        if (d->num_vfs > c->facts->total_vfs) {
                struct origin o = origin_of(c->merged[MX_KEY_VFS], MX_KEY_VFS, NULL);
                err_at(c, &o, "%s supports at most %u VFs (TotalVFs): use 0 to %u", c->dev, c->facts->total_vfs,
                       c->facts->total_vfs);
                return -EINVAL;
        }
        if (d->num_vfs > MX_MAX_VFS) {
                struct origin o = origin_of(c->merged[MX_KEY_VFS], MX_KEY_VFS, NULL);
                err_at(c, &o, "%s: mxgpud manages at most %u VFs of one PF (this one has %u): use 0 to %u", c->dev,
                       MX_MAX_VFS, c->facts->total_vfs, MX_MAX_VFS);
                return -EINVAL;
        }
        return 0;
}

/* The VF's setting for key k: its [vf] section wins over the merged PF settings. */
static const struct mx_setting *vf_setting(struct resolve_ctx *c, unsigned vf, enum mx_key k) {
        const struct mx_section *s = vf < MX_MAX_GPU_VFS ? c->vf_sections[vf] : NULL;
        if (s && s->settings[k].set)
                return &s->settings[k];
        return c->merged[k];
}

static void layout_memory(struct resolve_ctx *c, struct pf_desired *d, const struct origin *vfs_origin) {
        const struct pf_facts *f = c->facts;
        char a[FORMAT_SIZE_MAX], b[FORMAT_SIZE_MAX], r[FORMAT_SIZE_MAX];
        uint32_t avail = f->fb_available_mib;

        d->context_offset_mib = d->pf_reserve_mib;
        d->context_size_mib = GPUIOV_CNTXT_MIB;
        d->vf_base_mib = ALIGN_UP(d->pf_reserve_mib + GPUIOV_CNTXT_MIB, FB_ALIGN_MIB);
        d->fb_consumed_mib = avail > d->pf_reserve_mib ? avail - d->pf_reserve_mib : 0;
        if (d->num_vfs == 0)
                return;

        uint64_t free_mib = avail > d->vf_base_mib ? avail - d->vf_base_mib : 0;
        uint64_t explicit_sum = 0;
        unsigned n_auto = 0;
        const struct mx_setting *last_explicit = NULL, *auto_setting = NULL;
        for (unsigned i = 0; i < d->num_vfs; i++) {
                const struct mx_setting *s = vf_setting(c, i, MX_KEY_VF_MEMORY);
                if (s && s->u != MX_SIZE_AUTO) {
                        explicit_sum += s->u;
                        last_explicit = s;
                } else {
                        n_auto++;
                        if (s && !auto_setting)
                                auto_setting = s;
                }
        }
        if (explicit_sum > free_mib || (n_auto > 0 && (free_mib - explicit_sum) / n_auto < FB_MIN_VF_MIB)) {
                /* Name the explicit size that tipped it over, else the auto split or the VF count. */
                struct origin o = last_explicit && explicit_sum > free_mib - (n_auto ? n_auto * FB_MIN_VF_MIB : 0)
                                          ? origin_of(last_explicit, MX_KEY_VF_MEMORY, NULL)
                                  : auto_setting ? origin_of(auto_setting, MX_KEY_VF_MEMORY, "auto")
                                                 : *vfs_origin;
                char need[FORMAT_SIZE_MAX], split[128] = "";
                format_size(need, explicit_sum + (uint64_t)n_auto * FB_MIN_VF_MIB);
                if (n_auto > 0)
                        snprintf(split, sizeof(split), " (%s set explicitly, %u auto VFs of at least 256 MiB)",
                                 format_size(a, explicit_sum), n_auto);
                err_at(c, &o, "%u VFs need at least %s%s but %s (%s) has %s for VFs (%s minus the PF reserve %s and "
                       "the 8 MiB context area); use smaller sizes or fewer VFs", d->num_vfs, need, split, c->product,
                       c->dev, format_size(b, free_mib), format_size(r, avail), format_size(a, d->pf_reserve_mib));
                return;
        }
        uint32_t auto_size = n_auto ? (uint32_t)ALIGN_DOWN((free_mib - explicit_sum) / n_auto, FB_ALIGN_MIB) : 0;
        uint32_t offset = d->vf_base_mib;
        for (unsigned i = 0; i < d->num_vfs; i++) {
                const struct mx_setting *s = vf_setting(c, i, MX_KEY_VF_MEMORY);
                uint32_t size = s && s->u != MX_SIZE_AUTO ? (uint32_t)s->u : auto_size;
                d->vf[i].fb_offset_mib = offset;
                d->vf[i].fb_size_mib = size;
                offset += size;
        }
}

static void layout_quanta(struct resolve_ctx *c, struct pf_desired *d) {
        uint8_t distinct[MX_MAX_GPU_VFS];
        unsigned n = 0, first_over = 0;
        bool over = false;
        for (unsigned i = 0; i < d->num_vfs; i++) {
                const struct mx_setting *s = vf_setting(c, i, MX_KEY_TIME_SLICE);
                uint8_t ms = (uint8_t)(s ? s->u / 1000 : MX_DEFAULT_SLICE_MS);
                d->vf[i].quantum_ms = ms;
                unsigned j;
                for (j = 0; j < n && distinct[j] != ms; j++)
                        ;
                if (j == n) {
                        if (n == SCH_QUANTA_ENTRIES && !over) {
                                over = true;
                                first_over = i;
                        }
                        distinct[n++] = ms;
                }
        }
        if (over) {
                char list[512];
                size_t o = 0;
                for (unsigned j = 0; j < n; j++) {
                        o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%u ms (VF", j ? ", " : "", distinct[j]);
                        for (unsigned i = 0; i < d->num_vfs; i++)
                                if (d->vf[i].quantum_ms == distinct[j])
                                        o += (size_t)snprintf(list + o, sizeof(list) - o, " %u", i);
                        o += (size_t)snprintf(list + o, sizeof(list) - o, ")");
                }
                struct origin org = origin_of(vf_setting(c, first_over, MX_KEY_TIME_SLICE), MX_KEY_TIME_SLICE, "6ms");
                err_at(c, &org, "VF %u brings a fifth distinct time slice; the hardware scheduler of %s holds at most %u: "
                       "%s; use at most %u distinct values", first_over, c->dev, SCH_QUANTA_ENTRIES, list,
                       SCH_QUANTA_ENTRIES);
                return;
        }
        /* Ascending options; unused entries repeat the last value so no VF can point at a 0 ms slot. */
        for (unsigned a = 1; a < n; a++)
                for (unsigned b = a; b > 0 && distinct[b - 1] > distinct[b]; b--) {
                        uint8_t t = distinct[b];
                        distinct[b] = distinct[b - 1];
                        distinct[b - 1] = t;
                }
        d->n_quanta = n;
        for (unsigned j = 0; j < SCH_QUANTA_ENTRIES; j++) {
                d->quanta_options[j] = n ? distinct[j < n ? j : n - 1] : MX_DEFAULT_SLICE_MS;
                d->quanta_option_word |= (uint32_t)d->quanta_options[j] << (8 * j);
        }
        for (unsigned i = 0; i < d->num_vfs; i++) {
                for (unsigned j = 0; j < n; j++)
                        if (distinct[j] == d->vf[i].quantum_ms)
                                d->vf[i].quanta_index = (uint8_t)j;
                d->quanta_per_vf_word |= (uint32_t)d->vf[i].quanta_index << (2 * i);
        }
}

static int resolve_gpu(struct resolve_ctx *c, const struct mx_config *cfg, struct pf_desired *d) {
        const struct pf_facts *f = c->facts;
        const struct mx_card *card = f->card;
        fill_common(c, d);
        d->fb_clear = get_u(c, MX_KEY_FB_CLEAR, true);
        d->scheduler = (enum gpuiov_sched_mode)get_u(c, MX_KEY_SCHEDULER, GPUIOV_SCHED_SOLID);

        unsigned limit = MIN(MIN(f->total_vfs, (unsigned)card->max_vfs), (unsigned)MX_MAX_GPU_VFS);
        char buf[64], buf2[FORMAT_SIZE_MAX], buf3[FORMAT_SIZE_MAX];
        struct origin vfs_o;
        if (c->merged[MX_KEY_VFS]) {
                vfs_o = origin_of(c->merged[MX_KEY_VFS], MX_KEY_VFS, NULL);
                uint64_t n = c->merged[MX_KEY_VFS]->u;
                allowed_counts(card, limit, buf, sizeof(buf));
                if (n > limit) {
                        err_at(c, &vfs_o, "%s (%s) supports at most %u VFs (TotalVFs %u): use %s", c->product, c->dev,
                               limit, f->total_vfs, buf);
                        return -EINVAL;
                }
                if (!mx_card_vf_count_allowed(card, (unsigned)n)) {
                        err_at(c, &vfs_o, "%s (%s) allows only %s VFs", c->product, c->dev, buf);
                        return -EINVAL;
                }
                d->num_vfs = (unsigned)n;
        } else {
                d->num_vfs = default_vfs(card, limit);
                snprintf(buf, sizeof(buf), "%u", d->num_vfs);
                vfs_o = (struct origin){ NULL, 0, "vfs", NULL };
        }

        /* [vf] sections of this PF: their index must exist. */
        for (size_t i = 0; i < cfg->n_sections; i++) {
                const struct mx_section *s = &cfg->sections[i];
                if (s->kind != MX_SECTION_VF || !same_addr(&s->addr, &f->addr))
                        continue;
                if (s->vf_index >= d->num_vfs) {
                        struct origin o = section_origin(s);
                        char at[PATH_MAX + 32] = "";
                        if (vfs_o.file)
                                snprintf(at, sizeof(at), ", vfs at %s:%u", vfs_o.file, vfs_o.line);
                        err_at(c, &o, "[vf %s %u]: VF %u does not exist: %s has %u VFs%s; use an index from 0 to %d",
                               c->dev, s->vf_index, s->vf_index, c->dev, d->num_vfs, at, (int)d->num_vfs - 1);
                        continue;
                }
                c->vf_sections[s->vf_index] = s;
        }

        uint32_t min, max;
        mx_pf_reserve_range(f, &min, &max);
        if (!c->merged[MX_KEY_PF_RESERVE] || c->merged[MX_KEY_PF_RESERVE]->u == MX_SIZE_AUTO)
                d->pf_reserve_mib = mx_pf_reserve_default(f);
        else {
                uint64_t v = c->merged[MX_KEY_PF_RESERVE]->u;
                if (v < min || v > max) {
                        struct origin o = origin_of(c->merged[MX_KEY_PF_RESERVE], MX_KEY_PF_RESERVE, NULL);
                        err_at(c, &o, "out of range for %s (%s): use %s to %s in 16M steps, or auto", c->product,
                               c->dev, format_size(buf2, min), format_size(buf3, max));
                        return -EINVAL;
                }
                d->pf_reserve_mib = (uint32_t)v;
        }
        if (c->n_errors)
                return -EINVAL;
        layout_memory(c, d, &vfs_o);
        layout_quanta(c, d);
        return c->n_errors ? -EINVAL : 0;
}

int mx_config_resolve(const struct mx_config *cfg, const struct pf_facts *facts, struct pf_desired *ret,
                      struct mx_diags *diags) {
        struct resolve_ctx c = { .facts = facts, .diags = diags };
        struct pf_desired d = { .addr = facts->addr };
        pci_addr_format(&facts->addr, c.dev);
        c.product = facts->card ? facts->card->product : "the device";

        const struct mx_section *dev = mx_config_find_section(cfg, MX_SECTION_DEVICE, NULL, &facts->addr, 0);
        if (facts->card) {
                if (dev) {
                        struct origin o = section_origin(dev);
                        err_at(&c, &o, "[device %s]: %s is a supported GPU (%s): configure it in [gpu %s]", c.dev, c.dev,
                               facts->card->model, c.dev);
                        return -EINVAL;
                }
                c.sections[0] = mx_config_find_section(cfg, MX_SECTION_GPU_ALL, NULL, NULL, 0);
                c.sections[1] = mx_config_find_section(cfg, MX_SECTION_GPU_MODEL, facts->card, NULL, 0);
                c.sections[2] = mx_config_find_section(cfg, MX_SECTION_GPU_ADDR, NULL, &facts->addr, 0);
                for (unsigned i = 0; i < ARRAY_SIZE(c.sections); i++)
                        merge(&c, c.sections[i]);
                if (!c.sections[0] && !c.sections[1] && !c.sections[2])
                        goto unmanaged;
        } else {
                const struct mx_section *gpu = mx_config_find_section(cfg, MX_SECTION_GPU_ADDR, NULL, &facts->addr, 0);
                if (gpu) {
                        struct origin o = section_origin(gpu);
                        err_at(&c, &o, "[gpu %s]: %s (%04x:%04x) is not a supported MxGPU: a generic SR-IOV device "
                               "goes in [device %s] (VF count and binding only)", c.dev, c.dev, facts->vendor,
                               facts->device, c.dev);
                        return -EINVAL;
                }
                if (!dev)
                        goto unmanaged;
                merge(&c, dev);
        }
        if (!get_u(&c, MX_KEY_ENABLED, true))
                goto unmanaged;
        d.managed = true;
        int r = facts->card ? resolve_gpu(&c, cfg, &d) : resolve_generic(&c, dev, &d);
        if (r < 0)
                return r;
        *ret = d;
        return 0;
unmanaged:
        *ret = (struct pf_desired){ .addr = facts->addr };
        return 0;
}
