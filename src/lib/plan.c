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
        const struct mx_section *merged_from[_MX_KEY_MAX];  /* the section it is in */
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
        if (s && (s->set || s->invalid))
                return (struct origin){ s->file, s->line, mx_key_info(k)->name, s->raw };
        return (struct origin){ NULL, 0, mx_key_info(k)->name, default_value };
}

static struct origin section_origin(const struct mx_section *s) {
        return (struct origin){ s->file, s->line, NULL, NULL };
}

#define WHERE_MAX (PATH_MAX + 16)
/* "from FILE:LINE", "from mxgpuctl (live override)" (a setting from outside the files has no line), or
 * "(default)". */
static const char *where(const struct mx_setting *s, char buf[static WHERE_MAX]) {
        if (!s)
                snprintf(buf, WHERE_MAX, "(default)");
        else if (s->line)
                snprintf(buf, WHERE_MAX, "from %s:%u", s->file, s->line);
        else
                snprintf(buf, WHERE_MAX, "from %s", s->file ? s->file : "?");
        return buf;
}

/* A setting whose value can be used (a refused one only hides older values). */
static const struct mx_setting *usable(const struct mx_setting *s) {
        return s && s->set ? s : NULL;
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
                if (s->settings[k].set || s->settings[k].invalid) {
                        c->merged[k] = &s->settings[k];
                        c->merged_from[k] = s;
                }
}

static bool refused(struct resolve_ctx *c, enum mx_key k) {
        return c->merged[k] && c->merged[k]->invalid;
}

static uint64_t get_u(struct resolve_ctx *c, enum mx_key k, uint64_t def) {
        return usable(c->merged[k]) ? c->merged[k]->u : def;
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
        snprintf(d->pool, sizeof(d->pool), "%s", usable(c->merged[MX_KEY_POOL]) ? c->merged[MX_KEY_POOL]->raw : "default");
}

static int resolve_generic(struct resolve_ctx *c, const struct mx_section *dev, struct pf_desired *d) {
        d->generic = true;
        fill_common(c, d);
        if (refused(c, MX_KEY_VFS))
                return -EINVAL;  /* reported where it was read */
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
        if (s && (s->settings[k].set || s->settings[k].invalid))
                return &s->settings[k];
        return c->merged[k];
}

/* "0, 2-5, 7": the VFs below n for which in[] is true. */
static void vf_ranges(const bool *in, unsigned n, char *buf, size_t size) {
        size_t o = 0;
        buf[0] = 0;
        for (unsigned i = 0; i < n && o < size; i++) {
                if (!in[i])
                        continue;
                unsigned j = i;
                while (j + 1 < n && in[j + 1])
                        j++;
                o += (size_t)(j == i ? snprintf(buf + o, size - o, "%s%u", o ? ", " : "", i)
                                     : snprintf(buf + o, size - o, "%s%u-%u", o ? ", " : "", i, j));
                i = j;
        }
}

/* Each setting of key k the first n VFs use, with its place and the VFs it covers:
 * "time_slice = 1ms from f:5 for VF 0; 6ms (default) for VF 1-7". */
static void vf_settings_list(struct resolve_ctx *c, unsigned n, enum mx_key k, const char *def, char *buf, size_t size) {
        bool done[MX_MAX_GPU_VFS] = {};
        size_t o = (size_t)snprintf(buf, size, "%s = ", mx_key_info(k)->name);
        for (unsigned i = 0; i < n && o < size; i++) {
                if (done[i])
                        continue;
                const struct mx_setting *s = vf_setting(c, i, k);
                bool in[MX_MAX_GPU_VFS] = {};
                for (unsigned j = i; j < n; j++)
                        if (vf_setting(c, j, k) == s)
                                in[j] = done[j] = true;
                char vfs[128], w[WHERE_MAX];
                vf_ranges(in, n, vfs, sizeof(vfs));
                o += (size_t)snprintf(buf + o, size - o, "%s%s %s for VF %s", i ? "; " : "", s ? s->raw : def, where(s, w),
                                      vfs);
        }
}

/* "vfs = 16 (default: the card's maximum)", "pf_reserve = 4G from f:2" */
static void setting_text(struct resolve_ctx *c, enum mx_key k, const char *def, const char *why, char *buf, size_t size) {
        char w[WHERE_MAX];
        const struct mx_setting *s = c->merged[k];
        if (s)
                snprintf(buf, size, "%s = %s %s", mx_key_info(k)->name, s->raw, where(s, w));
        else
                snprintf(buf, size, "%s = %s (default: %s)", mx_key_info(k)->name, def, why);
}

/* reserve_exact false: pf_reserve was refused and the card's smallest reserve stands in, so that only
 * sizes that cannot fit with any reserve are reported. */
static void layout_memory(struct resolve_ctx *c, struct pf_desired *d, bool reserve_exact) {
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
                if (s && s->invalid)
                        return;  /* reported where it was read; a layout without it would mislead */
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
                /* Blame the explicit size that tipped it over, else a PF reserve set in a file, the auto split,
                 * the VF count; and name every setting that took part, defaults too. */
                const struct mx_setting *pr = usable(c->merged[MX_KEY_PF_RESERVE]), *vfs = usable(c->merged[MX_KEY_VFS]);
                struct origin o = last_explicit && explicit_sum > free_mib - (n_auto ? n_auto * FB_MIN_VF_MIB : 0)
                                          ? origin_of(last_explicit, MX_KEY_VF_MEMORY, NULL)
                                  : pr && reserve_exact && pr->u != MX_SIZE_AUTO ? origin_of(pr, MX_KEY_PF_RESERVE, NULL)
                                  : auto_setting ? origin_of(auto_setting, MX_KEY_VF_MEMORY, "auto")
                                  : vfs ? origin_of(vfs, MX_KEY_VFS, NULL)
                                  : pr && reserve_exact ? origin_of(pr, MX_KEY_PF_RESERVE, NULL)
                                        : origin_of(NULL, MX_KEY_VFS, NULL);
                char need[FORMAT_SIZE_MAX], split[128] = "", def_vfs[16];
                char s_vfs[WHERE_MAX + 64], s_pr[WHERE_MAX + 64], s_mem[1024];
                format_size(need, explicit_sum + (uint64_t)n_auto * FB_MIN_VF_MIB);
                if (n_auto > 0 && explicit_sum > 0)
                        snprintf(split, sizeof(split), " (%s set explicitly, %u auto VFs of at least 256 MiB)",
                                 format_size(a, explicit_sum), n_auto);
                else if (n_auto > 0)
                        snprintf(split, sizeof(split), " (%u auto VFs of at least 256 MiB)", n_auto);
                snprintf(def_vfs, sizeof(def_vfs), "%u", d->num_vfs);
                setting_text(c, MX_KEY_VFS, def_vfs, "the card's maximum", s_vfs, sizeof(s_vfs));
                if (reserve_exact)
                        setting_text(c, MX_KEY_PF_RESERVE, "auto", "the card's", s_pr, sizeof(s_pr));
                else
                        snprintf(s_pr, sizeof(s_pr), "pf_reserve refused, counted as the least the card allows");
                vf_settings_list(c, d->num_vfs, MX_KEY_VF_MEMORY, "auto", s_mem, sizeof(s_mem));
                err_at(c, &o, "%u VFs need at least %s%s but %s (%s) has %s for VFs (%s minus the PF reserve %s and "
                       "the 8 MiB context area); settings: %s, %s, %s; use smaller sizes or fewer VFs, or a smaller "
                       "pf_reserve", d->num_vfs, need, split, c->product, c->dev, format_size(b, free_mib), format_size(r, avail),
                       format_size(a, d->pf_reserve_mib), s_vfs, s_pr, s_mem);
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
        unsigned n = 0, first_over = 0, fourth = 0;
        bool over = false;
        for (unsigned i = 0; i < d->num_vfs; i++)
                if (vf_setting(c, i, MX_KEY_TIME_SLICE) && vf_setting(c, i, MX_KEY_TIME_SLICE)->invalid)
                        return;  /* reported where it was read */
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
                        if (n == SCH_QUANTA_ENTRIES - 1)
                                fourth = i;
                        distinct[n++] = ms;
                }
        }
        if (over) {
                char values[128], list[2048], def[16];
                size_t o = 0;
                for (unsigned j = 0; j < n; j++)
                        o += (size_t)snprintf(values + o, sizeof(values) - o, "%s%u", j == 0 ? "" : j == n - 1 ? " and " : ", ",
                                              distinct[j]);
                snprintf(def, sizeof(def), "%ums", MX_DEFAULT_SLICE_MS);
                vf_settings_list(c, d->num_vfs, MX_KEY_TIME_SLICE, def, list, sizeof(list));
                /* The fifth value's own line, else (a default) the line that brought the fourth */
                const struct mx_setting *blame = vf_setting(c, first_over, MX_KEY_TIME_SLICE);
                if (!blame)
                        blame = vf_setting(c, fourth, MX_KEY_TIME_SLICE);
                struct origin org = origin_of(blame, MX_KEY_TIME_SLICE, def);
                err_at(c, &org, "VF %u brings a fifth distinct time slice (the VFs use %s ms); the hardware scheduler of "
                       "%s holds at most %u: %s; use at most %u distinct values", first_over, values, c->dev,
                       SCH_QUANTA_ENTRIES, list, SCH_QUANTA_ENTRIES);
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

/* A count from [gpu *] that this card refuses: the fix is a section for this card, not a smaller count for all. */
static void all_cards_hint(struct resolve_ctx *c, unsigned suggest, char *buf, size_t size) {
        buf[0] = 0;
        if (c->merged_from[MX_KEY_VFS] && c->merged_from[MX_KEY_VFS]->kind == MX_SECTION_GPU_ALL)
                snprintf(buf, size, "; [gpu *] applies to every card: give this one its own count in a [gpu %s] (or "
                         "[gpu %s]) section, e.g. vfs = %u, which takes precedence", c->facts->card->model, c->dev, suggest);
}

static int resolve_gpu(struct resolve_ctx *c, const struct mx_config *cfg, struct pf_desired *d) {
        const struct pf_facts *f = c->facts;
        const struct mx_card *card = f->card;
        fill_common(c, d);
        d->fb_clear = get_u(c, MX_KEY_FB_CLEAR, true);
        d->scheduler = (enum gpuiov_sched_mode)get_u(c, MX_KEY_SCHEDULER, card->sched_default);
        if (!mx_card_sched_allowed(card, d->scheduler)) {
                struct origin o = origin_of(c->merged[MX_KEY_SCHEDULER], MX_KEY_SCHEDULER, NULL);
                char modes[64];
                err_at(c, &o, "%s (%s) does not run the %s scheduler: use %s%s", c->product, c->dev,
                       gpuiov_sched_mode_name(d->scheduler), mx_card_sched_list(card, modes, sizeof(modes)),
                       card->layout == GPUIOV_TONGA ? " (the Tonga layout has no command to choose a policy: "
                       "CONFIG_AUTO_HW_SCHED_MODE is GIM8's, and without it the block runs solid)" : "");
        }

        /* Problems that do not depend on each other are all reported: a bad count does not hide a bad
         * reserve, a [vf] section out of range does not hide a layout that cannot fit. */
        unsigned limit = MIN(MIN(f->total_vfs, (unsigned)card->max_vfs), (unsigned)MX_MAX_GPU_VFS);
        char buf[64], buf2[FORMAT_SIZE_MAX], buf3[FORMAT_SIZE_MAX], hint[160];
        bool vfs_known = !refused(c, MX_KEY_VFS);
        if (vfs_known && c->merged[MX_KEY_VFS]) {
                struct origin vfs_o = origin_of(c->merged[MX_KEY_VFS], MX_KEY_VFS, NULL);
                uint64_t n = c->merged[MX_KEY_VFS]->u;
                allowed_counts(card, limit, buf, sizeof(buf));
                all_cards_hint(c, default_vfs(card, limit), hint, sizeof(hint));
                if (n > limit) {
                        err_at(c, &vfs_o, "%s (%s) supports at most %u VFs (TotalVFs %u): use %s%s", c->product, c->dev,
                               limit, f->total_vfs, buf, hint);
                        vfs_known = false;
                } else if (!mx_card_vf_count_allowed(card, (unsigned)n)) {
                        err_at(c, &vfs_o, "%s (%s) allows only %s VFs%s", c->product, c->dev, buf, hint);
                        vfs_known = false;
                } else
                        d->num_vfs = (unsigned)n;
        } else if (vfs_known)
                d->num_vfs = default_vfs(card, limit);

        /* [vf] sections of this PF: their index must exist. */
        for (size_t i = 0; i < cfg->n_sections && vfs_known; i++) {
                const struct mx_section *s = &cfg->sections[i];
                if (s->kind != MX_SECTION_VF || !same_addr(&s->addr, &f->addr))
                        continue;
                if (s->vf_index >= d->num_vfs) {
                        struct origin o = section_origin(s);
                        char w[WHERE_MAX];
                        const struct mx_setting *vs = c->merged[MX_KEY_VFS];
                        if (d->num_vfs == 0)
                                err_at(c, &o, "[vf %s %u]: VF %u does not exist: %s has no VFs (vfs = 0 %s); remove the "
                                       "section or raise vfs", c->dev, s->vf_index, s->vf_index, c->dev, where(vs, w));
                        else
                                err_at(c, &o, "[vf %s %u]: VF %u does not exist: %s has %u VFs (vfs = %u %s); use an index "
                                       "from 0 to %u, or raise vfs", c->dev, s->vf_index, s->vf_index, c->dev, d->num_vfs,
                                       d->num_vfs, where(vs, w), d->num_vfs - 1);
                        continue;
                }
                c->vf_sections[s->vf_index] = s;
        }

        uint32_t min, max;
        bool reserve_exact = true;
        mx_pf_reserve_range(f, &min, &max);
        if (refused(c, MX_KEY_PF_RESERVE)) {
                d->pf_reserve_mib = min;
                reserve_exact = false;
        } else if (!c->merged[MX_KEY_PF_RESERVE] || c->merged[MX_KEY_PF_RESERVE]->u == MX_SIZE_AUTO)
                d->pf_reserve_mib = mx_pf_reserve_default(f);
        else {
                uint64_t v = c->merged[MX_KEY_PF_RESERVE]->u;
                if (v < min || v > max) {
                        struct origin o = origin_of(c->merged[MX_KEY_PF_RESERVE], MX_KEY_PF_RESERVE, NULL);
                        err_at(c, &o, "out of range for %s (%s): use %s to %s in 16M steps, or auto", c->product,
                               c->dev, format_size(buf2, min), format_size(buf3, max));
                        d->pf_reserve_mib = min;
                        reserve_exact = false;
                } else
                        d->pf_reserve_mib = (uint32_t)v;
        }
        if (!vfs_known)
                return -EINVAL;  /* no layout without a VF count */
        layout_memory(c, d, reserve_exact);
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
        if (refused(&c, MX_KEY_ENABLED))
                return -EINVAL;  /* managed or not is unknown: no check would be right */
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

const struct mx_setting *mx_config_winner(const struct mx_config *cfg, const struct mx_card *card,
                                          const struct pci_addr *addr, int vf, enum mx_key k) {
        const struct mx_section *s[4] = {};
        if (card) {
                s[0] = mx_config_find_section(cfg, MX_SECTION_GPU_ALL, NULL, NULL, 0);
                s[1] = mx_config_find_section(cfg, MX_SECTION_GPU_MODEL, card, NULL, 0);
                s[2] = mx_config_find_section(cfg, MX_SECTION_GPU_ADDR, NULL, addr, 0);
                if (vf >= 0)
                        s[3] = mx_config_find_section(cfg, MX_SECTION_VF, NULL, addr, (unsigned)vf);
        } else
                s[0] = mx_config_find_section(cfg, MX_SECTION_DEVICE, NULL, addr, 0);
        const struct mx_setting *w = NULL;
        for (unsigned i = 0; i < ARRAY_SIZE(s); i++)
                if (s[i] && (s[i]->settings[k].set || s[i]->settings[k].invalid))
                        w = &s[i]->settings[k];
        return w;
}

static void warn_section(struct mx_diags *diags, const struct mx_section *s, const char *fmt, ...) _printf_(3, 4);
static void warn_section(struct mx_diags *diags, const struct mx_section *s, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        mx_diags_addv(diags, MX_DIAG_WARNING, s->file, s->line, NULL, NULL, NULL, fmt, ap);
        va_end(ap);
}

void mx_config_warn_unmatched(const struct mx_config *cfg, const struct mx_pf_seen *pfs, size_t n,
                              int (*vf_parent)(const struct pci_addr *vf, struct pci_addr *ret_pf),
                              struct mx_diags *diags) {
        for (size_t i = 0; i < cfg->n_sections; i++) {
                const struct mx_section *s = &cfg->sections[i];
                if (s->kind == MX_SECTION_DAEMON)
                        continue;
                char name[MX_SECTION_NAME_MAX], a[PCI_ADDR_STRLEN], p[PCI_ADDR_STRLEN];
                mx_section_name(s, name);
                pci_addr_format(&s->addr, a);
                const struct mx_pf_seen *pf = NULL;
                bool any = false;
                for (size_t k = 0; k < n; k++) {
                        if (same_addr(&pfs[k].facts->addr, &s->addr))
                                pf = &pfs[k];
                        if (s->kind == MX_SECTION_GPU_ALL ? pfs[k].facts->card != NULL : pfs[k].facts->card == s->card)
                                any = true;
                }
                switch (s->kind) {
                case MX_SECTION_GPU_ALL:
                        /* The catch-all (the packaged config has one) is for whatever cards there are; a
                         * host without one is told by the daemon's summary and mxgpuctl doctor. */
                        break;
                case MX_SECTION_GPU_MODEL:
                        if (!any)
                                warn_section(diags, s, "%s matches no PF on this host: no %s card was found; "
                                             "it applies when one appears", name, s->card->model);
                        break;
                case MX_SECTION_GPU_ADDR:
                case MX_SECTION_DEVICE:
                case MX_SECTION_VF: {
                        struct pci_addr parent;
                        if (!pf && vf_parent && vf_parent(&s->addr, &parent) >= 0) {
                                warn_section(diags, s, "%s: %s is a VF of %s, not a PF: give the PF's address; the "
                                             "section is ignored", name, a, pci_addr_format(&parent, p));
                                break;
                        }
                        if (!pf) {
                                warn_section(diags, s, "%s matches no PF on this host: no SR-IOV physical function at %s "
                                             "(mxgpuctl list shows the PFs; a VF's address is not one); it applies when "
                                             "one appears", name, a);
                                break;
                        }
                        /* A [gpu] on a generic PF and a [device] on a GPU are errors of the resolve. */
                        if (s->kind != MX_SECTION_VF || !pf->desired)
                                break;
                        if (!pf->desired->managed)
                                warn_section(diags, s, "%s: the PF %s is not managed (no [gpu] section matches it, or "
                                             "enabled = no): the section is ignored", name, a);
                        else if (pf->desired->generic)
                                warn_section(diags, s, "%s: %s is a generic SR-IOV device ([device %s]), which has no "
                                             "per-VF settings: the section is ignored", name, a, a);
                        break;
                }
                default:
                        break;
                }
        }
}
