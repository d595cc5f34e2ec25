// SPDX-License-Identifier: MIT
// The host model: presets and INI host files become PCI functions behind root ports and switches.
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "card.h"
#include "mxgpu/cards.h"
#include "mxgpu/log.h"
#include "sim.h"

#define MiB (1024ull * 1024)
#define GiB (1024 * MiB)
#define MAX_BOARDS 30          /* root ports 00:02.0 .. 00:1f.0 */
#define BUSES_PER_BOARD 4      /* BIOS-style bus padding per slot: fixed addresses for presets */
/* hotplug_driver values besides SIM_HOTPLUG_PROBE, DRVI_NONE and a driver */
#define HOTPLUG_SAME (-3)      /* the PF's `driver =` */
#define HOTPLUG_UNSET (-4)     /* not given for the PF: the [host] value */

/* One PF as configured by a preset or a host file section. */
struct pf_conf {
        char model[32];
        uint16_t vendor, device, vf_device, subvendor, subdevice;
        uint32_t class;
        unsigned total_vfs;
        uint32_t memory_mib;
        uint64_t bar0, vf_bar0, vf_bar2;
        enum gpuiov_layout layout;
        int driver;
        int hotplug_driver;     /* bound when a rescan brings the PF back */
        int numa_node;
        uint16_t vf_offset, vf_stride;
};

/* A board in one slot: one PF behind a root port, or two behind a PCIe switch (S7150x2). */
struct board_conf {
        struct pf_conf pfs[2];
        unsigned n_pfs;
        bool explicit_addr;
        struct pci_addr addr;   /* explicit [pf ADDR] */
        unsigned line;          /* host file line of the section, for errors */
};

struct host_conf {
        bool iommu, ari, sriov, vfio_enable_sriov;
        uint64_t mmio_room;
        int hotplug_driver;     /* default of the PFs */
        struct board_conf boards[MAX_BOARDS];
        unsigned n_boards;
};

static uint64_t pow2_at_least(uint64_t v) {
        uint64_t p = 1;
        while (p < v)
                p <<= 1;
        return p;
}

/* The bus of the PF's last VF; above 255 when the routing IDs run out. The PF's own bus when it has
 * no VFs. */
static unsigned vf_last_bus(const struct pci_addr *pf, const struct pf_conf *p) {
        return p->total_vfs ? sim_vf_rid(pf, p->vf_offset, p->vf_stride, p->total_vfs - 1) >> 8 : pf->bus;
}

/* A preset PF from the supported-card table, or the generic NVMe function. */
static int preset_pf(const char *name, struct pf_conf *ret, bool *ret_dual) {
        struct pf_conf p = { .numa_node = -1, .vf_stride = 1, .hotplug_driver = HOTPLUG_UNSET };
        bool dual = false;
        if (strcasecmp(name, "nvme") == 0) {
                /* QEMU's emulated NVMe controller, the SR-IOV device a real kernel in a VM can test */
                snprintf(p.model, sizeof(p.model), "nvme");
                p.vendor = 0x1b36; p.device = 0x0010; p.vf_device = 0x0010;
                p.subvendor = 0x1af4; p.subdevice = 0x1100;
                p.class = 0x010802;
                p.total_vfs = 8;
                p.bar0 = 16 * 1024; p.vf_bar0 = 16 * 1024;
                p.layout = GPUIOV_NONE;
                p.driver = DRVI_NVME;
                p.vf_offset = 1;
        } else {
                const struct mx_card *c = mx_card_by_model(name);
                if (!c)
                        return -ENOENT;
                dual = strcasecmp(name, "s7150x2") == 0;
                snprintf(p.model, sizeof(p.model), "%s", name);
                for (char *s = p.model; *s; s++)
                        *s = (char)tolower((unsigned char)*s);
                p.vendor = AMD_VENDOR_ID; p.device = c->pf_id; p.vf_device = c->vf_id;
                p.subvendor = AMD_VENDOR_ID; p.subdevice = c->pf_id;
                p.class = c->layout == GPUIOV_MI300 && c->mem_mib > 65536 ? 0x120000 : 0x038000;
                p.total_vfs = c->max_vfs;
                p.memory_mib = c->mem_mib;
                p.layout = c->layout;
                p.driver = DRVI_PCI_PF_STUB;
                p.vf_offset = 0x10; /* VF 0 at dev 2 fn 0, as on a real S7150 */
                if (c->layout == GPUIOV_TONGA) {
                        /* 256 MiB apertures; VF BAR2 is a 4 MiB slice of a 64 MiB window (hardware.md 1) */
                        p.bar0 = 256 * MiB; p.vf_bar0 = 256 * MiB; p.vf_bar2 = 4 * MiB;
                } else {
                        /* inferred: BARs cover the whole memory (large-BAR parts) */
                        p.bar0 = pow2_at_least((uint64_t)c->mem_mib * MiB);
                        p.vf_bar0 = pow2_at_least((uint64_t)c->mem_mib / c->max_vfs * MiB);
                        p.vf_bar2 = 2 * MiB;
                }
        }
        *ret = p;
        *ret_dual = dual;
        return 0;
}

const char *sim_host_presets_help(void) {
        return "presets: s7150, s7150x2, mi300x, v710, mi25, v340, v620, nvme; combine with '+' and repeat "
               "with '*N' (e.g. s7150x2*4, s7150x2+mi300x+nvme); or a host file (*.ini or a path)";
}

static int add_preset_boards(struct host_conf *hc, const char *name, unsigned count, unsigned line,
                             char *err, size_t errsize) {
        struct pf_conf p;
        bool dual;
        if (preset_pf(name, &p, &dual) < 0) {
                snprintf(err, errsize, "unknown preset '%s' (%s)", name, sim_host_presets_help());
                return -EINVAL;
        }
        for (unsigned i = 0; i < count; i++) {
                if (hc->n_boards >= MAX_BOARDS) {
                        snprintf(err, errsize, "too many boards: at most %d root ports", MAX_BOARDS);
                        return -E2BIG;
                }
                struct board_conf *b = &hc->boards[hc->n_boards++];
                *b = (struct board_conf){ .n_pfs = dual ? 2 : 1, .line = line };
                b->pfs[0] = b->pfs[1] = p;
        }
        return 0;
}

static void host_conf_defaults(struct host_conf *hc) {
        *hc = (struct host_conf){ .iommu = true, .ari = true, .sriov = true, .hotplug_driver = HOTPLUG_SAME };
}

static int parse_preset_expr(struct host_conf *hc, const char *spec, char *err, size_t errsize) {
        _cleanup_free_ char *copy = strdup(spec);
        if (!copy)
                return -ENOMEM;
        char *save = NULL;
        for (char *term = strtok_r(copy, "+", &save); term; term = strtok_r(NULL, "+", &save)) {
                unsigned count = 1;
                char *star = strchr(term, '*');
                if (star) {
                        *star = 0;
                        char *end;
                        unsigned long n = strtoul(star + 1, &end, 10);
                        if (*end || n < 1 || n > MAX_BOARDS) {
                                snprintf(err, errsize, "host '%s': '*%s' must be a count 1-%d", spec, star + 1, MAX_BOARDS);
                                return -EINVAL;
                        }
                        count = (unsigned)n;
                }
                int r = add_preset_boards(hc, term, count, 0, err, errsize);
                if (r < 0)
                        return r;
        }
        if (hc->n_boards == 0) {
                snprintf(err, errsize, "host '%s' names no card (%s)", spec, sim_host_presets_help());
                return -EINVAL;
        }
        return 0;
}

/* --- INI host files --- */

struct ini_ctx {
        struct host_conf *hc;
        const char *file;
        FILE *f;
        unsigned line;
        char section[64];
        struct board_conf *board;   /* current [pf]/[preset] section */
        bool failed;
        char *err;
        size_t errsize;
};

static int ini_section_start(struct ini_ctx *c, const char *section);

static char *ini_read_line(char *str, int num, void *stream) {
        struct ini_ctx *c = stream;
        if (c->failed)
                return NULL;
        char *r = fgets(str, num, c->f);
        if (!r)
                return NULL;
        c->line++;
        const char *s = r + strspn(r, " \t");
        const char *close = strchr(s, ']');
        if (*s == '[' && close) {
                char name[64];
                snprintf(name, sizeof(name), "%.*s", (int)(close - s - 1), s + 1);
                if (!ini_section_start(c, name)) {
                        c->failed = true;
                        return NULL;
                }
        }
        return r;
}

static int parse_bool(const char *v, bool *ret) {
        if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") || !strcasecmp(v, "on") || streq(v, "1"))
                *ret = true;
        else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") || !strcasecmp(v, "off") || streq(v, "0"))
                *ret = false;
        else
                return -EINVAL;
        return 0;
}

/* A size with an optional K/M/G/T suffix (optionally "iB" or "B"); a bare number is MiB. */
static int parse_size(const char *v, uint64_t *ret) {
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 0);
        if (errno || end == v || v[0] == '-')
                return -EINVAL;
        uint64_t mult = MiB;
        if (*end) {
                switch (toupper((unsigned char)*end)) {
                case 'K': mult = 1024; break;
                case 'M': mult = MiB; break;
                case 'G': mult = GiB; break;
                case 'T': mult = 1024 * GiB; break;
                default: return -EINVAL;
                }
                end++;
                if (!strcasecmp(end, "ib") || !strcasecmp(end, "b"))
                        end += strlen(end);
                if (*end)
                        return -EINVAL;
        }
        if (n > UINT64_MAX / mult)
                return -ERANGE;
        *ret = n * mult;
        return 0;
}

static int parse_uint(const char *v, unsigned long max, unsigned long *ret) {
        char *end;
        errno = 0;
        unsigned long n = strtoul(v, &end, 0);
        if (errno || end == v || *end || v[0] == '-' || n > max)
                return -EINVAL;
        *ret = n;
        return 0;
}

_printf_(4, 5)
static int ini_fail(struct ini_ctx *c, const char *key, const char *value, const char *fmt, ...) {
        int n = snprintf(c->err, c->errsize, "%s:%u: [%s] %s = %s: ", c->file, c->line, c->section, key, value);
        if (n < 0 || (size_t)n >= c->errsize)
                return 0;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err + n, c->errsize - n, fmt, ap);
        va_end(ap);
        return 0;
}

#define HOTPLUG_ALLOWED "same, probe, none, pci-pf-stub, vfio-pci, amdgpu, gim or nvme"

static int parse_hotplug_driver(const char *v, int *ret) {
        if (streq(v, "same") || streq(v, "probe") || streq(v, "none")) {
                *ret = streq(v, "same") ? HOTPLUG_SAME : streq(v, "probe") ? SIM_HOTPLUG_PROBE : DRVI_NONE;
                return 0;
        }
        int d = sim_drv_by_name(v);
        if (d < 0 || d == DRVI_PCIEPORT)
                return -EINVAL;
        *ret = d;
        return 0;
}

static int ini_host_key(struct ini_ctx *c, const char *k, const char *v) {
        struct host_conf *hc = c->hc;
        bool b;
        if (streq(k, "hotplug_driver")) {
                if (parse_hotplug_driver(v, &hc->hotplug_driver) < 0)
                        return ini_fail(c, k, v, "expected " HOTPLUG_ALLOWED);
                return 1;
        }
        if (streq(k, "mmio_room")) {
                if (!strcasecmp(v, "unlimited")) {
                        hc->mmio_room = 0;
                        return 1;
                }
                if (parse_size(v, &hc->mmio_room) < 0 || hc->mmio_room == 0)
                        return ini_fail(c, k, v, "expected a size like 2G, 4096M or 'unlimited'");
                return 1;
        }
        bool *dst = streq(k, "iommu") ? &hc->iommu : streq(k, "ari") ? &hc->ari : streq(k, "sriov") ? &hc->sriov :
                    streq(k, "vfio_enable_sriov") ? &hc->vfio_enable_sriov : NULL;
        if (!dst)
                return ini_fail(c, k, v, "unknown key; [host] allows iommu, ari, sriov, mmio_room, vfio_enable_sriov, "
                                         "hotplug_driver");
        if (parse_bool(v, &b) < 0)
                return ini_fail(c, k, v, "expected yes or no");
        *dst = b;
        return 1;
}

static int ini_bar(struct ini_ctx *c, const char *k, const char *v, bool zero_ok, uint64_t *dst) {
        uint64_t s;
        if (parse_size(v, &s) < 0)
                return ini_fail(c, k, v, "expected a size like 256M, 16K or 32G");
        if (s == 0 && zero_ok) {
                *dst = 0;
                return 1;
        }
        if (s < 4096 || (s & (s - 1)))
                return ini_fail(c, k, v, "a BAR size must be a power of two of at least 4K");
        *dst = s;
        return 1;
}

static int ini_pf_key(struct ini_ctx *c, const char *k, const char *v) {
        struct board_conf *b = c->board;
        unsigned long n;
        for (unsigned i = 0; i < b->n_pfs; i++) {
                struct pf_conf *p = &b->pfs[i];
                if (streq(k, "model")) {
                        bool dual;
                        struct pf_conf m;
                        if (preset_pf(v, &m, &dual) < 0 || dual)
                                return ini_fail(c, k, v, "unknown model; allowed: s7150, mi300x, v710, mi25, v340, v620, nvme");
                        *p = m;
                } else if (streq(k, "vendor") || streq(k, "device") || streq(k, "vf_device") ||
                           streq(k, "subsystem_vendor") || streq(k, "subsystem_device")) {
                        if (parse_uint(v, 0xffff, &n) < 0)
                                return ini_fail(c, k, v, "expected a 16-bit id like 0x1002");
                        uint16_t *dst = streq(k, "vendor") ? &p->vendor : streq(k, "device") ? &p->device :
                                        streq(k, "vf_device") ? &p->vf_device :
                                        streq(k, "subsystem_vendor") ? &p->subvendor : &p->subdevice;
                        *dst = (uint16_t)n;
                        if (streq(k, "vendor") && p->model[0] == 0)
                                snprintf(p->model, sizeof(p->model), "custom");
                } else if (streq(k, "subsystem")) {
                        unsigned sv, sd;
                        char tail;
                        if (sscanf(v, "%x:%x%c", &sv, &sd, &tail) != 2 || sv > 0xffff || sd > 0xffff)
                                return ini_fail(c, k, v, "expected VENDOR:DEVICE in hex, like 1002:0335");
                        p->subvendor = (uint16_t)sv;
                        p->subdevice = (uint16_t)sd;
                } else if (streq(k, "class")) {
                        if (parse_uint(v, 0xffffff, &n) < 0)
                                return ini_fail(c, k, v, "expected a 24-bit class code like 0x038000");
                        p->class = (uint32_t)n;
                } else if (streq(k, "total_vfs")) {
                        if (parse_uint(v, UINT16_MAX, &n) < 0)
                                return ini_fail(c, k, v, "expected a count 0-65535 (TotalVFs is 16 bits)");
                        p->total_vfs = (unsigned)n;
                } else if (streq(k, "vf_offset") || streq(k, "vf_stride")) {
                        if (parse_uint(v, 255, &n) < 0 || n == 0)
                                return ini_fail(c, k, v, "expected 1-255");
                        *(streq(k, "vf_offset") ? &p->vf_offset : &p->vf_stride) = (uint16_t)n;
                } else if (streq(k, "memory")) {
                        uint64_t s;
                        if (parse_size(v, &s) < 0 || s % (16 * MiB) || s / MiB > UINT32_MAX)
                                return ini_fail(c, k, v, "expected a size in 16 MiB steps, like 8192 (MiB) or 8G");
                        p->memory_mib = (uint32_t)(s / MiB);
                } else if (streq(k, "bar0")) {
                        if (!ini_bar(c, k, v, false, &p->bar0))
                                return 0;
                } else if (streq(k, "vf_bar0")) {
                        if (!ini_bar(c, k, v, false, &p->vf_bar0))
                                return 0;
                } else if (streq(k, "vf_bar2")) {
                        if (!ini_bar(c, k, v, true, &p->vf_bar2))
                                return 0;
                } else if (streq(k, "layout")) {
                        int l = gpuiov_layout_from_name(v);
                        if (l < 0)
                                return ini_fail(c, k, v, "expected tonga, mi300 or none");
                        p->layout = l;
                } else if (streq(k, "driver")) {
                        int d = streq(v, "none") ? DRVI_NONE : sim_drv_by_name(v);
                        if (d == DRVI_PCIEPORT || (d < 0 && !streq(v, "none")))
                                return ini_fail(c, k, v, "expected pci-pf-stub, vfio-pci, amdgpu, gim, nvme or none");
                        p->driver = d;
                } else if (streq(k, "hotplug_driver")) {
                        if (parse_hotplug_driver(v, &p->hotplug_driver) < 0)
                                return ini_fail(c, k, v, "expected " HOTPLUG_ALLOWED);
                } else if (streq(k, "numa_node")) {
                        if (streq(v, "-1")) {
                                p->numa_node = -1;
                        } else {
                                if (parse_uint(v, 63, &n) < 0)
                                        return ini_fail(c, k, v, "expected -1 or a node 0-63");
                                p->numa_node = (int)n;
                        }
                } else {
                        return ini_fail(c, k, v, "unknown key; allowed: model, vendor, device, vf_device, class, subsystem, "
                                                 "subsystem_vendor, subsystem_device, total_vfs, vf_offset, vf_stride, memory, "
                                                 "bar0, vf_bar0, vf_bar2, layout, driver, hotplug_driver, numa_node");
                }
        }
        return 1;
}

/* inih calls the handler only for keys, so sections are opened here, from the raw line, which also
 * makes a section without keys count. Returns 0 on error (message in c->err). */
static int ini_section_start(struct ini_ctx *c, const char *section) {
        snprintf(c->section, sizeof(c->section), "%s", section);
        c->board = NULL;
        char kind[16], arg[48];
        if (streq(section, "host")) {
                /* keys follow */
        } else if (sscanf(section, "%15s %47s", kind, arg) == 2 && streq(kind, "pf")) {
                struct pci_addr a;
                if (pci_addr_parse(arg, &a) < 0 || a.bus == 0) {
                        snprintf(c->err, c->errsize, "%s:%u: [%s]: '%s' is not a PCI address on a bus > 0 "
                                 "(like 0000:03:00.0)", c->file, c->line, section, arg);
                        return 0;
                }
                if (c->hc->n_boards >= MAX_BOARDS) {
                        snprintf(c->err, c->errsize, "%s:%u: too many PFs (at most %d)", c->file, c->line, MAX_BOARDS);
                        return 0;
                }
                struct board_conf *b = &c->hc->boards[c->hc->n_boards++];
                *b = (struct board_conf){ .n_pfs = 1, .explicit_addr = true, .addr = a, .line = c->line };
                b->pfs[0] = (struct pf_conf){ .numa_node = -1, .vf_offset = 1, .vf_stride = 1,
                                              .driver = DRVI_NONE, .class = 0x010802,
                                              .hotplug_driver = HOTPLUG_UNSET };
                c->board = b;
        } else if (sscanf(section, "%15s %47s", kind, arg) == 2 && streq(kind, "preset")) {
                unsigned before = c->hc->n_boards;
                char msg[256];
                if (add_preset_boards(c->hc, arg, 1, c->line, msg, sizeof(msg)) < 0) {
                        snprintf(c->err, c->errsize, "%s:%u: [%s]: %s", c->file, c->line, section, msg);
                        return 0;
                }
                c->board = &c->hc->boards[before];
        } else {
                snprintf(c->err, c->errsize, "%s:%u: unknown section [%s]; allowed: [host], [pf ADDRESS], "
                         "[preset NAME]", c->file, c->line, section);
                return 0;
        }
        return 1;
}

static int host_ini_handler(void *user, const char *section, const char *k, const char *v) {
        struct ini_ctx *c = user;
        if (!streq(section, c->section) || (!c->board && !streq(section, "host")))
                return ini_fail(c, k, v, "key outside a section");
        if (streq(section, "host"))
                return ini_host_key(c, k, v);
        return ini_pf_key(c, k, v);
}

static int parse_host_file(struct host_conf *hc, const char *path, char *err, size_t errsize) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f) {
                int r = negative_errno();
                snprintf(err, errsize, "%s: %s", path, strerror(-r));
                return r;
        }
        struct ini_ctx c = { .hc = hc, .file = path, .f = f, .err = err, .errsize = errsize };
        err[0] = 0;
        int r = ini_parse_stream(ini_read_line, &c, host_ini_handler, &c);
        if (c.failed)
                return -EINVAL;
        if (r != 0) {
                if (!err[0])
                        snprintf(err, errsize, "%s:%d: syntax error (expected [section] or key = value)", path, r);
                return -EINVAL;
        }
        if (hc->n_boards == 0) {
                snprintf(err, errsize, "%s: no [pf ADDRESS] or [preset NAME] section: the host has no card", path);
                return -EINVAL;
        }
        /* whole-PF checks */
        for (unsigned i = 0; i < hc->n_boards; i++) {
                struct board_conf *b = &hc->boards[i];
                for (unsigned j = 0; j < b->n_pfs; j++) {
                        struct pf_conf *p = &b->pfs[j];
                        if (p->vendor == 0 || p->vendor == 0xffff || p->device == 0) {
                                snprintf(err, errsize, "%s:%u: the PF needs model = NAME, or vendor and device ids", path, b->line);
                                return -EINVAL;
                        }
                        if (p->layout != GPUIOV_NONE && p->memory_mib < 1024) {
                                snprintf(err, errsize, "%s:%u: a GPU-IOV PF needs memory (at least 1024 MiB)", path, b->line);
                                return -EINVAL;
                        }
                        if (p->layout == GPUIOV_TONGA && p->total_vfs > TONGA_MAX_VFS) {
                                snprintf(err, errsize, "%s:%u: total_vfs = %u: the Tonga layout has room for %d VFs",
                                         path, b->line, p->total_vfs, TONGA_MAX_VFS);
                                return -EINVAL;
                        }
                        if (p->layout == GPUIOV_MI300 && p->total_vfs > MI300_MAX_VFS) {
                                snprintf(err, errsize, "%s:%u: total_vfs = %u: the MI300 layout has room for %d VFs",
                                         path, b->line, p->total_vfs, MI300_MAX_VFS);
                                return -EINVAL;
                        }
                        /* VFs may run onto the buses after the PF's (the kernel adds a bus for them), but
                         * not past bus ff; where they may go besides is checked when the buses are laid out */
                        if (b->explicit_addr && vf_last_bus(&b->addr, p) > 255) {
                                snprintf(err, errsize, "%s:%u: the last VF's routing ID (PF + vf_offset + (total_vfs - 1) "
                                         "* vf_stride) runs past bus ff", path, b->line);
                                return -EINVAL;
                        }
                        if (p->total_vfs && !p->vf_device)
                                p->vf_device = p->device;
                        if (!p->bar0)
                                p->bar0 = 16 * 1024;
                        if (p->total_vfs && !p->vf_bar0)
                                p->vf_bar0 = 16 * 1024;
                }
        }
        return 0;
}

static bool spec_is_file(const char *spec) {
        size_t n = strlen(spec);
        return strchr(spec, '/') || (n > 4 && streq(spec + n - 4, ".ini"));
}

/* --- functions --- */

struct sim_fn *sim_fn_new(struct sim_host *h, enum fn_kind kind, const struct pci_addr *a, struct sim_fn *parent) {
        struct sim_fn *fn = calloc(1, sizeof(*fn));
        if (!fn)
                return NULL;
        fn->host = h;
        fn->kind = kind;
        fn->addr = *a;
        pci_addr_format(a, fn->bdf);
        fn->parent = parent;
        fn->drv = DRVI_NONE;
        fn->iommu_group = -1;
        fn->numa_node = -1;
        fn->vfio_dev_index = -1;
        fn->vfio_mode = 0600;
        fn->vfio_uid = getuid();
        fn->vfio_gid = getgid();
        fn->refs = 1;
        return fn;
}

static void fn_free(struct sim_fn *fn) {
        if (!fn)
                return;
        if (fn->pf) {
                if (fn->pf->card)
                        sim_card_free(fn->pf->card);
                free(fn->pf->vfs);
                free(fn->pf->vf_missing);
                free(fn->pf);
        }
        free(fn->driver_override);
        free(fn);
}

void sim_fn_ref(struct sim_fn *fn) { fn->refs++; }
void sim_fn_unref(struct sim_fn *fn) {
        if (fn && --fn->refs == 0)
                fn_free(fn);
}

static int fn_cmp(const void *a, const void *b) {
        const struct sim_fn *x = *(struct sim_fn *const *)a, *y = *(struct sim_fn *const *)b;
        uint32_t kx = (uint32_t)x->addr.domain << 16 | pci_addr_rid(&x->addr);
        uint32_t ky = (uint32_t)y->addr.domain << 16 | pci_addr_rid(&y->addr);
        return kx < ky ? -1 : kx > ky;
}

void sim_host_add_fn(struct sim_host *h, struct sim_fn *fn) {
        struct sim_fn **n = realloc(h->fns, (h->n_fns + 1) * sizeof(*n));
        if (!n)
                abort(); /* the model cannot continue half-updated */
        h->fns = n;
        h->fns[h->n_fns++] = fn;
        qsort(h->fns, h->n_fns, sizeof(*h->fns), fn_cmp);
}

void sim_host_del_fn(struct sim_host *h, struct sim_fn *fn) {
        for (size_t i = 0; i < h->n_fns; i++)
                if (h->fns[i] == fn) {
                        memmove(&h->fns[i], &h->fns[i + 1], (h->n_fns - i - 1) * sizeof(*h->fns));
                        h->n_fns--;
                        break;
                }
        fn->dead = true;
}

struct sim_fn *sim_host_find(struct sim_host *h, const char *bdf) {
        struct pci_addr a;
        if (pci_addr_parse(bdf, &a) < 0)
                return NULL;
        for (size_t i = 0; i < h->n_fns; i++)
                if (fn_cmp(&(struct sim_fn *){ h->fns[i] }, &(struct sim_fn *){ &(struct sim_fn){ .addr = a } }) == 0)
                        return h->fns[i];
        return NULL;
}

int sim_host_alloc_group(struct sim_host *h) {
        if (!h->iommu)
                return -1;
        /* lowest free number, like the kernel's ida */
        for (int g = 0;; g++) {
                bool used = false;
                for (size_t i = 0; i < h->n_fns && !used; i++)
                        used = h->fns[i]->iommu_group == g;
                if (!used)
                        return g;
        }
}

static uint64_t bump(uint64_t *next, uint64_t size) {
        uint64_t a = ALIGN_UP(*next, size);
        *next = a + size;
        return a;
}

void sim_host_assign_mmio(struct sim_host *h, struct sim_fn *fn) {
        for (unsigned i = 0; i < SIM_BARS; i++)
                if (fn->bars[i].size)
                        fn->bars[i].addr = bump(fn->bars[i].prefetch ? &h->mmio_next : &h->mmio32_next, fn->bars[i].size);
        if (fn->pf)
                for (unsigned i = 0; i < SIM_BARS; i++) {
                        struct sim_bar *b = &fn->pf->vf_bars[i];
                        if (!b->size)
                                continue;
                        /* the IOV resource spans TotalVFs copies, aligned to one VF BAR */
                        uint64_t *next = b->prefetch ? &h->mmio_next : &h->mmio32_next;
                        b->addr = ALIGN_UP(*next, b->size);
                        *next = b->addr + b->size * fn->pf->total_vfs;
                }
        /* the next function starts on a fresh 1 MiB boundary, so bridge windows never overlap */
        h->mmio_next = ALIGN_UP(h->mmio_next, 1ull << 20);
        h->mmio32_next = ALIGN_UP(h->mmio32_next, 1ull << 20);
}

int sim_fn_sysfs_dir(const struct sim_fn *fn, char *buf, size_t size) {
        if (!fn->parent)
                return snprintf(buf, size, "devices/pci%04x:00/%s", fn->addr.domain, fn->bdf) < (int)size ? 0 : -ENAMETOOLONG;
        int r = sim_fn_sysfs_dir(fn->parent, buf, size);
        if (r < 0)
                return r;
        size_t n = strlen(buf);
        return snprintf(buf + n, size - n, "/%s", fn->bdf) < (int)(size - n) ? 0 : -ENAMETOOLONG;
}

unsigned sim_fn_depth(const struct sim_fn *fn) {
        return fn->parent ? sim_fn_depth(fn->parent) + 1 : 3; /* devices/pci0000:00/<bdf> */
}

/* --- building the host --- */

/* A bridge or PF of the spec: what a rescan finds on the bus again after it was removed. */
struct sim_slot {
        enum fn_kind kind;
        struct pci_addr addr;
        bool has_parent;
        struct pci_addr parent;      /* the bridge above */
        struct pf_conf conf;         /* PFs */
        int hotplug_drv;             /* PFs: a driver, DRVI_NONE or SIM_HOTPLUG_PROBE */
        /* resources as assigned at start; the firmware's assignment survives a removal */
        int irq;
        struct sim_bar bars[SIM_BARS], vf_bars[SIM_BARS];
};

static int record_slot(struct sim_host *h, const struct sim_fn *fn, const struct pf_conf *conf) {
        struct sim_slot *n = realloc(h->slots, (h->n_slots + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        h->slots = n;
        struct sim_slot *s = &h->slots[h->n_slots++];
        *s = (struct sim_slot){ .kind = fn->kind, .addr = fn->addr, .has_parent = fn->parent != NULL,
                                .hotplug_drv = SIM_HOTPLUG_PROBE };
        if (fn->parent)
                s->parent = fn->parent->addr;
        if (conf)
                s->conf = *conf;
        return 0;
}

static struct sim_fn *find_addr(struct sim_host *h, const struct pci_addr *a) {
        char bdf[PCI_ADDR_STRLEN];
        return sim_host_find(h, pci_addr_format(a, bdf));
}

static struct sim_fn *add_bridge(struct sim_host *h, enum fn_kind kind, const struct pci_addr *a, struct sim_fn *parent) {
        struct sim_fn *fn = sim_fn_new(h, kind, a, parent);
        if (!fn)
                return NULL;
        if (kind == FN_ROOT_PORT) {
                fn->vendor = 0x1022; fn->device = 0x1483; /* AMD Starship/Matisse GPP bridge */
        } else {
                fn->vendor = 0x10b5; fn->device = 0x8747; /* PLX PEX 8747, the switch on an S7150x2 */
        }
        fn->class = 0x060400;
        fn->irq = h->next_irq++;
        snprintf(fn->model, sizeof(fn->model), kind == FN_ROOT_PORT ? "root-port" : kind == FN_UPSTREAM ?
                 "switch-upstream" : "switch-downstream");
        sim_host_add_fn(h, fn);
        return fn;
}

static int add_pf(struct sim_host *h, const struct pf_conf *p, const struct pci_addr *a, struct sim_fn *parent,
                  struct sim_fn **ret) {
        struct sim_fn *fn = sim_fn_new(h, FN_PF, a, parent);
        if (!fn)
                return -ENOMEM;
        snprintf(fn->model, sizeof(fn->model), "%s", p->model);
        fn->vendor = p->vendor;
        fn->device = p->device;
        fn->subvendor = p->subvendor;
        fn->subdevice = p->subdevice;
        fn->class = p->class;
        fn->numa_node = p->numa_node;
        fn->irq = h->next_irq++;
        bool gpu = p->layout != GPUIOV_NONE;
        fn->bars[0] = (struct sim_bar){ .size = p->bar0, .is64 = true, .prefetch = gpu };
        if (gpu) {
                fn->bars[2] = (struct sim_bar){ .size = 2 * MiB, .is64 = true, .prefetch = true };   /* doorbells */
                fn->bars[5] = (struct sim_bar){ .size = 256 * 1024 };                                  /* registers */
        }
        if (p->total_vfs || gpu) {
                struct sim_pf *pf = calloc(1, sizeof(*pf));
                fn->pf = pf;
                if (!pf) {
                        fn_free(fn);
                        return -ENOMEM;
                }
                snprintf(pf->model, sizeof(pf->model), "%s", p->model);
                pf->layout = p->layout;
                pf->fb_mib = p->memory_mib;
                pf->total_vfs = p->total_vfs;
                pf->autoprobe = true;
                pf->vf_device = p->vf_device;
                pf->vf_offset = p->vf_offset;
                pf->vf_stride = p->vf_stride;
                pf->vf_bars[0] = (struct sim_bar){ .size = p->vf_bar0, .is64 = true, .prefetch = gpu };
                if (gpu && p->vf_bar2)
                        pf->vf_bars[2] = (struct sim_bar){ .size = p->vf_bar2, .is64 = true, .prefetch = true };
                if (gpu)
                        pf->vf_bars[5] = (struct sim_bar){ .size = 256 * 1024 };
                pf->vfs = calloc(MAX(pf->total_vfs, 1u), sizeof(*pf->vfs));
                pf->vf_missing = calloc(MAX(pf->total_vfs, 1u), sizeof(*pf->vf_missing));
                if (!pf->vfs || !pf->vf_missing) {
                        fn_free(fn);
                        return -ENOMEM;
                }
                if (!h->sriov) /* firmware hides SR-IOV: no capability, no VFs */
                        pf->total_vfs = 0;
        }
        sim_host_add_fn(h, fn);
        *ret = fn;
        return 0;
}

/* A function's config space, and the card model behind a GPU-IOV PF (registers at reset values). */
static int fn_setup(struct sim_host *h, struct sim_fn *fn, char *err, size_t errsize) {
        cfg_build(fn);
        if (!fn->pf || fn->pf->layout == GPUIOV_NONE)
                return 0;
        struct sim_card_spec cs = {
                .layout = fn->pf->layout,
                .cap_offset = fn->pf->gpuiov_pos,
                .fb_mib = fn->pf->fb_mib,
                .total_vfs = fn->pf->total_vfs,
                .cmd_latency_ns = h->lat.cmd,
        };
        const struct mx_card *mc = mx_card_by_pf_id(fn->vendor, fn->device);
        if (mc) /* the policies of the card in the table; a custom device gets its layout's */
                cs.sched_modes = mc->sched_modes;
        fn->pf->card = sim_card_new(&cs, fn->config);
        if (!fn->pf->card) {
                snprintf(err, errsize, "%s: PF %s: the card model refused its layout", h->spec, fn->bdf);
                return -EINVAL;
        }
        if (fn->pf->gpuiov_pos + sim_card_cap_len(fn->pf->card) > 4096) {
                snprintf(err, errsize, "%s: PF %s: the GPU-IOV capability does not fit in config space", h->spec, fn->bdf);
                return -E2BIG;
        }
        return 0;
}

static int build_board(struct sim_host *h, struct board_conf *b, uint8_t rp_dev, uint8_t base_bus, struct sim_fn *ret_pfs[2]) {
        struct sim_fn *rp = add_bridge(h, FN_ROOT_PORT, &(struct pci_addr){ 0, 0, rp_dev, 0 }, NULL);
        if (!rp || record_slot(h, rp, NULL) < 0)
                return -ENOMEM;
        if (b->n_pfs == 1) {
                /* the PF sits directly on the root port's secondary bus */
                struct pci_addr a = b->explicit_addr ? b->addr : (struct pci_addr){ 0, (uint8_t)(base_bus + 2), 0, 0 };
                int r = add_pf(h, &b->pfs[0], &a, rp, &ret_pfs[0]);
                return r < 0 ? r : record_slot(h, ret_pfs[0], &b->pfs[0]);
        }
        struct sim_fn *up = add_bridge(h, FN_UPSTREAM, &(struct pci_addr){ 0, base_bus, 0, 0 }, rp);
        if (!up || record_slot(h, up, NULL) < 0)
                return -ENOMEM;
        for (unsigned i = 0; i < b->n_pfs; i++) {
                struct sim_fn *down = add_bridge(h, FN_DOWNSTREAM, &(struct pci_addr){ 0, (uint8_t)(base_bus + 1), (uint8_t)i, 0 }, up);
                if (!down || record_slot(h, down, NULL) < 0)
                        return -ENOMEM;
                struct pci_addr a = { 0, (uint8_t)(base_bus + 2 + i), 0, 0 };
                int r = add_pf(h, &b->pfs[i], &a, down, &ret_pfs[i]);
                if (r >= 0)
                        r = record_slot(h, ret_pfs[i], &b->pfs[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The last bus an explicit [pf] board takes: its PF's, or the last its VFs run onto. */
static unsigned explicit_last_bus(const struct board_conf *b) {
        return MAX((unsigned)b->addr.bus, vf_last_bus(&b->addr, &b->pfs[0]));
}

static bool bus_taken(const struct host_conf *hc, unsigned lo, unsigned hi) {
        for (unsigned i = 0; i < hc->n_boards; i++)
                if (hc->boards[i].explicit_addr && hc->boards[i].addr.bus <= hi && explicit_last_bus(&hc->boards[i]) >= lo)
                        return true;
        return false;
}

/* A preset board's PF j sits on base + 2 + j; its VFs may take the buses up to the next PF's, or
 * to the end of the board's buses. */
static int check_board_vf_buses(const struct sim_host *h, const struct board_conf *b, unsigned base, char *err,
                                size_t errsize) {
        for (unsigned j = 0; j < b->n_pfs; j++) {
                struct pci_addr a = { 0, (uint8_t)(base + 2 + j), 0, 0 };
                unsigned limit = j + 1 < b->n_pfs ? base + 2 + j : base + BUSES_PER_BOARD - 1;
                unsigned last = vf_last_bus(&a, &b->pfs[j]);
                if (last > limit) {
                        char s[PCI_ADDR_STRLEN];
                        snprintf(err, errsize, "%s: PF %s: %u VFs at offset %u, stride %u run onto bus %02x, past the "
                                 "buses of its slot (%02x-%02x)", h->spec, pci_addr_format(&a, s), b->pfs[j].total_vfs,
                                 b->pfs[j].vf_offset, b->pfs[j].vf_stride, last, base, limit);
                        return -EINVAL;
                }
        }
        return 0;
}

/* What a rescan needs of each slot, once the resources are assigned. */
static void finish_slots(struct sim_host *h, const struct host_conf *hc) {
        for (size_t i = 0; i < h->n_slots; i++) {
                struct sim_slot *s = &h->slots[i];
                const struct sim_fn *fn = find_addr(h, &s->addr);
                if (!fn)
                        continue;
                s->irq = fn->irq;
                memcpy(s->bars, fn->bars, sizeof(s->bars));
                if (fn->pf)
                        memcpy(s->vf_bars, fn->pf->vf_bars, sizeof(s->vf_bars));
                if (s->kind == FN_PF) {
                        int d = s->conf.hotplug_driver == HOTPLUG_UNSET ? hc->hotplug_driver : s->conf.hotplug_driver;
                        s->hotplug_drv = d == HOTPLUG_SAME ? s->conf.driver : d;
                }
        }
}

static int build_host(struct sim_host *h, struct host_conf *hc, char *err, size_t errsize) {
        h->iommu = hc->iommu;
        h->ari = hc->ari;
        h->sriov = hc->sriov;
        h->vfio_enable_sriov = hc->vfio_enable_sriov;
        h->mmio_room = hc->mmio_room;
        /* explicit addresses must not collide: each PF sits on its own bus, and its VFs may take the
         * buses after it (the kernel reserves them below the root port) */
        for (unsigned i = 0; i < hc->n_boards; i++)
                for (unsigned j = 0; j < i; j++) {
                        const struct board_conf *bi = &hc->boards[i], *bj = &hc->boards[j];
                        if (!bi->explicit_addr || !bj->explicit_addr || bi->addr.bus > explicit_last_bus(bj) ||
                            bj->addr.bus > explicit_last_bus(bi))
                                continue;
                        char a[PCI_ADDR_STRLEN], o[PCI_ADDR_STRLEN];
                        if (bi->addr.bus == bj->addr.bus)
                                snprintf(err, errsize, "%s: PF %s: bus %02x is already used by another [pf] section "
                                         "(each PF sits on its own bus)", h->spec, pci_addr_format(&bi->addr, a),
                                         bi->addr.bus);
                        else
                                snprintf(err, errsize, "%s: PF %s and PF %s: buses %02x-%02x and %02x-%02x overlap (a PF's "
                                         "VFs take the buses after its own, up to the last VF's)", h->spec,
                                         pci_addr_format(&bj->addr, o), pci_addr_format(&bi->addr, a), bj->addr.bus,
                                         explicit_last_bus(bj), bi->addr.bus, explicit_last_bus(bi));
                        return -EINVAL;
                }
        struct sim_fn *pfs[MAX_BOARDS][2] = { { NULL } };
        unsigned next_bus = 1;
        for (unsigned i = 0; i < hc->n_boards; i++) {
                struct board_conf *b = &hc->boards[i];
                uint8_t base = 0;
                if (!b->explicit_addr) {
                        while (next_bus + BUSES_PER_BOARD - 1 <= 255 && bus_taken(hc, next_bus, next_bus + BUSES_PER_BOARD - 1))
                                next_bus += BUSES_PER_BOARD;
                        if (next_bus + BUSES_PER_BOARD - 1 > 255) {
                                snprintf(err, errsize, "%s: out of bus numbers", h->spec);
                                return -E2BIG;
                        }
                        base = (uint8_t)next_bus;
                        next_bus += BUSES_PER_BOARD;
                        int r = check_board_vf_buses(h, b, base, err, errsize);
                        if (r < 0)
                                return r;
                }
                int r = build_board(h, b, (uint8_t)(2 + i), base, pfs[i]);
                if (r < 0) {
                        snprintf(err, errsize, "%s: cannot build the host: %s", h->spec, strerror(-r));
                        return r;
                }
        }
        /* resources, IOMMU groups, config spaces, cards */
        for (size_t i = 0; i < h->n_fns; i++)
                sim_host_assign_mmio(h, h->fns[i]);
        for (size_t i = 0; i < h->n_fns; i++)
                h->fns[i]->iommu_group = sim_host_alloc_group(h);
        for (size_t i = 0; i < h->n_fns; i++) {
                int r = fn_setup(h, h->fns[i], err, errsize);
                if (r < 0)
                        return r;
        }
        finish_slots(h, hc);
        /* bridges go to pcieport, PFs to their configured driver */
        for (size_t i = 0; i < h->n_fns; i++) {
                struct sim_fn *fn = h->fns[i];
                if (fn->kind != FN_PF)
                        (void)kern_bind_initial(h, fn, DRVI_PCIEPORT);
        }
        for (unsigned i = 0; i < hc->n_boards; i++)
                for (unsigned j = 0; j < hc->boards[i].n_pfs; j++) {
                        int drv = hc->boards[i].pfs[j].driver;
                        struct sim_fn *pf = pfs[i][j];
                        if (drv == DRVI_NONE || !pf)
                                continue;
                        int r = kern_bind_initial(h, pf, drv);
                        if (r < 0) {
                                snprintf(err, errsize, "%s: PF %s: driver %s does not bind: %s", h->spec, pf->bdf,
                                         sim_drv_name(drv), strerror(-r));
                                return r;
                        }
                }
        return 0;
}

/* --- rescan --- */

/* Takes a function that never got announced back out of the host. */
static void drop_fn(struct sim_host *h, struct sim_fn *fn) {
        sim_host_del_fn(h, fn);
        sim_fn_unref(fn);
}

/* pci_bus_add_devices() order: the devices of a bus, then the buses below them. */
static int hotplug_cmp(const void *a, const void *b) {
        const struct sim_hotplug *x = a, *y = b;
        unsigned dx = sim_fn_depth(x->fn), dy = sim_fn_depth(y->fn);
        if (dx != dy)
                return dx < dy ? -1 : 1;
        uint16_t rx = pci_addr_rid(&x->fn->addr), ry = pci_addr_rid(&y->fn->addr);
        return rx < ry ? -1 : rx > ry;
}

int sim_host_rescan(struct sim_host *h, struct sim_hotplug **ret, size_t *ret_n) {
        _cleanup_free_ struct sim_hotplug *added = calloc(MAX(h->n_slots, (size_t)1), sizeof(*added));
        if (!added)
                return -ENOMEM;
        size_t n = 0;
        int r = 0;
        /* slots come parents first, so a bridge brought back is there for the functions below it */
        for (size_t i = 0; i < h->n_slots && r == 0; i++) {
                const struct sim_slot *s = &h->slots[i];
                if (find_addr(h, &s->addr))
                        continue;
                struct sim_fn *parent = s->has_parent ? find_addr(h, &s->parent) : NULL;
                if (s->has_parent && (!parent || parent->kind == FN_PF || parent->kind == FN_VF))
                        continue;
                int irq = h->next_irq;
                struct sim_fn *fn = NULL;
                if (s->kind == FN_PF)
                        r = add_pf(h, &s->conf, &s->addr, parent, &fn);
                else if (!(fn = add_bridge(h, s->kind, &s->addr, parent)))
                        r = -ENOMEM;
                h->next_irq = irq;
                if (r < 0)
                        break;
                fn->irq = s->irq;
                memcpy(fn->bars, s->bars, sizeof(fn->bars));
                if (fn->pf)
                        memcpy(fn->pf->vf_bars, s->vf_bars, sizeof(fn->pf->vf_bars));
                added[n++] = (struct sim_hotplug){ fn, s->kind == FN_PF ? s->hotplug_drv : SIM_HOTPLUG_PROBE };
        }
        /* groups in the order the devices are added (the IOMMU's add-device notifier), each its own;
         * config spaces once the children are in (bridge windows) */
        if (r == 0)
                qsort(added, n, sizeof(*added), hotplug_cmp);
        for (size_t i = 0; i < n && r == 0; i++)
                added[i].fn->iommu_group = sim_host_alloc_group(h);
        char err[256]; /* cannot happen: the same functions were set up at start */
        for (size_t i = 0; i < n && r == 0; i++)
                r = fn_setup(h, added[i].fn, err, sizeof(err));
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        drop_fn(h, added[i].fn);
                return r;
        }
        *ret = TAKE_PTR(added);
        *ret_n = n;
        return 0;
}

int sim_host_new(const char *spec, const struct sim_latency *lat, struct sim_host **ret, char *err, size_t errsize) {
        _cleanup_free_ struct host_conf *hc = malloc(sizeof(*hc));
        if (!hc)
                return -ENOMEM;
        host_conf_defaults(hc);
        int r = spec_is_file(spec) ? parse_host_file(hc, spec, err, errsize) : parse_preset_expr(hc, spec, err, errsize);
        if (r < 0)
                return r;
        struct sim_host *h = calloc(1, sizeof(*h));
        if (!h)
                return -ENOMEM;
        pthread_mutex_init(&h->lock, NULL);
        pthread_cond_init(&h->cond, NULL);
        h->spec = strdup(spec);
        h->lat = *lat;
        h->uevent_fd = -1;
        h->next_irq = 24;
        h->mmio_next = 0x10000000000ull; /* 64-bit window at 1 TiB, as with Above 4G decoding */
        h->mmio32_next = 0xe0000000ull;
        for (int d = 0; d < DRVI_COUNT; d++)
                h->drivers[d].name = sim_drv_name(d);
        if (!h->spec) {
                sim_host_free(h);
                return -ENOMEM;
        }
        pthread_mutex_lock(&h->lock);
        r = build_host(h, hc, err, errsize);
        pthread_mutex_unlock(&h->lock);
        if (r < 0) {
                sim_host_free(h);
                return r;
        }
        *ret = h;
        return 0;
}

void sim_host_free(struct sim_host *h) {
        if (!h)
                return;
        for (size_t i = 0; i < h->n_fns; i++)
                sim_fn_unref(h->fns[i]);
        free(h->fns);
        free(h->slots);
        free(h->spec);
        pthread_cond_destroy(&h->cond);
        pthread_mutex_destroy(&h->lock);
        free(h);
}
