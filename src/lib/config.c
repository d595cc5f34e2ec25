// SPDX-License-Identifier: MIT
// Load mxgpu.conf and its drop-ins with inih: sections, keys and value syntax, each setting kept with file:line.
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "mxgpu/config.h"
#include "mxgpu/gpuiov.h"
#include "mxgpu/log.h"
#include "mxgpu/names.h"
#include "mxgpu/plan.h"
#include "mxgpu/units.h"

static const struct mx_key_info keys[_MX_KEY_MAX] = {
        [MX_KEY_STATE_DIR]    = { "state_dir", MX_SCOPE_DAEMON, "an absolute path" },
        [MX_KEY_LIBVIRT_URI]  = { "libvirt_uri", MX_SCOPE_DAEMON, "a libvirt connection URI such as qemu:///system, or empty for no libvirt" },
        [MX_KEY_SOCKET]       = { "socket", MX_SCOPE_DAEMON, "an absolute path" },
        [MX_KEY_SOCKET_GROUP] = { "socket_group", MX_SCOPE_DAEMON, "a group name, or empty for root only" },
        [MX_KEY_LOG_LEVEL]    = { "log_level", MX_SCOPE_DAEMON, "err, warning, notice, info or debug (also emerg, alert, crit, error, or 0-7)" },
        [MX_KEY_UDEV]         = { "udev", MX_SCOPE_DAEMON, "yes or no" },
        [MX_KEY_RELEASE_ON_STOP] = { "release_on_stop", MX_SCOPE_DAEMON, "yes or no" },
        [MX_KEY_ENABLED]      = { "enabled", MX_SCOPE_GPU | MX_SCOPE_DEVICE, "yes or no" },
        [MX_KEY_VFS]          = { "vfs", MX_SCOPE_GPU | MX_SCOPE_DEVICE, "a number of VFs, 0 to the card's TotalVFs" },
        [MX_KEY_VF_MEMORY]    = { "vf_memory", MX_SCOPE_GPU | MX_SCOPE_VF, "auto, or a size of at least 256M in 16M steps (e.g. 2048M, 2G)" },
        [MX_KEY_TIME_SLICE]   = { "time_slice", MX_SCOPE_GPU | MX_SCOPE_VF, "1ms to 255ms in whole milliseconds (e.g. 6ms)" },
        [MX_KEY_SCHEDULER]    = { "scheduler", MX_SCOPE_GPU, "solid, liquid, fairness or round_robin, as the card supports" },
        [MX_KEY_PF_RESERVE]   = { "pf_reserve", MX_SCOPE_GPU, "auto, or a size in 16M steps within the card's range (S7150: its PF BAR0 size to 4G; V710, MI300X: 256M to 1G)" },
        [MX_KEY_PF_DRIVER]    = { "pf_driver", MX_SCOPE_GPU | MX_SCOPE_DEVICE, "pci-pf-stub or gim ([gpu]); pci-pf-stub or keep ([device])" },
        [MX_KEY_VFIO]         = { "vfio", MX_SCOPE_GPU | MX_SCOPE_DEVICE, "yes or no" },
        [MX_KEY_POOL]         = { "pool", MX_SCOPE_GPU | MX_SCOPE_DEVICE, "a name of 1-63 letters, digits, '_', '-' or '.'" },
        [MX_KEY_TAKE_OVER_HOST_DRIVER] = { "take_over_host_driver", MX_SCOPE_GPU | MX_SCOPE_DEVICE, "yes or no" },
        [MX_KEY_FB_CLEAR]     = { "fb_clear", MX_SCOPE_GPU, "yes or no" },
};

const struct mx_key_info *mx_key_info(enum mx_key k) {
        return (unsigned)k < _MX_KEY_MAX ? &keys[k] : NULL;
}

int mx_key_from_name(const char *name) {
        for (unsigned k = 0; k < _MX_KEY_MAX; k++)
                if (streq(keys[k].name, name))
                        return (int)k;
        return -EINVAL;
}

static unsigned section_scope(enum mx_section_kind kind) {
        switch (kind) {
        case MX_SECTION_DAEMON:
                return MX_SCOPE_DAEMON;
        case MX_SECTION_VF:
                return MX_SCOPE_VF;
        case MX_SECTION_DEVICE:
                return MX_SCOPE_DEVICE;
        default:
                return MX_SCOPE_GPU;
        }
}

char *mx_section_name(const struct mx_section *s, char buf[static MX_SECTION_NAME_MAX]) {
        char a[PCI_ADDR_STRLEN];
        switch (s->kind) {
        case MX_SECTION_DAEMON:
                snprintf(buf, MX_SECTION_NAME_MAX, "[daemon]");
                break;
        case MX_SECTION_GPU_ALL:
                snprintf(buf, MX_SECTION_NAME_MAX, "[gpu *]");
                break;
        case MX_SECTION_GPU_MODEL:
                snprintf(buf, MX_SECTION_NAME_MAX, "[gpu %s]", s->card->model);
                break;
        case MX_SECTION_GPU_ADDR:
                snprintf(buf, MX_SECTION_NAME_MAX, "[gpu %s]", pci_addr_format(&s->addr, a));
                break;
        case MX_SECTION_VF:
                snprintf(buf, MX_SECTION_NAME_MAX, "[vf %s %u]", pci_addr_format(&s->addr, a), s->vf_index);
                break;
        case MX_SECTION_DEVICE:
                snprintf(buf, MX_SECTION_NAME_MAX, "[device %s]", pci_addr_format(&s->addr, a));
                break;
        }
        return buf;
}

static bool addr_eq(const struct pci_addr *a, const struct pci_addr *b) {
        return a->domain == b->domain && a->bus == b->bus && a->dev == b->dev && a->fn == b->fn;
}

const struct mx_section *mx_config_find_section(const struct mx_config *cfg, enum mx_section_kind kind,
                                                const struct mx_card *card, const struct pci_addr *addr,
                                                unsigned vf_index) {
        for (size_t i = 0; i < cfg->n_sections; i++) {
                const struct mx_section *s = &cfg->sections[i];
                if (s->kind != kind)
                        continue;
                switch (kind) {
                case MX_SECTION_GPU_MODEL:
                        if (s->card == card)
                                return s;
                        break;
                case MX_SECTION_GPU_ADDR:
                case MX_SECTION_DEVICE:
                        if (addr_eq(&s->addr, addr))
                                return s;
                        break;
                case MX_SECTION_VF:
                        if (addr_eq(&s->addr, addr) && s->vf_index == vf_index)
                                return s;
                        break;
                default:
                        return s;
                }
        }
        return NULL;
}

static void section_free(struct mx_section *s) {
        for (unsigned k = 0; k < _MX_KEY_MAX; k++)
                free(s->settings[k].raw);
}

void mx_config_free(struct mx_config *cfg) {
        if (!cfg)
                return;
        for (size_t i = 0; i < cfg->n_sections; i++)
                section_free(&cfg->sections[i]);
        free(cfg->sections);
        for (size_t i = 0; i < cfg->n_files; i++)
                free(cfg->files[i]);
        free(cfg->files);
        free(cfg);
}

/* Daemon settings from the [daemon] section, defaults for what it leaves out. */
static void config_fill_daemon(struct mx_config *cfg) {
        const struct mx_section *d = mx_config_find_section(cfg, MX_SECTION_DAEMON, NULL, NULL, 0);
        const struct mx_setting *st = d ? d->settings : NULL;
        cfg->daemon = (struct mx_daemon_config){
                .state_dir = st && st[MX_KEY_STATE_DIR].set ? st[MX_KEY_STATE_DIR].raw : DEFAULT_STATE_DIR,
                .libvirt_uri = st && st[MX_KEY_LIBVIRT_URI].set ? st[MX_KEY_LIBVIRT_URI].raw : DEFAULT_LIBVIRT_URI,
                .socket_path = st && st[MX_KEY_SOCKET].set ? st[MX_KEY_SOCKET].raw : DEFAULT_SOCKET,
                .socket_group = st && st[MX_KEY_SOCKET_GROUP].set && *st[MX_KEY_SOCKET_GROUP].raw
                                        ? st[MX_KEY_SOCKET_GROUP].raw : NULL,
                .log_level = st && st[MX_KEY_LOG_LEVEL].set ? (int)st[MX_KEY_LOG_LEVEL].u : LOG_INFO,
                .udev = st && st[MX_KEY_UDEV].set ? st[MX_KEY_UDEV].u != 0 : true,
                .release_on_stop = st && st[MX_KEY_RELEASE_ON_STOP].set && st[MX_KEY_RELEASE_ON_STOP].u != 0,
        };
}

int mx_config_new_default(struct mx_config **ret) {
        struct mx_config *cfg = calloc(1, sizeof(*cfg));
        if (!cfg)
                return -ENOMEM;
        config_fill_daemon(cfg);
        *ret = cfg;
        return 0;
}

/* --- loading --- */

struct load_ctx {
        struct mx_config *cfg;
        struct mx_diags *diags;
        size_t n_errors;             /* errors of this load, even when diags is NULL */
        int oom;
        FILE *f;
        const char *file;            /* the one in cfg->files */
        unsigned lineno;
        struct mx_section *current;  /* NULL: before any section, or in a broken one */
        bool in_bad_section;
        bool incomplete;             /* a line or file was not understood: the config is not all there */
        unsigned n_lines, n_sections;  /* of this file: lines with text, section headers */
        int read_errno;
        char *line;                  /* getline buffer */
        size_t line_size;
};

/* A diagnostic at the current line; an error also counts toward the load's failure. */
static void diag_at_line(struct load_ctx *c, enum mx_severity sev, const char *key, const char *value, const char *fmt,
                         va_list ap) {
        if (mx_diags_addv(c->diags, sev, c->file, c->lineno, key, value, NULL, fmt, ap) < 0)
                c->oom = -ENOMEM;
        if (sev == MX_DIAG_ERROR)
                c->n_errors++;
}

static void problem(struct load_ctx *c, const char *key, const char *value, const char *fmt, ...) _printf_(4, 5);
static void problem(struct load_ctx *c, const char *key, const char *value, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        diag_at_line(c, MX_DIAG_ERROR, key, value, fmt, ap);
        va_end(ap);
}

static struct mx_section *section_get(struct load_ctx *c, const struct mx_section *id) {
        struct mx_config *cfg = c->cfg;
        struct mx_section *s = (struct mx_section *)mx_config_find_section(cfg, id->kind, id->card, &id->addr, id->vf_index);
        if (s)
                return s;
        struct mx_section *n = realloc(cfg->sections, (cfg->n_sections + 1) * sizeof(*n));
        if (!n) {
                c->oom = -ENOMEM;
                return NULL;
        }
        cfg->sections = n;
        s = &cfg->sections[cfg->n_sections++];
        *s = *id;
        s->file = c->file;
        s->line = c->lineno;
        memset(s->settings, 0, sizeof(s->settings));
        return s;
}

static int parse_address_arg(struct load_ctx *c, const char *section, const char *arg, struct pci_addr *ret) {
        if (pci_addr_parse(arg, ret) < 0) {
                problem(c, NULL, NULL, "[%s]: \"%s\" is not a PCI address: use DDDD:BB:DD.F in hex, e.g. 0000:03:00.0",
                        section, arg);
                return -EINVAL;
        }
        return 0;
}

static const char *models_help(void) {
        static char buf[256];
        if (!buf[0]) {
                size_t o = 0;
                for (unsigned i = 0; mx_card_nth(i); i++)
                        o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? ", " : "", mx_card_nth(i)->model);
                snprintf(buf + o, sizeof(buf) - o, ", s7150x2");
        }
        return buf;
}

/* "[...]" with the brackets removed: find the section's identity; NULL with a problem when bad. */
static struct mx_section *section_header(struct load_ctx *c, char *name) {
        char *tok[4];
        unsigned n = 0;
        _cleanup_free_ char *copy = strdup(name);
        if (!copy) {
                c->oom = -ENOMEM;
                return NULL;
        }
        for (char *save = NULL, *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
                if (n == ARRAY_SIZE(tok)) {
                        n++;
                        break;
                }
                tok[n++] = t;
        }
        struct mx_section id = {};
        if (n == 1 && streq(tok[0], "daemon"))
                id.kind = MX_SECTION_DAEMON;
        else if (n == 2 && streq(tok[0], "gpu")) {
                if (streq(tok[1], "*"))
                        id.kind = MX_SECTION_GPU_ALL;
                else if (strchr(tok[1], ':') || strchr(tok[1], '.')) {
                        if (parse_address_arg(c, name, tok[1], &id.addr) < 0)
                                return NULL;
                        id.kind = MX_SECTION_GPU_ADDR;
                } else if ((id.card = mx_card_by_model(tok[1])))
                        id.kind = MX_SECTION_GPU_MODEL;
                else {
                        problem(c, NULL, NULL, "[%s]: unknown card model \"%s\": use *, a model (%s) or a PCI address",
                                name, tok[1], models_help());
                        return NULL;
                }
        } else if (n == 3 && streq(tok[0], "vf")) {
                uint64_t idx;
                if (parse_address_arg(c, name, tok[1], &id.addr) < 0)
                        return NULL;
                if (parse_uint(tok[2], MX_VF_INDEX_MAX, &idx) < 0) {
                        problem(c, NULL, NULL, "[%s]: \"%s\" is not a VF index: use a number from 0 (VF 0) to %u",
                                name, tok[2], MX_VF_INDEX_MAX);
                        return NULL;
                }
                id.kind = MX_SECTION_VF;
                id.vf_index = (unsigned)idx;
        } else if (n == 2 && streq(tok[0], "device")) {
                if (parse_address_arg(c, name, tok[1], &id.addr) < 0)
                        return NULL;
                id.kind = MX_SECTION_DEVICE;
        } else {
                problem(c, NULL, NULL, "unknown section [%s]: use [daemon], [gpu *], [gpu MODEL], [gpu ADDRESS], "
                        "[vf ADDRESS N] or [device ADDRESS]", name);
                return NULL;
        }
        /* The same address cannot be both a managed GPU and a generic device. */
        if (id.kind == MX_SECTION_GPU_ADDR || id.kind == MX_SECTION_DEVICE) {
                enum mx_section_kind other = id.kind == MX_SECTION_GPU_ADDR ? MX_SECTION_DEVICE : MX_SECTION_GPU_ADDR;
                const struct mx_section *o = mx_config_find_section(c->cfg, other, NULL, &id.addr, 0);
                if (o) {
                        char buf[MX_SECTION_NAME_MAX];
                        problem(c, NULL, NULL, "[%s] conflicts with %s at %s:%u: an address is either a gpu or a device",
                                name, mx_section_name(o, buf), o->file, o->line);
                        return NULL;
                }
        }
        return section_get(c, &id);
}

/* The largest vf_memory (a card's memory) or pf_reserve any card allows: larger values are refused by syntax. */
static uint64_t cards_max(enum mx_key k) {
        uint64_t max = 0;
        for (unsigned i = 0; mx_card_nth(i); i++)
                max = MAX(max, (uint64_t)(k == MX_KEY_VF_MEMORY ? mx_card_nth(i)->mem_mib : mx_card_nth(i)->pf_reserve_max));
        return max;
}

static bool valid_name(const char *s, size_t max, bool allow_dot) {
        size_t n = strlen(s);
        if (n == 0 || n >= max)
                return false;
        for (const char *p = s; *p; p++)
                if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-' && !(allow_dot && *p == '.'))
                        return false;
        return true;
}

/* Check the value's syntax for this key; on success *ret holds the parsed form. */
static int parse_value(struct load_ctx *c, const struct mx_section *s, enum mx_key k, const char *value, uint64_t *ret) {
        const char *name = keys[k].name, *err = NULL;
        char big[FORMAT_SIZE_MAX];
        uint64_t v = 0;
        bool b;
        int r;
        switch (k) {
        case MX_KEY_STATE_DIR:
        case MX_KEY_SOCKET:
                if (value[0] != '/') {
                        problem(c, name, value, "not an absolute path: use a path that starts with /");
                        return -EINVAL;
                }
                break;
        case MX_KEY_LIBVIRT_URI:
                /* Empty: no libvirt at all (the daemon never loads it). */
                if (*value && (!strstr(value, ":") || strchr(value, ' '))) {
                        problem(c, name, value, "not a libvirt URI: use e.g. qemu:///system, or leave it empty for no libvirt");
                        return -EINVAL;
                }
                break;
        case MX_KEY_SOCKET_GROUP:
                if (*value && (!valid_name(value, 33, true) || value[0] == '-')) {
                        problem(c, name, value, "not a group name: use letters, digits, '_', '-', '.' (at most 32), "
                                "or leave it empty for root only");
                        return -EINVAL;
                }
                break;
        case MX_KEY_LOG_LEVEL:
                r = mx_log_parse_level(value);
                if (r < 0) {
                        problem(c, name, value, "unknown log level: use err, warning, notice, info or debug (also emerg, "
                                "alert, crit, error, or a number 0-7), in lower case");
                        return -EINVAL;
                }
                v = (uint64_t)r;
                break;
        case MX_KEY_UDEV:
        case MX_KEY_RELEASE_ON_STOP:
        case MX_KEY_ENABLED:
        case MX_KEY_VFIO:
        case MX_KEY_TAKE_OVER_HOST_DRIVER:
        case MX_KEY_FB_CLEAR:
                if (parse_bool(value, &b) < 0) {
                        problem(c, name, value, "not a boolean: use yes or no (also true/false, on/off, 1/0)");
                        return -EINVAL;
                }
                v = b;
                break;
        case MX_KEY_VFS:
                r = parse_uint(value, UINT16_MAX, &v);
                if (r < 0) {
                        problem(c, name, value, "%s: use a whole number of VFs from 0 to the card's TotalVFs (at most %u "
                                "on any PF mxgpud manages)", r == -ERANGE ? "too many VFs" : "not a whole number",
                                MX_MAX_VFS);
                        return -EINVAL;
                }
                break;
        case MX_KEY_VF_MEMORY:
        case MX_KEY_PF_RESERVE:
                if (strcasecmp(value, "auto") == 0) {
                        v = MX_SIZE_AUTO;
                        break;
                }
                r = parse_size_mib(value, &v, &err);
                /* Larger than any card is refused by the card's check, with its range; only what cannot
                 * even be held (4096T) stops here */
                if (r == -ERANGE || (r >= 0 && v > UINT32_MAX)) {
                        format_size(big, cards_max(k));
                        if (k == MX_KEY_VF_MEMORY)
                                problem(c, name, value, "too large: a VF has at least 256M and at most what its card "
                                        "has free, in 16M steps (no card has more than %s), or auto", big);
                        else
                                problem(c, name, value, "too large: no card allows a PF reserve above %s: use auto, or "
                                        "S7150: its PF BAR0 size to 4G, V710, MI300X: 256M to 1G, in 16M steps", big);
                        return -EINVAL;
                }
                if (r < 0) {
                        problem(c, name, value, "%s (or auto)", err);
                        return -EINVAL;
                }
                if (k == MX_KEY_VF_MEMORY && (v < FB_MIN_VF_MIB || v % FB_ALIGN_MIB)) {
                        problem(c, name, value, "a VF needs at least %uM in steps of %uM (e.g. 256M, 480M, 2G), or auto",
                                FB_MIN_VF_MIB, FB_ALIGN_MIB);
                        return -EINVAL;
                }
                if (k == MX_KEY_PF_RESERVE && (v == 0 || v % FB_ALIGN_MIB)) {
                        problem(c, name, value, "%s: use auto, or a multiple of %uM within the card's range (S7150: its "
                                "PF BAR0 size to 4G; V710, MI300X: 256M to 1G)",
                                v == 0 ? "the PF reserve cannot be 0" : "not a multiple of 16M", FB_ALIGN_MIB);
                        return -EINVAL;
                }
                break;
        case MX_KEY_TIME_SLICE:
                /* The hardware's limits in every message: a generic "use a smaller unit" would suggest 1500us. */
                r = parse_time_us(value, &v, &err);
                if (r == -ERANGE || (r >= 0 && (v < 1000 || v > SCH_QUANTUM_MAX_MS * 1000ull))) {
                        problem(c, name, value, "out of range: use 1ms to %ums in whole milliseconds", SCH_QUANTUM_MAX_MS);
                        return -EINVAL;
                }
                if (r < 0) {
                        problem(c, name, value, "%s; a time slice is 1ms to %ums in whole milliseconds (e.g. 6ms)", err,
                                SCH_QUANTUM_MAX_MS);
                        return -EINVAL;
                }
                if (v % 1000) {
                        problem(c, name, value, "the hardware scheduler counts whole milliseconds: use 1ms to %ums, "
                                "e.g. %llums", SCH_QUANTUM_MAX_MS, (unsigned long long)(v / 1000 ? v / 1000 : 1));
                        return -EINVAL;
                }
                break;
        case MX_KEY_SCHEDULER: {
                /* Which of these the PF's card runs is checked per PF (plan.c), where the card is known. */
                int m = gpuiov_sched_mode_from_name(value);
                if (m == GPUIOV_SCHED_HYBRID) {
                        problem(c, name, value, "no supported card runs GIM8's hybrid policy: use solid, liquid, "
                                "fairness or round_robin, as the card supports");
                        return -EINVAL;
                }
                if (m < 0) {
                        problem(c, name, value, "unknown scheduler: use solid (idle VFs keep their slot), liquid "
                                "(idle VFs are skipped), fairness or round_robin (software policies), as the card "
                                "supports");
                        return -EINVAL;
                }
                v = (uint64_t)m;
                break;
        }
        case MX_KEY_PF_DRIVER:
                if (strcasecmp(value, DRV_PCI_PF_STUB) == 0)
                        v = MX_PF_DRIVER_PCI_PF_STUB;
                else if (s->kind != MX_SECTION_DEVICE && strcasecmp(value, DRV_GIM) == 0)
                        v = MX_PF_DRIVER_GIM;
                else if (s->kind == MX_SECTION_DEVICE && strcasecmp(value, "keep") == 0)
                        v = MX_PF_DRIVER_KEEP;
                else {
                        problem(c, name, value, "unknown PF driver: use %s", s->kind == MX_SECTION_DEVICE
                                ? "pci-pf-stub or keep (the bound driver stays; it must support SR-IOV)"
                                : "pci-pf-stub or gim (the vendor's PF driver owns SR-IOV)");
                        return -EINVAL;
                }
                break;
        case MX_KEY_POOL:
                if (!valid_name(value, MX_POOL_NAME_MAX, true)) {
                        problem(c, name, value, "not a pool name: use 1-%u letters, digits, '_', '-' or '.'",
                                MX_POOL_NAME_MAX - 1);
                        return -EINVAL;
                }
                break;
        case _MX_KEY_MAX:
                break;
        }
        *ret = v;
        return 0;
}

static const char *scope_sections(unsigned scopes) {
        switch (scopes) {
        case MX_SCOPE_DAEMON:
                return "[daemon]";
        case MX_SCOPE_GPU:
                return "[gpu]";
        case MX_SCOPE_GPU | MX_SCOPE_VF:
                return "[gpu] and [vf]";
        case MX_SCOPE_GPU | MX_SCOPE_DEVICE:
                return "[gpu] and [device]";
        default:
                return "other sections";
        }
}

static void warn(struct load_ctx *c, const char *key, const char *value, const char *fmt, ...) _printf_(4, 5);
static void warn(struct load_ctx *c, const char *key, const char *value, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        diag_at_line(c, MX_DIAG_WARNING, key, value, fmt, ap);
        va_end(ap);
}

/* inih calls this for every key = value; the section comes from our own reading of the header. */
static int on_key(void *user, const char *section, const char *name, const char *value) {
        struct load_ctx *c = user;
        if (c->in_bad_section)
                return 1;  /* the header was reported; its keys would only add noise */
        if (!c->current) {
                problem(c, name, value, "a key outside any section: put it below [daemon], [gpu ...], [vf ...] or [device ...]");
                return 1;
        }
        int k = mx_key_from_name(name);
        char sbuf[MX_SECTION_NAME_MAX];
        mx_section_name(c->current, sbuf);
        unsigned scope = section_scope(c->current->kind);
        if (k < 0) {
                /* Say which keys this section knows, to make typos obvious. */
                char known[512];
                size_t o = 0;
                for (unsigned i = 0; i < _MX_KEY_MAX; i++)
                        if (keys[i].scopes & scope)
                                o += (size_t)snprintf(known + o, sizeof(known) - o, "%s%s", o ? ", " : "", keys[i].name);
                problem(c, name, value, "unknown key in %s: known keys are %s", sbuf, known);
                return 1;
        }
        if (!(keys[k].scopes & scope)) {
                problem(c, name, value, "not allowed in %s: %s belongs in %s", sbuf, name, scope_sections(keys[k].scopes));
                return 1;
        }
        struct mx_setting *st = &c->current->settings[k];
        /* Twice in one file is a leftover of an edit more often than a choice: the reader should know
         * which line counts. Across files, overriding is what drop-ins are for. */
        if ((st->set || st->invalid) && st->file == c->file)
                warn(c, name, value, "%s is set again in %s of this file (first at line %u, %s = %s); this later "
                     "line wins: remove one of them", name, sbuf, st->line, name, st->raw ? st->raw : "?");
        uint64_t v;
        char *raw = strdup(value);
        if (!raw) {
                c->oom = -ENOMEM;
                return 0;
        }
        free(st->raw);
        if (parse_value(c, c->current, (enum mx_key)k, value, &v) < 0) {
                /* Kept as invalid: it hides what earlier files said, so later checks neither use an older
                 * value nor a default in its place. */
                *st = (struct mx_setting){ .invalid = true, .raw = raw, .file = c->file, .line = c->lineno };
                return 1;
        }
        *st = (struct mx_setting){ .set = true, .raw = raw, .file = c->file, .line = c->lineno, .u = v };
        return 1;
}

/* Cut a comment that follows the text: ';' or '#' after a blank (a value such as qemu:///system#x or
 * a;b keeps its character). Every key gets the same rule, so "vfs = 4 # four" is 4. */
static char *strip_inline_comment(char *s) {
        for (char *p = s; *p; p++)
                if ((*p == ';' || *p == '#') && (p == s || isspace((unsigned char)p[-1]))) {
                        *p = 0;
                        break;
                }
        size_t len = strlen(s);
        while (len > 0 && isspace((unsigned char)s[len - 1]))
                s[--len] = 0;
        return s;
}

/* A line inih is not given: reported, and the rest of the file still read. A line whose meaning is
 * unknown leaves the config incomplete: no check against the cards then, it could only mislead. */
static char *skip_line(struct load_ctx *c, char *str, int num) {
        c->incomplete = true;
        snprintf(str, (size_t)num, "\n");
        return str;
}

/* Bytes no config needs and that would cut a line short (NUL), reach a terminal (controls) or be
 * read differently by another tool (not UTF-8). Returns false after reporting the first one. */
static bool check_bytes(struct load_ctx *c, const char *l, size_t n) {
        for (size_t i = 0; i < n;) {
                unsigned char b = (unsigned char)l[i];
                if (b == 0) {
                        problem(c, NULL, NULL, "a NUL byte at column %zu: a config file is text; remove it", i + 1);
                        return false;
                }
                size_t len = mx_utf8_char_len(l + i);
                if (len == 0 || i + len > n) {
                        problem(c, NULL, NULL, "byte 0x%02x at column %zu is not UTF-8: save the file as UTF-8 (or ASCII)",
                                b, i + 1);
                        return false;
                }
                if ((b < 0x20 && b != '\t' && !(b == '\n' && i == n - 1) && !(b == '\r' && i >= n - 2)) || b == 0x7f) {
                        problem(c, NULL, NULL, "a control character (0x%02x) at column %zu: not allowed in a config file",
                                b, i + 1);
                        return false;
                }
                i += len;
        }
        return true;
}

/* inih's reader: hands inih one line at a time, so our line count is inih's. Section headers, comments
 * and lines inih would reject are handled here, so that every problem is reported, not the first. */
static char *read_line(char *str, int num, void *stream) {
        struct load_ctx *c = stream;
        for (;;) {
                errno = 0;
                ssize_t n = getline(&c->line, &c->line_size, c->f);
                if (n < 0) {
                        c->read_errno = errno;
                        return NULL;
                }
                c->lineno++;
                char *l = c->line;
                if (!check_bytes(c, l, (size_t)n))
                        return skip_line(c, str, num);
                if (c->lineno == 1 && strncmp(l, "\xef\xbb\xbf", 3) == 0)
                        l += 3;
                while (isspace((unsigned char)*l))
                        l++;  /* no continuation lines: inih would glue an indented line to the last key */
                size_t len = strlen(l);
                while (len > 0 && isspace((unsigned char)l[len - 1]))
                        l[--len] = 0;
                if (len == 0 || l[0] == ';' || l[0] == '#') {
                        snprintf(str, (size_t)num, "\n");
                        return str;
                }
                c->n_lines++;
                if (l[0] == '[') {
                        char *end = strchr(l, ']');
                        c->current = NULL;
                        c->in_bad_section = true;
                        c->n_sections++;
                        if (!end) {
                                problem(c, NULL, NULL, "\"%s\": a section header needs a closing ]", l);
                        } else {
                                char *rest = strip_inline_comment(end + 1);
                                while (isspace((unsigned char)*rest))
                                        rest++;
                                *end = 0;
                                if (*rest)
                                        problem(c, NULL, NULL, "\"[%s]%s\": text after a section header", l + 1, rest);
                                else if ((c->current = section_header(c, l + 1)))
                                        c->in_bad_section = false;
                        }
                        if (c->in_bad_section)
                                return skip_line(c, str, num);
                        snprintf(str, (size_t)num, "\n");
                        return str;
                }
                strip_inline_comment(l);
                len = strlen(l);
                /* inih also splits at ':'; the format is key = value, and one delimiter keeps it so */
                char *eq = strpbrk(l, "=:");
                if (!eq || eq == l) {
                        problem(c, NULL, NULL, "\"%s\": not a section header or key = value", l);
                        return skip_line(c, str, num);
                }
                char key[64];
                size_t klen = (size_t)(eq - l);
                while (klen > 0 && isspace((unsigned char)l[klen - 1]))
                        klen--;
                snprintf(key, sizeof(key), "%.*s", (int)MIN(klen, sizeof(key) - 1), l);
                if (*eq == ':') {
                        problem(c, key, NULL, "\"%s\": write key = value; ':' does not separate a key from its value", l);
                        return skip_line(c, str, num);
                }
                /* inih's buffer holds num bytes: the line, its newline and a NUL */
                if (len + 2 > (size_t)num) {
                        problem(c, key, NULL, "the line is %zu characters long; at most %d are allowed, not counting "
                                "blanks at either end and a trailing comment", len, num - 2);
                        return skip_line(c, str, num);
                }
                snprintf(str, (size_t)num, "%s\n", l);
                return str;
        }
}

static int config_add_file(struct mx_config *cfg, const char *path, const char **ret) {
        char **n = realloc(cfg->files, (cfg->n_files + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        cfg->files = n;
        if (!(cfg->files[cfg->n_files] = strdup(path)))
                return -ENOMEM;
        *ret = cfg->files[cfg->n_files++];
        return 0;
}

static int load_file(struct load_ctx *c, const char *path, FILE *f) {
        int r = config_add_file(c->cfg, path, &c->file);
        if (r < 0)
                return r;
        c->f = f;
        c->lineno = 0;
        c->current = NULL;
        c->in_bad_section = false;
        c->n_lines = c->n_sections = 0;
        c->read_errno = 0;
        size_t errors_before = c->n_errors;
        r = ini_parse_stream(read_line, c, on_key, c);
        if (c->oom)
                return c->oom;
        if (r == -2)
                return -ENOMEM;
        if (r != 0) {
                /* Our reader hands inih only lines it accepts; this is a safety net. */
                c->lineno = (unsigned)(r > 0 ? r : 0);
                c->incomplete = true;
                problem(c, NULL, NULL, "cannot parse this line");
        }
        if (ferror(f)) {
                c->lineno = 0;
                c->incomplete = true;
                problem(c, NULL, NULL, "read error: %s", strerror(c->read_errno ? c->read_errno : EIO));
                return 0;
        }
        if (c->n_sections == 0 && c->n_lines == 0 && c->n_errors == errors_before) {
                c->lineno = 0;
                warn(c, NULL, NULL, "no section and no key: this file configures nothing");
        }
        return 0;
}

static int conf_filter(const struct dirent *de) {
        size_t n = strlen(de->d_name);
        return de->d_name[0] != '.' && n > 5 && streq(de->d_name + n - 5, ".conf");
}

static int by_name(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Open path for reading, or the text that stands in for it (opts->replace_*). NULL with errno set;
 * *ret_skip when the stand-in says the file is gone. */
static FILE *open_source(const char *path, const struct mx_config_load_opts *o, bool *ret_skip) {
        *ret_skip = false;
        if (o && o->replace_path && streq(path, o->replace_path)) {
                if (!o->replace_text) {
                        *ret_skip = true;
                        return NULL;
                }
                /* fmemopen() refuses an empty buffer on older C libraries; a blank line reads the same */
                const char *t = *o->replace_text ? o->replace_text : "\n";
                return fmemopen((void *)t, strlen(t), "r");
        }
        return fopen(path, "re");
}

/* The names of the drop-ins in dir, sorted, with the stand-in file added when it is new. */
static int list_dropins(const char *dir, const struct mx_config_load_opts *o, char ***ret, size_t *ret_n) {
        struct dirent **de = NULL;
        size_t dl = strlen(dir);
        const char *rp = o ? o->replace_path : NULL;
        bool stand_in = rp && o->replace_text && strncmp(rp, dir, dl) == 0 && rp[dl] == '/' && !strchr(rp + dl + 1, '/');
        int n = scandir(dir, &de, conf_filter, NULL);
        if (n < 0 && !(errno == ENOENT && stand_in))  /* the folder the stand-in would create */
                return negative_errno();
        n = MAX(n, 0);
        char **names = calloc((size_t)n + 1, sizeof(char *));
        size_t k = 0;
        int r = names ? 0 : -ENOMEM;
        for (int i = 0; i < n; i++) {
                if (r == 0 && !(names[k++] = strdup(de[i]->d_name)))
                        r = -ENOMEM;
                free(de[i]);
        }
        free(de);
        if (r == 0 && stand_in) {
                bool have = false;
                for (size_t i = 0; i < k; i++)
                        have = have || streq(names[i], rp + dl + 1);
                if (!have && !(names[k++] = strdup(rp + dl + 1)))
                        r = -ENOMEM;
        }
        if (r < 0) {
                for (size_t i = 0; names && i < k; i++)
                        free(names[i]);
                free(names);
                return r;
        }
        qsort(names, k, sizeof(char *), by_name);
        *ret = names;
        *ret_n = k;
        return 0;
}

int mx_config_load(const char *main_path, const char *dropin_dir, struct mx_config **ret, struct mx_diags *diags) {
        return mx_config_load_opts(main_path, dropin_dir, NULL, ret, diags);
}

int mx_config_load_opts(const char *main_path, const char *dropin_dir, const struct mx_config_load_opts *opts,
                        struct mx_config **ret, struct mx_diags *diags) {
        _cleanup_(mx_config_freep) struct mx_config *cfg = calloc(1, sizeof(*cfg));
        if (!cfg)
                return -ENOMEM;
        struct load_ctx c = { .cfg = cfg, .diags = diags };
        char **names = NULL;
        size_t n_names = 0;
        int r = 0;
        bool skip;

        if (dropin_dir) {
                r = list_dropins(dropin_dir, opts, &names, &n_names);
                if (r == -ENOENT && !(opts && opts->dropin_dir_required))
                        r = 0;  /* the default folder may be absent */
                else if (r == -ENOENT || r == -ENOTDIR) {
                        mx_diags_add(diags, MX_DIAG_ERROR, dropin_dir, 0, NULL, NULL, NULL, "%s: the drop-in folder must be "
                                     "a directory of *.conf files", r == -ENOENT ? "no such directory" : "not a directory");
                        r = -EINVAL;
                        goto out;
                } else if (r < 0) {
                        mx_diags_add(diags, MX_DIAG_ERROR, dropin_dir, 0, NULL, NULL, NULL,
                                     "cannot read the drop-in directory: %s", strerror(-r));
                        goto out;
                }
        }
        if (main_path) {
                _cleanup_fclose_ FILE *f = open_source(main_path, opts, &skip);
                struct stat st;
                if (f && fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
                        mx_diags_add(diags, MX_DIAG_ERROR, main_path, 0, NULL, NULL, NULL, "is a directory: give the main "
                                     "config file; drop-ins go in %s", dropin_dir ? dropin_dir : "the drop-in folder");
                        r = -EINVAL;
                        goto out;
                }
                if (!f) {
                        int e = skip ? -ENOENT : negative_errno();
                        if (e != -ENOENT || n_names == 0) { /* a missing main file is fine beside drop-ins */
                                if (e == -ENOENT)
                                        mx_diags_add(diags, MX_DIAG_ERROR, main_path, 0, NULL, NULL, NULL,
                                                     "cannot open: no such file, and no drop-in file in %s either: "
                                                     "write a config, see mxgpu.conf(5)",
                                                     dropin_dir ? dropin_dir : "a drop-in folder");
                                else
                                        mx_diags_add(diags, MX_DIAG_ERROR, main_path, 0, NULL, NULL, NULL,
                                                     "cannot open: %s", strerror(-e));
                                r = e;
                                goto out;
                        }
                } else if ((r = load_file(&c, main_path, f)) < 0)
                        goto out;
        } else if (n_names == 0) {
                mx_diags_add(diags, MX_DIAG_ERROR, dropin_dir, 0, NULL, NULL, NULL, "no configuration file found");
                r = -ENOENT;
                goto out;
        }
        for (size_t i = 0; i < n_names; i++) {
                _cleanup_free_ char *path = NULL;
                if (asprintf(&path, "%s/%s", dropin_dir, names[i]) < 0) {
                        r = -ENOMEM;
                        goto out;
                }
                _cleanup_fclose_ FILE *f = open_source(path, opts, &skip);
                if (skip)
                        continue;
                if (!f) {
                        int e = negative_errno();
                        c.n_errors++;
                        c.incomplete = true;
                        mx_diags_add(diags, MX_DIAG_ERROR, path, 0, NULL, NULL, NULL, "cannot open: %s", strerror(-e));
                        continue;
                }
                struct stat st;
                if (fstat(fileno(f), &st) == 0 && !S_ISREG(st.st_mode))
                        continue;  /* a directory named *.conf is not a drop-in */
                if ((r = load_file(&c, path, f)) < 0)
                        goto out;
        }
        config_fill_daemon(cfg);
        r = c.n_errors ? -EINVAL : 0;
        /* What could be read, for the checks against the cards: one bad value does not hide the rest */
        if (r == -EINVAL && !c.incomplete && opts && opts->ret_partial)
                *opts->ret_partial = TAKE_PTR(cfg);
out:
        for (size_t i = 0; i < n_names; i++)
                free(names[i]);
        free(names);
        free(c.line);
        if (r == 0)
                *ret = TAKE_PTR(cfg);
        return r;
}

/* --- copies and settings from outside the files (the daemon's live overrides) --- */

int mx_config_copy(const struct mx_config *src, struct mx_config **ret) {
        _cleanup_(mx_config_freep) struct mx_config *cfg = calloc(1, sizeof(*cfg));
        if (!cfg)
                return -ENOMEM;
        if (src->n_files) {
                cfg->files = calloc(src->n_files, sizeof(char *));
                if (!cfg->files)
                        return -ENOMEM;
                for (; cfg->n_files < src->n_files; cfg->n_files++)
                        if (!(cfg->files[cfg->n_files] = strdup(src->files[cfg->n_files])))
                                return -ENOMEM;
        }
        if (src->n_sections) {
                cfg->sections = calloc(src->n_sections, sizeof(*cfg->sections));
                if (!cfg->sections)
                        return -ENOMEM;
        }
        /* file pointers point into files[]: each maps to the copy's string of the same index */
        for (size_t i = 0; i < src->n_sections; i++) {
                struct mx_section *s = &cfg->sections[i];
                *s = src->sections[i];
                memset(s->settings, 0, sizeof(s->settings));
                cfg->n_sections++;
                for (size_t f = 0; f < src->n_files; f++)
                        if (s->file == src->files[f])
                                s->file = cfg->files[f];
                for (unsigned k = 0; k < _MX_KEY_MAX; k++) {
                        const struct mx_setting *from = &src->sections[i].settings[k];
                        if (!from->set && !from->invalid)
                                continue;
                        s->settings[k] = *from;
                        if (from->raw && !(s->settings[k].raw = strdup(from->raw)))
                                return -ENOMEM;
                        for (size_t f = 0; f < src->n_files; f++)
                                if (from->file == src->files[f])
                                        s->settings[k].file = cfg->files[f];
                }
        }
        config_fill_daemon(cfg);
        *ret = TAKE_PTR(cfg);
        return 0;
}

int mx_config_set(struct mx_config *cfg, enum mx_section_kind kind, const struct pci_addr *addr, unsigned vf_index,
                  enum mx_key k, const char *value, const char *origin, struct mx_diags *diags) {
        if ((unsigned)k >= _MX_KEY_MAX || kind == MX_SECTION_GPU_MODEL || kind == MX_SECTION_GPU_ALL)
                return -EINVAL;
        struct load_ctx c = { .cfg = cfg, .diags = diags };
        for (size_t f = 0; f < cfg->n_files && !c.file; f++)
                if (streq(cfg->files[f], origin))
                        c.file = cfg->files[f];
        int r = c.file ? 0 : config_add_file(cfg, origin, &c.file);
        if (r < 0)
                return r;
        struct mx_section id = { .kind = kind, .vf_index = vf_index };
        if (addr)
                id.addr = *addr;
        if (!(keys[k].scopes & section_scope(kind)))
                return -EINVAL;
        struct mx_section *s = section_get(&c, &id);
        if (!s)
                return c.oom ?: -ENOMEM;
        uint64_t v;
        if (parse_value(&c, s, k, value, &v) < 0)
                return c.oom ?: -EINVAL;
        char *raw = strdup(value);
        if (!raw)
                return -ENOMEM;
        struct mx_setting *st = &s->settings[k];
        free(st->raw);
        *st = (struct mx_setting){ .set = true, .raw = raw, .file = c.file, .line = 0, .u = v };
        config_fill_daemon(cfg);
        return 0;
}
