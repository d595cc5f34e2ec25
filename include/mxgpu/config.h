/* SPDX-License-Identifier: MIT */
/* mxgpu.conf: load the main file and its drop-ins (inih), check every value's syntax, and keep each
 * setting with its file:line so that later checks against a card can name the line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mxgpu/cards.h"
#include "mxgpu/diags.h"
#include "mxgpu/pciaddr.h"

/* Where a key may appear (bit mask). */
enum {
        MX_SCOPE_DAEMON = 1 << 0,
        MX_SCOPE_GPU    = 1 << 1,  /* [gpu *], [gpu MODEL], [gpu ADDRESS] */
        MX_SCOPE_VF     = 1 << 2,  /* [vf ADDRESS N] */
        MX_SCOPE_DEVICE = 1 << 3,  /* [device ADDRESS]: generic SR-IOV PF */
};

enum mx_key {
        /* [daemon] */
        MX_KEY_STATE_DIR,
        MX_KEY_LIBVIRT_URI,
        MX_KEY_SOCKET,
        MX_KEY_SOCKET_GROUP,
        MX_KEY_LOG_LEVEL,
        MX_KEY_UDEV,
        MX_KEY_RELEASE_ON_STOP,
        /* PF and VF sections */
        MX_KEY_ENABLED,
        MX_KEY_VFS,
        MX_KEY_VF_MEMORY,
        MX_KEY_TIME_SLICE,
        MX_KEY_SCHEDULER,
        MX_KEY_PF_RESERVE,
        MX_KEY_PF_DRIVER,
        MX_KEY_VFIO,
        MX_KEY_POOL,
        MX_KEY_TAKE_OVER_HOST_DRIVER,
        MX_KEY_FB_CLEAR,
        _MX_KEY_MAX,
};

/* Value of a "size or auto" setting (vf_memory, pf_reserve) that says auto. */
#define MX_SIZE_AUTO 0

enum mx_pf_driver {
        MX_PF_DRIVER_PCI_PF_STUB,  /* mxgpud binds pci-pf-stub and writes sriov_numvfs */
        MX_PF_DRIVER_GIM,          /* the vendor's PF driver owns SR-IOV: read its VFs, never write sriov_numvfs */
        MX_PF_DRIVER_KEEP,         /* [device] only: keep the bound driver; it must offer sriov_configure */
};

#define MX_POOL_NAME_MAX 64
#define MX_VF_INDEX_MAX  255       /* largest N accepted in [vf ADDRESS N]; the card limits it further */

struct mx_key_info {
        const char *name;
        unsigned scopes;           /* MX_SCOPE_* */
        const char *allowed;       /* human text: what values are allowed */
};
const struct mx_key_info *mx_key_info(enum mx_key k);
/* The key named name, or -EINVAL. */
int mx_key_from_name(const char *name);

/* One key as the config set it: the last value read for this section identity wins. */
struct mx_setting {
        bool set;
        bool invalid;              /* the last value read was refused (only in a partial config): raw, file, line
                                    * say which; it hides earlier values, and checks that need it are skipped */
        char *raw;                 /* as written */
        const char *file;          /* owned by struct mx_config */
        unsigned line;
        uint64_t u;                /* parsed: number, MiB (MX_SIZE_AUTO = auto), us, bool 0/1, or enum */
};

enum mx_section_kind {
        MX_SECTION_DAEMON,
        MX_SECTION_GPU_ALL,        /* [gpu *] */
        MX_SECTION_GPU_MODEL,      /* [gpu s7150] */
        MX_SECTION_GPU_ADDR,       /* [gpu 0000:03:00.0] */
        MX_SECTION_VF,             /* [vf 0000:03:00.0 2] */
        MX_SECTION_DEVICE,         /* [device 0000:01:00.0] */
};

/* Sections with the same identity (kind + model/address/index) in several places are merged
 * key by key: the last line read wins. */
struct mx_section {
        enum mx_section_kind kind;
        const struct mx_card *card;    /* MX_SECTION_GPU_MODEL: the model, canonical (s7150x2 -> s7150) */
        struct pci_addr addr;          /* GPU_ADDR, VF, DEVICE */
        unsigned vf_index;             /* VF */
        const char *file;              /* where this identity was first seen */
        unsigned line;
        struct mx_setting settings[_MX_KEY_MAX];
};

struct mx_daemon_config {
        const char *state_dir;         /* default DEFAULT_STATE_DIR */
        const char *libvirt_uri;       /* default DEFAULT_LIBVIRT_URI */
        const char *socket_path;       /* default DEFAULT_SOCKET */
        const char *socket_group;      /* NULL: only root may use the socket */
        int log_level;                 /* syslog level, default LOG_INFO */
        bool udev;                     /* follow udev events, default true */
        bool release_on_stop;          /* a VM that stops gives its VFs back to the pool, default false */
};

struct mx_config {
        struct mx_daemon_config daemon;    /* points into sections/defaults; valid while the config lives */
        struct mx_section *sections;       /* in order of first appearance */
        size_t n_sections;
        char **files;                      /* files read, in reading order */
        size_t n_files;
};

/* Read main_path, then dropin_dir/\*.conf in lexical (strcmp) order; later files override
 * earlier ones key by key. A missing main file is fine if the drop-in dir holds at least one
 * .conf file (defaults apply), otherwise -ENOENT. A missing drop-in dir is fine (see the options),
 * one that is not a directory is an error; either may be NULL. Every problem goes to diags (may
 * be NULL), and warnings too (a key set twice in one file, a file that configures nothing).
 * Returns 0 and *ret, or -EINVAL when any error was found (syntax, unknown section or key, bad
 * value, bytes that are not UTF-8 text), or another -errno for I/O failures. */
int mx_config_load(const char *main_path, const char *dropin_dir, struct mx_config **ret, struct mx_diags *diags);

struct mx_config_load_opts {
        bool dropin_dir_required;          /* a missing drop-in dir is an error (it was named explicitly) */
        /* Read this file (the main one or a drop-in, new or not) from replace_text instead of the disk;
         * replace_text NULL: as if it did not exist. For checking an edit before it is written. */
        const char *replace_path;
        const char *replace_text;
        /* On -EINVAL, when every line and file was understood and only values were refused: the config
         * without them (each marked invalid), for the checks against the cards. Else left alone. */
        struct mx_config **ret_partial;
};
int mx_config_load_opts(const char *main_path, const char *dropin_dir, const struct mx_config_load_opts *opts,
                        struct mx_config **ret, struct mx_diags *diags);
/* A config with nothing but defaults (no section: no PF is managed). */
int mx_config_new_default(struct mx_config **ret);
void mx_config_free(struct mx_config *cfg);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct mx_config *, mx_config_free);

/* The section with this identity, or NULL. card/addr/index are ignored where the kind has none. */
const struct mx_section *mx_config_find_section(const struct mx_config *cfg, enum mx_section_kind kind,
                                                const struct mx_card *card, const struct pci_addr *addr,
                                                unsigned vf_index);
/* "[gpu 0000:03:00.0]" etc. into buf. Returns buf. */
#define MX_SECTION_NAME_MAX 48
char *mx_section_name(const struct mx_section *s, char buf[static MX_SECTION_NAME_MAX]);

/* A deep copy of cfg (its settings keep their file:line). Returns 0 or -ENOMEM. */
int mx_config_copy(const struct mx_config *cfg, struct mx_config **ret);
/* Set key k in the section of this identity (created when missing; not [gpu *] or [gpu MODEL]) as if
 * a file named origin had it: the value is checked by the same rules as a file's (problems go to
 * diags with origin as the file). Returns 0, -EINVAL (a bad value, or the key is not allowed in that
 * section) or -ENOMEM. */
int mx_config_set(struct mx_config *cfg, enum mx_section_kind kind, const struct pci_addr *addr, unsigned vf_index,
                  enum mx_key k, const char *value, const char *origin, struct mx_diags *diags);
