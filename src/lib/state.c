// SPDX-License-Identifier: MIT
// The daemon's state file: JSON (json-c), written atomically (temp file, fsync, rename, fsync dir), corrupt files kept aside.
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>

#include "mxgpu/macro.h"
#include "mxgpu/gpuiov.h"
#include "mxgpu/state.h"

#define TMP_PREFIX      "." STATE_FILE "."
#define CORRUPT_SUFFIX  ".corrupt-"
#define STATE_MAX_BYTES (16u << 20)   /* far beyond any real state: larger is not ours */

DEFINE_TRIVIAL_CLEANUP_FUNC(struct json_object *, json_object_put);

static const char *const phase_names[_STATE_PHASE_MAX] = {
        [STATE_PHASE_NONE] = "none", [STATE_PHASE_APPLYING] = "applying", [STATE_PHASE_APPLIED] = "applied",
        [STATE_PHASE_TEARING_DOWN] = "tearing-down", [STATE_PHASE_FAILED] = "failed",
};

const char *state_phase_name(enum state_phase p) {
        return (unsigned)p < _STATE_PHASE_MAX ? phase_names[p] : "unknown";
}

int state_phase_from_name(const char *s) {
        for (int i = 0; i < _STATE_PHASE_MAX; i++)
                if (streq(s, phase_names[i]))
                        return i;
        return -EINVAL;
}

void state_init(struct mx_state *s) {
        *s = (struct mx_state){ .version = STATE_VERSION };
}

void state_done(struct mx_state *s) {
        for (size_t i = 0; i < s->n_pfs; i++)
                free(s->pfs[i].vfs);
        free(s->pfs);
        free(s->assignments);
        state_init(s);
}

struct state_pf *state_pf_get(struct mx_state *s, const char *addr) {
        for (size_t i = 0; i < s->n_pfs; i++)
                if (streq(s->pfs[i].addr, addr))
                        return &s->pfs[i];
        return NULL;
}

const struct state_vf *state_vf_get(const struct state_pf *pf, const char *addr) {
        for (size_t k = 0; pf && k < pf->n_vfs; k++)
                if (streq(pf->vfs[k].addr, addr))
                        return &pf->vfs[k];
        return NULL;
}

struct state_pf *state_pf_add(struct mx_state *s, const char *addr) {
        struct pci_addr a;
        char canon[PCI_ADDR_STRLEN];
        if (!addr || pci_addr_parse(addr, &a) < 0)
                return NULL;
        pci_addr_format(&a, canon);
        struct state_pf *pf = state_pf_get(s, canon);
        if (pf)
                return pf;
        struct state_pf *np = reallocarray(s->pfs, s->n_pfs + 1, sizeof(*np));
        if (!np)
                return NULL;
        s->pfs = np;
        pf = &s->pfs[s->n_pfs++];
        *pf = (struct state_pf){ 0 };
        memcpy(pf->addr, canon, sizeof(canon));
        return pf;
}

int state_pf_remove(struct mx_state *s, const char *addr) {
        struct state_pf *pf = state_pf_get(s, addr);
        if (!pf)
                return -ENOENT;
        free(pf->vfs);
        size_t i = (size_t)(pf - s->pfs);
        memmove(pf, pf + 1, (s->n_pfs - i - 1) * sizeof(*pf));
        s->n_pfs--;
        return 0;
}

int state_pf_set_vfs(struct state_pf *pf, const struct state_vf *vfs, size_t n) {
        struct state_vf *copy = NULL;
        if (n) {
                copy = calloc(n, sizeof(*copy));
                if (!copy)
                        return -ENOMEM;
                memcpy(copy, vfs, n * sizeof(*copy));
        }
        free(pf->vfs);
        pf->vfs = copy;
        pf->n_vfs = n;
        return 0;
}

struct state_assignment *state_assignment_get(struct mx_state *s, const char *vf) {
        for (size_t i = 0; i < s->n_assignments; i++)
                if (streq(s->assignments[i].vf, vf))
                        return &s->assignments[i];
        return NULL;
}

int state_assignment_set(struct mx_state *s, const struct state_assignment *a) {
        struct pci_addr pa;
        if (pci_addr_parse(a->vf, &pa) < 0)
                return -EINVAL;
        struct state_assignment copy = *a;
        pci_addr_format(&pa, copy.vf);
        struct state_assignment *old = state_assignment_get(s, copy.vf);
        if (old) {
                *old = copy;
                return 0;
        }
        struct state_assignment *na = reallocarray(s->assignments, s->n_assignments + 1, sizeof(*na));
        if (!na)
                return -ENOMEM;
        s->assignments = na;
        na[s->n_assignments++] = copy;
        return 0;
}

int state_assignment_remove(struct mx_state *s, const char *vf) {
        struct state_assignment *a = state_assignment_get(s, vf);
        if (!a)
                return -ENOENT;
        size_t i = (size_t)(a - s->assignments);
        memmove(a, a + 1, (s->n_assignments - i - 1) * sizeof(*a));
        s->n_assignments--;
        return 0;
}

/* --- to JSON --- */

/* key: a string literal, not yet in o (json-c neither copies it nor looks for it) */
#define add(o, key, v) add_new((o), "" key "", (v))
static int add_new(struct json_object *o, const char *key, struct json_object *v) {
        if (!v)
                return -ENOMEM;
        if (json_object_object_add_ex(o, key, v, JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_ADD_CONSTANT_KEY) < 0) {
                json_object_put(v);
                return -ENOMEM;
        }
        return 0;
}

static struct json_object *range_json(uint32_t offset, uint32_t size) {
        struct json_object *o = json_object_new_object();
        if (o && (add(o, "offset_mib", json_object_new_int64(offset)) < 0 ||
                  add(o, "size_mib", json_object_new_int64(size)) < 0)) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static struct json_object *vf_json(const struct state_vf *v) {
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        if (add(o, "index", json_object_new_int64(v->index)) < 0 ||
            add(o, "address", json_object_new_string(v->addr)) < 0 ||
            add(o, "fb", range_json(v->fb_offset_mib, v->fb_size_mib)) < 0 ||
            add(o, "quanta_index", json_object_new_int(v->quanta_index)) < 0 ||
            add(o, "driver", json_object_new_string(v->driver)) < 0 ||
            add(o, "bound_by_us", json_object_new_boolean(v->bound_by_us)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static struct json_object *pf_json(const struct state_pf *pf) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        struct json_object *q = json_object_new_array(), *vfs;
        const char *sched = pf->sched_mode > 0 ? gpuiov_sched_mode_name((unsigned)pf->sched_mode) : NULL;
        if (add(o, "quanta_ms", q) < 0)
                return NULL;
        for (unsigned i = 0; i < 4; i++)
                if (json_object_array_add(q, json_object_new_int(pf->quanta_ms[i])) < 0)
                        return NULL;
        if (add(o, "address", json_object_new_string(pf->addr)) < 0 ||
            add(o, "card", json_object_new_string(pf->card)) < 0 ||
            add(o, "phase", json_object_new_string(state_phase_name(pf->phase))) < 0 ||
            add(o, "generation", json_object_new_int64((int64_t)pf->generation)) < 0 ||
            add(o, "num_vfs", json_object_new_int64(pf->num_vfs)) < 0 ||
            add(o, "pf_driver", json_object_new_string(pf->pf_driver)) < 0 ||
            add(o, "orig_pf_driver", json_object_new_string(pf->orig_pf_driver)) < 0 ||
            add(o, "pf_reserve_mib", json_object_new_int64(pf->pf_reserve_mib)) < 0 ||
            add(o, "context", range_json(pf->context_offset_mib, pf->context_size_mib)) < 0 ||
            add(o, "sched_mode", json_object_new_int(pf->sched_mode)) < 0 || /* for older mxgpud */
            (sched && add(o, "scheduler", json_object_new_string(sched)) < 0) ||
            add(o, "vfs", vfs = json_object_new_array()) < 0)
                return NULL;
        for (size_t i = 0; i < pf->n_vfs; i++) {
                struct json_object *v = vf_json(&pf->vfs[i]);
                if (!v || json_object_array_add(vfs, v) < 0) {
                        json_object_put(v);
                        return NULL;
                }
        }
        return TAKE_PTR(o);
}

static struct json_object *assignment_json(const struct state_assignment *a) {
        struct json_object *o = json_object_new_object();
        if (!o)
                return NULL;
        if (add(o, "vf", json_object_new_string(a->vf)) < 0 ||
            add(o, "pool", json_object_new_string(a->pool)) < 0 ||
            add(o, "domain", json_object_new_string(a->domain)) < 0 ||
            add(o, "uuid", json_object_new_string(a->uuid)) < 0 ||
            add(o, "persistent", json_object_new_boolean(a->persistent)) < 0 ||
            add(o, "live", json_object_new_boolean(a->live)) < 0) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

static struct json_object *state_json(const struct mx_state *s, uint64_t generation) {
        _cleanup_(json_object_putp) struct json_object *o = json_object_new_object();
        struct json_object *pfs;
        if (!o || add(o, "version", json_object_new_int(STATE_VERSION)) < 0 ||
            add(o, "generation", json_object_new_int64((int64_t)generation)) < 0 ||
            add(o, "pfs", pfs = json_object_new_array()) < 0)
                return NULL;
        for (size_t i = 0; i < s->n_pfs; i++) {
                struct json_object *p = pf_json(&s->pfs[i]);
                if (!p || json_object_array_add(pfs, p) < 0) {
                        json_object_put(p);
                        return NULL;
                }
        }
        /* Written only when there is one: a state without VMs stays readable by older versions as is. */
        if (s->n_assignments) {
                struct json_object *as;
                if (add(o, "assignments", as = json_object_new_array()) < 0)
                        return NULL;
                for (size_t i = 0; i < s->n_assignments; i++) {
                        struct json_object *a = assignment_json(&s->assignments[i]);
                        if (!a || json_object_array_add(as, a) < 0) {
                                json_object_put(a);
                                return NULL;
                        }
                }
        }
        return TAKE_PTR(o);
}

/* --- from JSON: every field checked for type and range; anything off makes the file corrupt --- */

static int get_u64(struct json_object *o, const char *key, uint64_t max, uint64_t *ret) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int))
                return -EBADMSG;
        int64_t x = json_object_get_int64(v);
        if (x < 0 || (uint64_t)x > max)
                return -EBADMSG;
        *ret = (uint64_t)x;
        return 0;
}

#define GET_UINT(o, key, max, dst) ({                           \
        uint64_t _v;                                            \
        int _r = get_u64(o, key, max, &_v);                     \
        if (_r >= 0)                                            \
                (dst) = (__typeof__(dst))_v;                    \
        _r;                                                     \
})

static int get_str(struct json_object *o, const char *key, char *buf, size_t size) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
                return -EBADMSG;
        const char *s = json_object_get_string(v);
        size_t len = strlen(s);
        if (len >= size)
                return -EBADMSG;
        memcpy(buf, s, len + 1);
        return 0;
}

static int get_addr(struct json_object *o, const char *key, char buf[static PCI_ADDR_STRLEN]) {
        struct pci_addr a;
        char tmp[PCI_ADDR_STRLEN];
        int r = get_str(o, key, tmp, sizeof(tmp));
        if (r < 0 || pci_addr_parse(tmp, &a) < 0)
                return -EBADMSG;
        pci_addr_format(&a, buf);
        return 0;
}

static int get_range(struct json_object *o, const char *key, uint32_t *offset, uint32_t *size) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_object))
                return -EBADMSG;
        int r = GET_UINT(v, "offset_mib", UINT32_MAX, *offset);
        return r < 0 ? r : GET_UINT(v, "size_mib", UINT32_MAX, *size);
}

static int parse_vf(struct json_object *o, struct state_vf *v) {
        struct json_object *b;
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        int r = GET_UINT(o, "index", 0xffff, v->index);
        if (r >= 0)
                r = get_addr(o, "address", v->addr);
        if (r >= 0)
                r = get_range(o, "fb", &v->fb_offset_mib, &v->fb_size_mib);
        if (r >= 0)
                r = GET_UINT(o, "quanta_index", 3, v->quanta_index);
        if (r >= 0)
                r = get_str(o, "driver", v->driver, sizeof(v->driver));
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(o, "bound_by_us", &b) || !json_object_is_type(b, json_type_boolean))
                return -EBADMSG;
        v->bound_by_us = json_object_get_boolean(b);
        return 0;
}

static int parse_pf(struct json_object *o, struct state_pf *pf) {
        char phase[32];
        struct json_object *q, *vfs;
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        int r = get_addr(o, "address", pf->addr);
        if (r >= 0)
                r = get_str(o, "card", pf->card, sizeof(pf->card));
        if (r >= 0)
                r = get_str(o, "phase", phase, sizeof(phase));
        if (r >= 0)
                r = GET_UINT(o, "generation", INT64_MAX, pf->generation);
        if (r >= 0)
                r = GET_UINT(o, "num_vfs", 0xffff, pf->num_vfs);
        if (r >= 0)
                r = get_str(o, "pf_driver", pf->pf_driver, sizeof(pf->pf_driver));
        if (r >= 0)
                r = get_str(o, "orig_pf_driver", pf->orig_pf_driver, sizeof(pf->orig_pf_driver));
        if (r >= 0)
                r = GET_UINT(o, "pf_reserve_mib", UINT32_MAX, pf->pf_reserve_mib);
        if (r >= 0)
                r = get_range(o, "context", &pf->context_offset_mib, &pf->context_size_mib);
        if (r >= 0)
                r = GET_UINT(o, "sched_mode", 255, pf->sched_mode);
        if (r < 0)
                return r;
        /* The policy's name wins over the number (files before it have only the number). */
        struct json_object *sched;
        if (json_object_object_get_ex(o, "scheduler", &sched) && json_object_is_type(sched, json_type_string)) {
                int m = gpuiov_sched_mode_from_name(json_object_get_string(sched));
                if (m < 0)
                        return -EBADMSG;
                pf->sched_mode = m;
        }
        int p = state_phase_from_name(phase);
        if (p < 0)
                return -EBADMSG;
        pf->phase = (enum state_phase)p;
        if (!json_object_object_get_ex(o, "quanta_ms", &q) || !json_object_is_type(q, json_type_array) ||
            json_object_array_length(q) != 4)
                return -EBADMSG;
        for (size_t i = 0; i < 4; i++) {
                struct json_object *e = json_object_array_get_idx(q, i);
                if (!json_object_is_type(e, json_type_int) || json_object_get_int(e) < 0 || json_object_get_int(e) > 255)
                        return -EBADMSG;
                pf->quanta_ms[i] = (uint8_t)json_object_get_int(e);
        }
        if (!json_object_object_get_ex(o, "vfs", &vfs) || !json_object_is_type(vfs, json_type_array))
                return -EBADMSG;
        size_t n = json_object_array_length(vfs);
        if (n) {
                pf->vfs = calloc(n, sizeof(*pf->vfs));
                if (!pf->vfs)
                        return -ENOMEM;
        }
        pf->n_vfs = n; /* owned from here on, also on failure */
        for (size_t i = 0; i < n; i++) {
                r = parse_vf(json_object_array_get_idx(vfs, i), &pf->vfs[i]);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int get_bool(struct json_object *o, const char *key, bool *ret) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_boolean))
                return -EBADMSG;
        *ret = json_object_get_boolean(v);
        return 0;
}

static int parse_assignment(struct json_object *o, struct state_assignment *a) {
        if (!json_object_is_type(o, json_type_object))
                return -EBADMSG;
        int r = get_addr(o, "vf", a->vf);
        if (r >= 0)
                r = get_str(o, "pool", a->pool, sizeof(a->pool));
        if (r >= 0)
                r = get_str(o, "domain", a->domain, sizeof(a->domain));
        if (r >= 0)
                r = get_str(o, "uuid", a->uuid, sizeof(a->uuid));
        if (r >= 0)
                r = get_bool(o, "persistent", &a->persistent);
        if (r >= 0)
                r = get_bool(o, "live", &a->live);
        return r;
}

/* "assignments" is optional (absent in files written before VMs were assigned). */
static int parse_assignments(struct json_object *o, struct mx_state *s) {
        struct json_object *as;
        if (!json_object_object_get_ex(o, "assignments", &as))
                return 0;
        if (!json_object_is_type(as, json_type_array))
                return -EBADMSG;
        size_t n = json_object_array_length(as);
        if (n) {
                s->assignments = calloc(n, sizeof(*s->assignments));
                if (!s->assignments)
                        return -ENOMEM;
        }
        s->n_assignments = n;
        for (size_t i = 0; i < n; i++) {
                int r = parse_assignment(json_object_array_get_idx(as, i), &s->assignments[i]);
                for (size_t j = 0; r >= 0 && j < i; j++)
                        if (streq(s->assignments[j].vf, s->assignments[i].vf))
                                r = -EBADMSG; /* one VF, one assignment */
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_state(const char *text, size_t len, struct mx_state *ret) {
        enum json_tokener_error jerr;
        _cleanup_(json_object_putp) struct json_object *o = NULL;
        struct json_tokener *tok = json_tokener_new();
        if (!tok)
                return -ENOMEM;
        o = json_tokener_parse_ex(tok, text, (int)len);
        jerr = json_tokener_get_error(tok);
        /* the whole file must be one JSON value (trailing whitespace allowed) */
        size_t used = json_tokener_get_parse_end(tok);
        json_tokener_free(tok);
        if (!o || jerr != json_tokener_success || !json_object_is_type(o, json_type_object))
                return -EBADMSG;
        for (; used < len; used++)
                if (!strchr(" \t\r\n", text[used]))
                        return -EBADMSG;

        struct mx_state s;
        state_init(&s);
        unsigned version;
        struct json_object *pfs;
        int r = GET_UINT(o, "version", 0xffff, version);
        if (r < 0)
                return r;
        if (version > STATE_VERSION)
                return -EPROTONOSUPPORT;
        if (version < 1)
                return -EBADMSG;
        r = GET_UINT(o, "generation", INT64_MAX, s.generation);
        if (r < 0)
                return r;
        if (!json_object_object_get_ex(o, "pfs", &pfs) || !json_object_is_type(pfs, json_type_array))
                return -EBADMSG;
        size_t n = json_object_array_length(pfs);
        if (n) {
                s.pfs = calloc(n, sizeof(*s.pfs));
                if (!s.pfs)
                        return -ENOMEM;
        }
        s.n_pfs = n;
        for (size_t i = 0; i < n; i++) {
                r = parse_pf(json_object_array_get_idx(pfs, i), &s.pfs[i]);
                for (size_t j = 0; r >= 0 && j < i; j++)
                        if (streq(s.pfs[j].addr, s.pfs[i].addr))
                                r = -EBADMSG; /* one entry per PF */
                if (r < 0) {
                        state_done(&s);
                        return r;
                }
        }
        r = parse_assignments(o, &s);
        if (r < 0) {
                state_done(&s);
                return r;
        }
        *ret = s;
        return 0;
}

/* --- files --- */

static int fsync_dir(int dfd) {
        return fsync(dfd) < 0 ? negative_errno() : 0;
}

/* Remove the temporary files a save interrupted by a crash left behind. */
static void remove_stale_temps(int dfd) {
        int fd = dup(dfd);
        if (fd < 0)
                return;
        _cleanup_closedir_ DIR *d = fdopendir(fd);
        if (!d) {
                close(fd);
                return;
        }
        struct dirent *de;
        while ((de = readdir(d)))
                if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
                        (void)unlinkat(dfd, de->d_name, 0);
}

/* Rename the state file to state.json.corrupt-<time> (-<n> when that exists); its name in ret. */
static int move_aside(int dfd, const char *dir, char **ret) {
        char name[NAME_MAX];
        long t = (long)time(NULL);
        for (unsigned i = 0; i < 100; i++) {
                if (i == 0)
                        snprintf(name, sizeof(name), STATE_FILE CORRUPT_SUFFIX "%ld", t);
                else
                        snprintf(name, sizeof(name), STATE_FILE CORRUPT_SUFFIX "%ld-%u", t, i);
                if (faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                        continue;
                if (renameat(dfd, STATE_FILE, dfd, name) < 0)
                        return negative_errno();
                (void)fsync_dir(dfd);
                if (ret && asprintf(ret, "%s/%s", dir, name) < 0)
                        *ret = NULL;
                return 0;
        }
        return -EEXIST;
}

static int read_all(int fd, char **ret, size_t *ret_len) {
        struct stat st;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if ((uint64_t)st.st_size > STATE_MAX_BYTES)
                return -EBADMSG;
        _cleanup_free_ char *buf = malloc((size_t)st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        size_t len = 0;
        for (;;) {
                if (len >= (size_t)st.st_size + 1)
                        return -EBADMSG; /* grew while being read */
                ssize_t n = read(fd, buf + len, (size_t)st.st_size + 1 - len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (n == 0)
                        break;
                len += (size_t)n;
        }
        buf[len] = 0;
        *ret_len = len;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int load(const char *dir, struct mx_state *ret, char **ret_corrupt_path, bool tidy) {
        if (!dir || !*dir)
                return -EINVAL;
        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                if (errno == ENOENT && !tidy) {
                        state_init(ret);
                        return 0;
                }
                return negative_errno();
        }
        if (tidy)
                remove_stale_temps(dfd);
        _cleanup_close_ int fd = openat(dfd, STATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno != ENOENT)
                        return negative_errno();
                state_init(ret);
                return 0;
        }
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r = read_all(fd, &text, &len);
        if (r >= 0)
                r = parse_state(text, len, ret);
        if (r != -EBADMSG || !tidy)
                return r;
        /* Never lose it silently: keep it for a human, start empty. */
        int k = move_aside(dfd, dir, ret_corrupt_path);
        return k < 0 ? k : -EBADMSG;
}

int state_load(const char *dir, struct mx_state *ret, char **ret_corrupt_path) {
        return load(dir, ret, ret_corrupt_path, true);
}

int state_peek(const char *dir, struct mx_state *ret) {
        return load(dir, ret, NULL, false);
}

static int write_all(int fd, const char *buf, size_t len) {
        while (len > 0) {
                ssize_t n = write(fd, buf, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                buf += n;
                len -= (size_t)n;
        }
        return 0;
}

/* The generation after g. It stops at the largest value a load accepts: json-c reads any larger
 * number, a hand edit's say, as that value too, and one past it would be written negative and the file
 * taken for corrupt at the next load. */
static uint64_t next_generation(uint64_t g) {
        return g < INT64_MAX ? g + 1 : g;
}

static int save(const char *dir, struct mx_state *s, bool durable) {
        if (!dir || !*dir)
                return -EINVAL;
        _cleanup_(json_object_putp) struct json_object *o = state_json(s, next_generation(s->generation));
        if (!o)
                return -ENOMEM;
        const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED);
        if (!text)
                return -ENOMEM;

        _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return negative_errno();
        _cleanup_free_ char *tmp = NULL, *final = NULL;
        if (asprintf(&tmp, "%s/" TMP_PREFIX "XXXXXX", dir) < 0 || asprintf(&final, "%s/" STATE_FILE, dir) < 0)
                return -ENOMEM;
        _cleanup_close_ int fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        int r = write_all(fd, text, strlen(text));
        if (r >= 0)
                r = write_all(fd, "\n", 1);
        if (r >= 0 && fsync(fd) < 0)
                r = negative_errno();
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = negative_errno();
        /* The rename is the commit point: before it the old file is whole, after it the new one. */
        if (r >= 0 && rename(tmp, final) < 0)
                r = negative_errno();
        if (r < 0) {
                (void)unlink(tmp);
                return r;
        }
        r = durable ? fsync_dir(dfd) : 0;
        if (r < 0)
                return r;
        s->generation = next_generation(s->generation);
        s->version = STATE_VERSION;
        return 0;
}

int state_save(const char *dir, struct mx_state *s) {
        return save(dir, s, true);
}

int state_save_mark(const char *dir, struct mx_state *s) {
        return save(dir, s, false);
}
