// SPDX-License-Identifier: MIT
// VF pools for libvirt domains: the choice of a VF, attach/detach, lifecycle events, reset on return, reconciliation.
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <libvirt/virterror.h>

#include "control.h"
#include "ctlserver.h"
#include "manager.h"
#include "mxgpu/gpuiov_io.h"
#include "mxgpu/log.h"
#include "mxgpu/names.h"
#include "mxgpu/regio.h"
#include "mxgpu/sysfs.h"
#include "mxgpu/vfio.h"
#include "pool.h"
#include "virt.h"

static void say(char *why, size_t size, const char *fmt, ...) _printf_(3, 4);
static void say(char *why, size_t size, const char *fmt, ...) {
        if (!why || !size)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(why, size, fmt, ap);
        va_end(ap);
}

/* --- pure --- */

int pool_pick(const struct pool_vf *vfs, size_t n, const struct pool_request *req, size_t *ret_index, char *why,
              size_t why_size) {
        bool pool_seen = false;
        if (req->vf) {
                for (size_t i = 0; i < n; i++) {
                        const struct pool_vf *v = &vfs[i];
                        if (!streq(v->addr, req->vf))
                                continue;
                        if (req->pool && !streq(v->pool, req->pool)) {
                                say(why, why_size, "VF %s is in pool '%s', not '%s'", v->addr, v->pool, req->pool);
                                return -EINVAL;
                        }
                        if (v->domain[0]) {
                                say(why, why_size, "VF %s is assigned to %s", v->addr, v->domain);
                                return -EBUSY;
                        }
                        if (!v->usable || v->dirty) {
                                say(why, why_size, "VF %s cannot be assigned now: %s", v->addr,
                                    v->dirty ? "its reset after the last VM failed" : "it is not bound to vfio-pci");
                                return -EBUSY;
                        }
                        if (v->memory_mib < req->memory_min_mib) {
                                say(why, why_size, "VF %s has %" PRIu32 " MiB, less than the %" PRIu32 " MiB asked for", v->addr,
                                    v->memory_mib, req->memory_min_mib);
                                return -ENOSPC;
                        }
                        *ret_index = i;
                        return 0;
                }
                say(why, why_size, "no VF %s in any pool", req->vf);
                return -ENOENT;
        }
        size_t best = n;
        for (size_t i = 0; i < n; i++) {
                const struct pool_vf *v = &vfs[i];
                if (req->pool && !streq(v->pool, req->pool))
                        continue;
                pool_seen = true;
                if (v->domain[0] || !v->usable || v->dirty || v->memory_mib < req->memory_min_mib)
                        continue;
                if (best == n || v->memory_mib < vfs[best].memory_mib ||
                    (v->memory_mib == vfs[best].memory_mib && strcmp(v->addr, vfs[best].addr) < 0))
                        best = i;
        }
        if (best < n) {
                *ret_index = best;
                return 0;
        }
        if (req->pool && !pool_seen) {
                say(why, why_size, "no pool named '%s'", req->pool);
                return -ENOENT;
        }
        if (req->memory_min_mib)
                say(why, why_size, "pool exhausted: no free VF with at least %" PRIu32 " MiB in %s%s%s", req->memory_min_mib,
                    req->pool ? "pool '" : "any pool", req->pool ?: "", req->pool ? "'" : "");
        else
                say(why, why_size, "pool exhausted: no free VF in %s%s%s", req->pool ? "pool '" : "any pool", req->pool ?: "",
                    req->pool ? "'" : "");
        return -ENOSPC;
}

int pool_claim(struct pool_vf *vfs, size_t n, const struct pool_request *req, const char *domain, size_t *ret_index,
               char *why, size_t why_size) {
        size_t i;
        if (!domain || !*domain) {
                say(why, why_size, "a domain name is needed");
                return -EINVAL;
        }
        int r = pool_pick(vfs, n, req, &i, why, why_size);
        if (r < 0)
                return r;
        snprintf(vfs[i].domain, sizeof(vfs[i].domain), "%s", domain);
        *ret_index = i;
        return 0;
}

/* The value of attr='...' (or "...") within [tag, end). */
static bool xml_attr(const char *tag, const char *end, const char *attr, char *buf, size_t size) {
        size_t alen = strlen(attr);
        for (const char *p = tag; p && p < end; p++) {
                p = strstr(p, attr);
                if (!p || p >= end)
                        return false;
                if (p[-1] != ' ' && p[-1] != '\t' && p[-1] != '\n')
                        continue;
                const char *q = p + alen;
                while (*q == ' ')
                        q++;
                if (*q != '=')
                        continue;
                q++;
                while (*q == ' ')
                        q++;
                char quote = *q;
                if (quote != '\'' && quote != '"')
                        return false;
                const char *close = strchr(q + 1, quote);
                if (!close || close >= end || (size_t)(close - q - 1) >= size)
                        return false;
                memcpy(buf, q + 1, (size_t)(close - q - 1));
                buf[close - q - 1] = 0;
                return true;
        }
        return false;
}

int pool_hostdevs_from_xml(const char *xml, char (**ret)[PCI_ADDR_STRLEN], size_t *ret_n) {
        char (*list)[PCI_ADDR_STRLEN] = NULL;
        size_t n = 0;
        for (const char *p = xml; p && (p = strstr(p, "<hostdev")); ) {
                const char *end = strstr(p, "</hostdev>");
                const char *tag_end = strchr(p, '>');
                if (!end || !tag_end)
                        break;
                char type[16], dom[16], bus[16], slot[16], fn[16];
                const char *src = strstr(p, "<source");
                const char *addr = src && src < end ? strstr(src, "<address") : NULL;
                const char *addr_end = addr ? strchr(addr, '>') : NULL;
                if (xml_attr(p, tag_end, "type", type, sizeof(type)) && streq(type, "pci") && addr && addr_end && addr_end < end &&
                    xml_attr(addr, addr_end, "bus", bus, sizeof(bus)) && xml_attr(addr, addr_end, "slot", slot, sizeof(slot)) &&
                    xml_attr(addr, addr_end, "function", fn, sizeof(fn))) {
                        if (!xml_attr(addr, addr_end, "domain", dom, sizeof(dom)))
                                snprintf(dom, sizeof(dom), "0");
                        struct pci_addr a = {
                                .domain = (uint16_t)strtoul(dom, NULL, 0), .bus = (uint8_t)strtoul(bus, NULL, 0),
                                .dev = (uint8_t)strtoul(slot, NULL, 0), .fn = (uint8_t)strtoul(fn, NULL, 0),
                        };
                        void *nl = reallocarray(list, n + 1, sizeof(*list));
                        if (!nl) {
                                free(list);
                                return -ENOMEM;
                        }
                        list = nl;
                        pci_addr_format(&a, list[n++]);
                }
                p = end + strlen("</hostdev>");
        }
        *ret = list;
        *ret_n = n;
        return 0;
}

int pool_hostdev_xml(const char *addr, char *buf, size_t size) {
        struct pci_addr a;
        if (pci_addr_parse(addr, &a) < 0)
                return -EINVAL;
        /* managed='no': libvirt must not re-bind the VF to a host driver when the domain starts or stops;
         * mxgpud keeps it on vfio-pci. */
        int k = snprintf(buf, size,
                         "<hostdev mode='subsystem' type='pci' managed='no'><source>"
                         "<address domain='0x%04x' bus='0x%02x' slot='0x%02x' function='0x%x'/>"
                         "</source></hostdev>",
                         a.domain, a.bus, a.dev, a.fn);
        return k < 0 || (size_t)k >= size ? -EINVAL : 0;
}

int pool_nodedev_name(const char *addr, char *buf, size_t size) {
        struct pci_addr a;
        if (pci_addr_parse(addr, &a) < 0)
                return -EINVAL;
        int k = snprintf(buf, size, "pci_%04x_%02x_%02x_%x", a.domain, a.bus, a.dev, a.fn);
        return k < 0 || (size_t)k >= size ? -EINVAL : 0;
}

/* --- the daemon's pools --- */

struct pool {
        char (*published)[PCI_ADDR_STRLEN];   /* VFs found in libvirt's node device list (this connection) */
        size_t n_published;
        bool detach_unsupported;              /* the driver has no node device detach (test driver) */
};

static bool is_published(const struct pool *p, const char *addr) {
        for (size_t i = 0; p && i < p->n_published; i++)
                if (streq(p->published[i], addr))
                        return true;
        return false;
}

bool virt_vf_assigned(struct manager *m, const char *vf_addr, const char **ret_domain) {
        struct pci_addr a;
        char canon[PCI_ADDR_STRLEN];
        /* No assignments (the common case, asked per VF by List): nothing to canonicalise. */
        if (m->state.n_assignments == 0 || !vf_addr || pci_addr_parse(vf_addr, &a) < 0)
                return false;
        struct state_assignment *s = state_assignment_get(&m->state, pci_addr_format(&a, canon));
        if (!s || !s->domain[0])
                return false;
        if (ret_domain)
                *ret_domain = s->domain;
        return true;
}

int pool_collect(struct manager *m, struct pool_vf **ret, size_t *ret_n) {
        struct pool_vf *vfs = NULL;
        size_t n = 0;
        for (size_t i = 0; i < m->n_runs; i++) {
                const struct pf_run *run = &m->runs[i];
                if (!run->desired.managed || !run->desired.vfio)
                        continue;
                struct state_pf *sp = state_pf_get(&m->state, run->pf.addr);
                if (!sp)
                        continue;
                bool pf_ok = run->state == PF_READY || run->state == PF_DEGRADED;
                for (size_t k = 0; k < sp->n_vfs; k++) {
                        void *nv = reallocarray(vfs, n + 1, sizeof(*vfs));
                        if (!nv) {
                                free(vfs);
                                return -ENOMEM;
                        }
                        vfs = nv;
                        struct pool_vf *v = &vfs[n++];
                        *v = (struct pool_vf){ .index = sp->vfs[k].index, .memory_mib = sp->vfs[k].fb_size_mib };
                        snprintf(v->addr, sizeof(v->addr), "%s", sp->vfs[k].addr);
                        snprintf(v->pf, sizeof(v->pf), "%s", run->pf.addr);
                        snprintf(v->pool, sizeof(v->pool), "%s", run->desired.pool);
                        char drv[64] = "";
                        v->usable = pf_ok && pcidev_link(v->addr, LINK_DRIVER, drv, sizeof(drv)) >= 0 && streq(drv, DRV_VFIO_PCI);
                        const struct state_assignment *a = state_assignment_get(&m->state, v->addr);
                        if (a) {
                                snprintf(v->domain, sizeof(v->domain), "%s", a->domain);
                                v->dirty = !a->domain[0];
                        }
                }
        }
        *ret = vfs;
        *ret_n = n;
        return 0;
}

static void save(struct manager *m) {
        int r = state_save(m->state_dir, &m->state);
        if (r < 0)
                log_error_errno(r, "cannot save the state (VF assignments) in %s", m->state_dir);
}

static void pool_event(struct manager *m, const char *type, const char *vf, const char *domain, const char *message) {
        struct json_object *e = json_object_new_object();
        json_object_object_add(e, "domain", domain && *domain ? json_object_new_string(domain) : NULL);
        if (message)
                json_object_object_add(e, "message", json_object_new_string(message));
        manager_event(m, type, vf, -1, e);
}

/* Reset the VF and clear its framebuffer (per fb_clear) so the next VM sees nothing of the last. */
static int vf_scrub(struct manager *m, const char *vf) {
        manager_pf_changed(m, vf);
        int r = pci_function_reset(vf);
        if (r < 0 && r != -ENOENT) /* -ENOENT: no reset method; the framebuffer clear still matters */
                return log_dev_errno(LOG_ERR, vf, r, "cannot reset the VF returned to the pool");
        char pf[PCI_ADDR_STRLEN + 8];
        if (pcidev_link(vf, LINK_PHYSFN, pf, sizeof(pf)) < 0)
                return 0;
        const struct pf_run *run = manager_find_pf(m, pf);
        if (!run || !run->desired.fb_clear || !run->pf.gpuiov_cap || run->pf.layout == GPUIOV_NONE)
                return 0;
        const struct state_vf *sv = state_vf_get(state_pf_get(&m->state, pf), vf);
        if (!sv)
                return 0;
        int index = (int)sv->index;
        if (!gpuiov_cmd_supported(run->pf.layout, GPUIOV_CMD_CLEAR_VF_STATE)) {
                /* Not invented: hardware.md documents no way but GIM8's command (docs/gpuiov.md). */
                log_vf(LOG_WARNING, pf, index, "%s: the framebuffer of the VF returned to the pool is left uncleared: the "
                       "%s layout has no command to clear it (CLEAR_VF_STATE is GIM8's)", vf,
                       run->pf.layout == GPUIOV_TONGA ? "Tonga" : gpuiov_layout_name(run->pf.layout));
                return 0;
        }
        struct regio io = {};
        struct gpuiov_dev d;
        bool opened = false;
        r = regio_sysfs_open(pf, &io);
        if (r >= 0) {
                r = gpuiov_open(&io, run->pf.gpuiov_cap, run->pf.layout, &d);
                opened = r >= 0;
                if (opened)
                        r = gpuiov_clear_vf(&d, (unsigned)index);
                regio_close(&io);
        }
        if (r < 0 && opened) { /* the reason names the command and its window */
                char why[256];
                log_vf(LOG_ERR, pf, index, "cannot clear the framebuffer of the VF returned to the pool: %s",
                       gpuiov_strerror(&d, r, why, sizeof(why)));
                return r;
        }
        if (r < 0)
                return log_vf_errno(LOG_ERR, pf, index, r, "cannot clear the framebuffer of the VF returned to the pool");
        return 0;
}

/* The VF goes back to the pool: scrubbed, then free; dirty (kept, not handed out) when scrubbing failed. */
static void vf_release(struct manager *m, const char *vf, const char *why) {
        struct state_assignment *a = state_assignment_get(&m->state, vf);
        char domain[STATE_DOMAIN_MAX] = "";
        if (a)
                snprintf(domain, sizeof(domain), "%s", a->domain);
        int r = vf_scrub(m, vf);
        if (r < 0 && a) {
                a->domain[0] = 0;
                a->uuid[0] = 0;
        } else
                (void)state_assignment_remove(&m->state, vf);
        save(m);
        log_dev(LOG_INFO, vf, "returned to the pool%s%s (%s)%s", domain[0] ? " by " : "", domain, why,
                r < 0 ? "; kept out of the pool until a reset succeeds" : "");
        pool_event(m, "vf-released", vf, domain, why);
}

/* Retry the reset of VFs whose last one failed. */
static void scrub_dirty(struct manager *m) {
        for (size_t i = 0; i < m->state.n_assignments; i++) {
                if (m->state.assignments[i].domain[0])
                        continue;
                char vf[PCI_ADDR_STRLEN];
                snprintf(vf, sizeof(vf), "%s", m->state.assignments[i].vf);
                if (vf_scrub(m, vf) >= 0) {
                        (void)state_assignment_remove(&m->state, vf);
                        save(m);
                        i--;
                }
        }
}

/* Put every pool VF in libvirt's node device list view: found there, and detached for vfio (libvirt
 * then counts it among its inactive host devices and will not hand it to a managed hostdev's re-bind). */
static void publish(struct manager *m) {
        virConnectPtr conn = manager_virt_conn(m);
        struct pool *p = m->pool;
        if (!conn || !p)
                return;
        _cleanup_free_ struct pool_vf *vfs = NULL;
        size_t n = 0;
        if (pool_collect(m, &vfs, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++) {
                if (!vfs[i].usable || is_published(p, vfs[i].addr))
                        continue;
                char name[64];
                if (pool_nodedev_name(vfs[i].addr, name, sizeof(name)) < 0)
                        continue;
                virNodeDevicePtr dev = libvirt.virNodeDeviceLookupByName(conn, name);
                if (!dev) {
                        /* Published when libvirt's node device event says it is there. */
                        log_dev(LOG_DEBUG, vfs[i].addr, "not in libvirt's node device list (%s) yet", name);
                        continue;
                }
                if (!p->detach_unsupported && libvirt.virNodeDeviceDetachFlags(dev, "vfio", 0) < 0) {
                        if (virt_last_errno() == -EOPNOTSUPP)
                                p->detach_unsupported = true;
                        else
                                log_dev(LOG_WARNING, vfs[i].addr, "libvirt did not take it as detached: %s", virt_last_error());
                }
                libvirt.virNodeDeviceFree(dev);
                void *np = reallocarray(p->published, p->n_published + 1, sizeof(*p->published));
                if (!np)
                        continue;
                p->published = np;
                snprintf(p->published[p->n_published++], PCI_ADDR_STRLEN, "%s", vfs[i].addr);
        }
}

static bool in_list(char (*list)[PCI_ADDR_STRLEN], size_t n, const char *addr) {
        for (size_t i = 0; i < n; i++)
                if (streq(list[i], addr))
                        return true;
        return false;
}

/* The PCI hostdevs of a domain: its persistent definition and, when it runs, its live one. */
static int domain_hostdevs(virDomainPtr dom, char (**ret)[PCI_ADDR_STRLEN], size_t *ret_n, bool *ret_persistent,
                           bool *ret_active) {
        char (*all)[PCI_ADDR_STRLEN] = NULL;
        size_t n = 0;
        int persistent = libvirt.virDomainIsPersistent(dom), active = libvirt.virDomainIsActive(dom);
        if (persistent < 0 || active < 0)
                return virt_last_errno();
        for (int pass = 0; pass < 2; pass++) {
                if (pass == 0 && !persistent)
                        continue;
                if (pass == 1 && !active)
                        continue;
                _cleanup_free_ char *xml = libvirt.virDomainGetXMLDesc(dom, pass == 0 ? VIR_DOMAIN_XML_INACTIVE : 0);
                if (!xml) {
                        free(all);
                        return virt_last_errno();
                }
                char (*list)[PCI_ADDR_STRLEN] = NULL;
                size_t k = 0;
                if (pool_hostdevs_from_xml(xml, &list, &k) < 0) {
                        free(all);
                        return -ENOMEM;
                }
                for (size_t i = 0; i < k; i++) {
                        if (in_list(all, n, list[i]))
                                continue;
                        void *na = reallocarray(all, n + 1, sizeof(*all));
                        if (!na) {
                                free(list);
                                free(all);
                                return -ENOMEM;
                        }
                        all = na;
                        memcpy(all[n++], list[i], PCI_ADDR_STRLEN);
                }
                free(list);
        }
        *ret = all;
        *ret_n = n;
        *ret_persistent = persistent;
        *ret_active = active;
        return 0;
}

static bool assignment_of(const struct state_assignment *a, const char *name, const char *uuid) {
        if (!a->domain[0])
                return false;
        return uuid && a->uuid[0] ? streq(a->uuid, uuid) : streq(a->domain, name);
}

/* Compare a domain's hostdevs with the assignments: adopt pool VFs added by hand, return the ones
 * removed by hand, report conflicts. */
static void reconcile_domain(struct manager *m, virDomainPtr dom) {
        const char *name = libvirt.virDomainGetName(dom);
        char uuid[VIR_UUID_STRING_BUFLEN] = "";
        if (!name || libvirt.virDomainGetUUIDString(dom, uuid) < 0)
                return;
        char (*hd)[PCI_ADDR_STRLEN] = NULL;
        size_t n_hd = 0;
        bool persistent, active;
        int r = domain_hostdevs(dom, &hd, &n_hd, &persistent, &active);
        if (r < 0) {
                log_warning_errno(r, "domain %s: cannot read its definition", name);
                return;
        }
        _cleanup_free_ struct pool_vf *vfs = NULL;
        size_t n = 0;
        if (pool_collect(m, &vfs, &n) < 0) {
                free(hd);
                return;
        }
        bool changed = false;
        for (size_t i = 0; i < n_hd; i++) {
                const struct pool_vf *v = NULL;
                for (size_t k = 0; k < n; k++)
                        if (streq(vfs[k].addr, hd[i]))
                                v = &vfs[k];
                if (!v)
                        continue; /* not one of ours */
                struct state_assignment *a = state_assignment_get(&m->state, hd[i]);
                if (a && assignment_of(a, name, uuid)) {
                        if (!streq(a->domain, name)) { /* renamed */
                                snprintf(a->domain, sizeof(a->domain), "%s", name);
                                changed = true;
                        }
                        if (!a->uuid[0]) {
                                snprintf(a->uuid, sizeof(a->uuid), "%s", uuid);
                                changed = true;
                        }
                        continue;
                }
                char msg[512];
                if (a && a->domain[0]) {
                        snprintf(msg, sizeof(msg), "VF %s is in the definition of %s but assigned to %s: two VMs must not share it",
                                 hd[i], name, a->domain);
                        log_dev(LOG_ERR, hd[i], "%s", msg);
                        pool_event(m, "vf-conflict", hd[i], name, msg);
                        continue;
                }
                snprintf(msg, sizeof(msg), "hostdev added by hand to domain %s: recorded as its assignment", name);
                log_dev(LOG_WARNING, hd[i], "%s", msg);
                struct state_assignment na = { .persistent = persistent, .live = active };
                snprintf(na.vf, sizeof(na.vf), "%s", hd[i]);
                snprintf(na.pool, sizeof(na.pool), "%s", v->pool);
                snprintf(na.domain, sizeof(na.domain), "%s", name);
                snprintf(na.uuid, sizeof(na.uuid), "%s", uuid);
                if (state_assignment_set(&m->state, &na) >= 0)
                        changed = true;
                pool_event(m, "vf-adopted", hd[i], name, msg);
        }
        if (changed)
                save(m);
        /* Assignments of this domain that its definition lost. */
        for (size_t i = 0; i < m->state.n_assignments; i++) {
                struct state_assignment *a = &m->state.assignments[i];
                if (!assignment_of(a, name, uuid) || in_list(hd, n_hd, a->vf))
                        continue;
                char vf[PCI_ADDR_STRLEN];
                snprintf(vf, sizeof(vf), "%s", a->vf);
                log_dev(LOG_WARNING, vf, "hostdev removed by hand from domain %s", name);
                vf_release(m, vf, "hostdev removed from the domain by hand");
                i = (size_t)-1; /* the list changed: start over */
        }
        free(hd);
}

/* Every domain against the assignments: after a (re)connection and at start. */
static void reconcile_all(struct manager *m, virConnectPtr conn) {
        virDomainPtr *doms = NULL;
        int nd = libvirt.virConnectListAllDomains(conn, &doms, 0);
        if (nd < 0) {
                log_warning("cannot list libvirt's domains: %s; assignments not reconciled", virt_last_error());
                return;
        }
        for (int i = 0; i < nd; i++)
                reconcile_domain(m, doms[i]);
        /* Assignments of domains that no longer exist. */
        for (size_t i = 0; i < m->state.n_assignments; i++) {
                struct state_assignment *a = &m->state.assignments[i];
                if (!a->domain[0])
                        continue;
                bool found = false;
                for (int k = 0; k < nd && !found; k++) {
                        char uuid[VIR_UUID_STRING_BUFLEN];
                        const char *name = libvirt.virDomainGetName(doms[k]);
                        found = libvirt.virDomainGetUUIDString(doms[k], uuid) >= 0 && name && assignment_of(a, name, uuid);
                }
                if (found)
                        continue;
                char vf[PCI_ADDR_STRLEN], msg[STATE_DOMAIN_MAX + 64];
                snprintf(vf, sizeof(vf), "%s", a->vf);
                snprintf(msg, sizeof(msg), "domain %s no longer exists", a->domain);
                log_dev(LOG_WARNING, vf, "%s", msg);
                vf_release(m, vf, msg);
                i = (size_t)-1;
        }
        for (int i = 0; i < nd; i++)
                libvirt.virDomainFree(doms[i]);
        free(doms);
        scrub_dirty(m);
}

static void on_connected(struct manager *m, virConnectPtr conn) {
        struct pool *p = m->pool;
        if (p) {
                free(p->published);
                p->published = NULL;
                p->n_published = 0;
        }
        publish(m);
        reconcile_all(m, conn);
}

static void release_domain(struct manager *m, const char *name, const char *uuid, const char *why) {
        for (size_t i = 0; i < m->state.n_assignments; i++) {
                if (!assignment_of(&m->state.assignments[i], name, uuid))
                        continue;
                char vf[PCI_ADDR_STRLEN];
                snprintf(vf, sizeof(vf), "%s", m->state.assignments[i].vf);
                vf_release(m, vf, why);
                i = (size_t)-1;
        }
}

static bool domain_has_vfs(struct manager *m, const char *name, const char *uuid) {
        for (size_t i = 0; i < m->state.n_assignments; i++)
                if (assignment_of(&m->state.assignments[i], name, uuid))
                        return true;
        return false;
}

static int detach_one(virDomainPtr dom, const char *vf, unsigned flags);

static void on_domain_event(struct manager *m, virConnectPtr conn, virDomainPtr dom, int event, int detail) {
        const char *name = libvirt.virDomainGetName(dom);
        char uuid[VIR_UUID_STRING_BUFLEN] = "";
        if (!name || libvirt.virDomainGetUUIDString(dom, uuid) < 0)
                return;
        log_debug("domain %s: lifecycle event %d/%d", name, event, detail);
        switch (event) {
        case VIR_DOMAIN_EVENT_UNDEFINED: {
                /* A transient domain that still runs keeps its VFs until it stops. */
                int active = libvirt.virDomainIsActive(dom);
                if (active != 1)
                        release_domain(m, name, uuid, "the domain was undefined");
                break;
        }
        case VIR_DOMAIN_EVENT_STOPPED: {
                if (!domain_has_vfs(m, name, uuid))
                        break;
                int persistent = libvirt.virDomainIsPersistent(dom);
                if (persistent != 1) {
                        release_domain(m, name, uuid, "the transient domain stopped");
                        break;
                }
                if (!m->config->daemon.release_on_stop) {
                        /* Its definition keeps the hostdev: so does the pool. */
                        for (size_t i = 0; i < m->state.n_assignments; i++)
                                if (assignment_of(&m->state.assignments[i], name, uuid))
                                        m->state.assignments[i].live = false;
                        save(m);
                        break;
                }
                for (size_t i = 0; i < m->state.n_assignments; i++) {
                        struct state_assignment *a = &m->state.assignments[i];
                        if (!assignment_of(a, name, uuid))
                                continue;
                        char vf[PCI_ADDR_STRLEN];
                        snprintf(vf, sizeof(vf), "%s", a->vf);
                        if (detach_one(dom, vf, VIR_DOMAIN_AFFECT_CONFIG) < 0)
                                log_dev(LOG_WARNING, vf, "cannot remove the hostdev from %s's definition: %s", name, virt_last_error());
                        vf_release(m, vf, "the domain stopped (release_on_stop = yes)");
                        i = (size_t)-1;
                }
                break;
        }
        case VIR_DOMAIN_EVENT_DEFINED:
        case VIR_DOMAIN_EVENT_STARTED:
                /* A definition changed (perhaps by hand): compare it with the assignments. */
                reconcile_domain(m, dom);
                break;
        default:
                break;
        }
}

static void on_nodedev_event(struct manager *m, virConnectPtr conn, virNodeDevicePtr dev, int event) {
        if (event == VIR_NODE_DEVICE_EVENT_CREATED)
                publish(m);
        else if (event == VIR_NODE_DEVICE_EVENT_DELETED && m->pool) {
                /* Gone from libvirt's list (the VF went away): published again when it is back. */
                const char *name = libvirt.virNodeDeviceGetName(dev);
                for (size_t i = 0; name && i < m->pool->n_published; i++) {
                        char n[64];
                        if (pool_nodedev_name(m->pool->published[i], n, sizeof(n)) >= 0 && streq(n, name)) {
                                memmove(&m->pool->published[i], &m->pool->published[i + 1],
                                        (m->pool->n_published - i - 1) * sizeof(*m->pool->published));
                                m->pool->n_published--;
                                break;
                        }
                }
        }
}

int manager_pool_start(struct manager *m) {
        m->pool = calloc(1, sizeof(*m->pool));
        if (!m->pool)
                return -ENOMEM;
        /* An empty libvirt_uri: no libvirt at all (never loaded); the pools answer, attach and detach refuse. */
        if (!m->config->daemon.libvirt_uri[0])
                return 0;
        static const struct virt_callbacks cb = { .connected = on_connected, .domain_event = on_domain_event,
                                                  .nodedev_event = on_nodedev_event };
        return manager_virt_start(m, m->config->daemon.libvirt_uri, &cb);
}

void manager_pool_stop(struct manager *m) {
        manager_virt_stop(m);
        if (m->pool)
                free(m->pool->published);
        free(m->pool);
        m->pool = NULL;
}

void manager_pool_changed(struct manager *m) {
        publish(m);
}

/* --- handlers --- */

static int detach_one(virDomainPtr dom, const char *vf, unsigned flags) {
        char xml[512];
        int r = pool_hostdev_xml(vf, xml, sizeof(xml));
        if (r < 0)
                return r;
        return libvirt.virDomainDetachDeviceFlags(dom, xml, flags) < 0 ? virt_last_errno() : 0;
}

static const char *param_str(struct json_object *params, const char *key) {
        struct json_object *v = json_object_object_get(params, key);
        return v ? json_object_get_string(v) : NULL;
}

static bool param_bool(struct json_object *params, const char *key) {
        struct json_object *v = json_object_object_get(params, key);
        return v && json_object_get_boolean(v);
}

/* The connection, or an error reply and its negative errno (the caller returns it: no second reply). */
static int need_conn(struct ctl_call *call, struct manager *m, virConnectPtr *ret) {
        *ret = manager_virt_conn(m);
        if (*ret)
                return 0;
        int r;
        if (!m->config->daemon.libvirt_uri[0])
                (void)ctl_call_errorf(call, r = -EOPNOTSUPP, "libvirt is off in the config (libvirt_uri is empty)");
        else if (manager_virt_unavailable())
                (void)ctl_call_errorf(call, r = -EOPNOTSUPP, "%s", manager_virt_unavailable());
        else
                (void)ctl_call_errorf(call, r = -EAGAIN, "not connected to libvirt at %s (not running, or reconnecting): try again",
                                      m->config->daemon.libvirt_uri);
        return r;
}

static int canon_vf(struct ctl_call *call, const char *s, char out[static PCI_ADDR_STRLEN]) {
        struct pci_addr a;
        if (pci_addr_parse(s, &a) < 0)
                return ctl_call_errorf(call, -EINVAL, "vf '%s': give a PCI address like 0000:03:02.0", s);
        pci_addr_format(&a, out);
        return 0;
}

/* What Attach and Detach start with: the request's VF in canonical form (when given), the connection
 * and the domain by name. With missing_ok a domain libvirt does not know gives *ret NULL (Detach still
 * releases what the state file holds for that name); any other failure is the reply. */
static int request_domain(struct ctl_call *call, struct manager *m, const char *name, const char *vf_arg,
                          char vf_want[static PCI_ADDR_STRLEN], bool missing_ok, virDomainPtr *ret) {
        int r;
        if (vf_arg && (r = canon_vf(call, vf_arg, vf_want)) < 0)
                return r;
        virConnectPtr conn;
        if ((r = need_conn(call, m, &conn)) < 0)
                return r;
        virDomainPtr dom = libvirt.virDomainLookupByName(conn, name);
        if (!dom && !(missing_ok && virt_last_errno() == -ENOENT))
                return ctl_call_errorf(call, virt_last_errno(), "domain %s: %s", name, virt_last_error());
        *ret = dom;
        return 0;
}

int pool_handle_attach(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct manager *m = userdata;
        const char *name = param_str(params, "domain"), *pool = param_str(params, "pool"), *vf_arg = param_str(params, "vf");
        struct json_object *mem = json_object_object_get(params, "memory_min_mib");
        bool live = param_bool(params, "live"), config = param_bool(params, "config");
        char vf_want[PCI_ADDR_STRLEN];
        int r;
        if (mem && (json_object_get_int64(mem) < 0 || json_object_get_int64(mem) > UINT32_MAX))
                return ctl_call_errorf(call, -ERANGE, "memory_min_mib %" PRId64 ": use 0 to %u", json_object_get_int64(mem), UINT32_MAX);
        virDomainPtr dom;
        if ((r = request_domain(call, m, name, vf_arg, vf_want, false, &dom)) < 0)
                return r;
        int active = libvirt.virDomainIsActive(dom), persistent = libvirt.virDomainIsPersistent(dom);
        char uuid[VIR_UUID_STRING_BUFLEN] = "";
        (void)libvirt.virDomainGetUUIDString(dom, uuid);
        /* Default: the definition, and the running VM too when it runs. */
        if (!live && !config) {
                config = persistent == 1;
                live = active == 1;
        }
        if (live && active != 1) {
                libvirt.virDomainFree(dom);
                return ctl_call_errorf(call, -EINVAL, "domain %s is not running: --live needs a running domain", name);
        }
        if (config && persistent != 1) {
                libvirt.virDomainFree(dom);
                return ctl_call_errorf(call, -EINVAL, "domain %s is transient: --config needs a persistent domain", name);
        }

        _cleanup_free_ struct pool_vf *vfs = NULL;
        size_t n = 0, i;
        char why[512];
        r = pool_collect(m, &vfs, &n);
        if (r >= 0) {
                struct pool_request req = { .pool = pool, .memory_min_mib = mem ? (uint32_t)json_object_get_int64(mem) : 0,
                                            .vf = vf_arg ? vf_want : NULL };
                r = pool_claim(vfs, n, &req, name, &i, why, sizeof(why));
        } else
                snprintf(why, sizeof(why), "%s", strerror(-r));
        if (r < 0) {
                libvirt.virDomainFree(dom);
                return ctl_call_error(call, r, why);
        }
        /* Recorded before libvirt is asked: nothing else may pick it meanwhile. */
        struct state_assignment a = { .persistent = config, .live = live };
        snprintf(a.vf, sizeof(a.vf), "%s", vfs[i].addr);
        snprintf(a.pool, sizeof(a.pool), "%s", vfs[i].pool);
        snprintf(a.domain, sizeof(a.domain), "%s", name);
        snprintf(a.uuid, sizeof(a.uuid), "%s", uuid);
        r = state_assignment_set(&m->state, &a);
        if (r < 0) {
                libvirt.virDomainFree(dom);
                return ctl_call_error(call, r, NULL);
        }
        char xml[512];
        (void)pool_hostdev_xml(a.vf, xml, sizeof(xml));
        unsigned flags = (live ? VIR_DOMAIN_AFFECT_LIVE : 0) | (config ? VIR_DOMAIN_AFFECT_CONFIG : 0);
        if (libvirt.virDomainAttachDeviceFlags(dom, xml, flags) < 0) {
                r = virt_last_errno();
                snprintf(why, sizeof(why), "libvirt refused to attach VF %s to %s: %s", a.vf, name, virt_last_error());
                (void)state_assignment_remove(&m->state, a.vf);
                libvirt.virDomainFree(dom);
                log_dev(LOG_ERR, a.vf, "%s", why);
                return ctl_call_error(call, r == -ENOENT ? -EIO : r, why);
        }
        libvirt.virDomainFree(dom);
        save(m);
        log_dev(LOG_INFO, a.vf, "assigned to domain %s (pool %s%s%s)", name, a.pool, config ? ", persistent" : "", live ? ", live" : "");
        pool_event(m, "vf-assigned", a.vf, name, NULL);
        struct json_object *reply = json_object_new_object();
        json_object_object_add(reply, "domain", json_object_new_string(name));
        json_object_object_add(reply, "vf", json_object_new_string(a.vf));
        json_object_object_add(reply, "pf", json_object_new_string(vfs[i].pf));
        json_object_object_add(reply, "index", json_object_new_int((int)vfs[i].index));
        json_object_object_add(reply, "pool", json_object_new_string(a.pool));
        json_object_object_add(reply, "memory_mib", json_object_new_int64(vfs[i].memory_mib));
        json_object_object_add(reply, "live", json_object_new_boolean(live));
        json_object_object_add(reply, "config", json_object_new_boolean(config));
        return ctl_call_reply(call, reply);
}

int pool_handle_detach(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct manager *m = userdata;
        const char *name = param_str(params, "domain"), *vf_arg = param_str(params, "vf");
        char vf_want[PCI_ADDR_STRLEN];
        int r;
        virDomainPtr dom;
        if ((r = request_domain(call, m, name, vf_arg, vf_want, true, &dom)) < 0)
                return r;
        char uuid[VIR_UUID_STRING_BUFLEN] = "";
        if (dom)
                (void)libvirt.virDomainGetUUIDString(dom, uuid);
        struct json_object *done = json_object_new_array();
        for (size_t i = 0; i < m->state.n_assignments; i++) {
                struct state_assignment *a = &m->state.assignments[i];
                if (!assignment_of(a, name, dom ? uuid : NULL) || (vf_arg && !streq(a->vf, vf_want)))
                        continue;
                char vf[PCI_ADDR_STRLEN];
                snprintf(vf, sizeof(vf), "%s", a->vf);
                if (dom) {
                        int active = libvirt.virDomainIsActive(dom), persistent = libvirt.virDomainIsPersistent(dom);
                        unsigned flags = (persistent == 1 ? VIR_DOMAIN_AFFECT_CONFIG : 0) | (active == 1 ? VIR_DOMAIN_AFFECT_LIVE : 0);
                        r = detach_one(dom, vf, flags);
                        /* A hostdev already gone from one side still leaves the other to undo. */
                        if (r < 0 && flags == (VIR_DOMAIN_AFFECT_CONFIG | VIR_DOMAIN_AFFECT_LIVE)) {
                                int rc = detach_one(dom, vf, VIR_DOMAIN_AFFECT_CONFIG), rl = detach_one(dom, vf, VIR_DOMAIN_AFFECT_LIVE);
                                r = rc >= 0 || rl >= 0 ? 0 : r;
                        }
                        if (r < 0) {
                                /* Not in the definition (removed by hand): the assignment goes anyway. */
                                char hd_missing = 0;
                                char (*hd)[PCI_ADDR_STRLEN] = NULL;
                                size_t n_hd = 0;
                                bool p, act;
                                if (domain_hostdevs(dom, &hd, &n_hd, &p, &act) >= 0 && !in_list(hd, n_hd, vf))
                                        hd_missing = 1;
                                free(hd);
                                if (!hd_missing) {
                                        char why[512];
                                        snprintf(why, sizeof(why), "libvirt refused to detach VF %s from %s: %s", vf, name,
                                                 virt_last_error());
                                        libvirt.virDomainFree(dom);
                                        json_object_put(done);
                                        return ctl_call_error(call, r == -ENOENT ? -EIO : r, why);
                                }
                        }
                }
                vf_release(m, vf, "detached");
                json_object_array_add(done, json_object_new_string(vf));
                i = (size_t)-1;
        }
        if (dom)
                libvirt.virDomainFree(dom);
        if (json_object_array_length(done) == 0) {
                json_object_put(done);
                if (vf_arg)
                        return ctl_call_errorf(call, -ENOENT, "VF %s is not assigned to %s", vf_want, name);
                return ctl_call_errorf(call, -ENOENT, "domain %s has no VF from a pool%s", name, dom ? "" : " (and no such domain)");
        }
        struct json_object *reply = json_object_new_object();
        json_object_object_add(reply, "domain", json_object_new_string(name));
        json_object_object_add(reply, "vfs", done);
        return ctl_call_reply(call, reply);
}

int pool_handle_pool(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct manager *m = userdata;
        _cleanup_free_ struct pool_vf *vfs = NULL;
        size_t n = 0;
        int r = pool_collect(m, &vfs, &n);
        if (r < 0)
                return ctl_call_error(call, r, NULL);
        const char *only = param_str(params, "pool");
        struct json_object *pools = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                if (only && !streq(vfs[i].pool, only))
                        continue;
                bool first = true;
                for (size_t k = 0; k < i && first; k++)
                        first = !streq(vfs[k].pool, vfs[i].pool);
                if (!first)
                        continue;
                struct json_object *p = json_object_new_object(), *list = json_object_new_array();
                unsigned n_free = 0, n_used = 0;
                for (size_t k = i; k < n; k++) {
                        const struct pool_vf *v = &vfs[k];
                        if (!streq(v->pool, vfs[i].pool))
                                continue;
                        const char *st = v->domain[0] ? "assigned" : v->dirty ? "dirty" : v->usable ? "free" : "unusable";
                        n_free += streq(st, "free");
                        n_used += v->domain[0] != 0;
                        struct json_object *o = json_object_new_object();
                        json_object_object_add(o, "address", json_object_new_string(v->addr));
                        json_object_object_add(o, "pf", json_object_new_string(v->pf));
                        json_object_object_add(o, "index", json_object_new_int((int)v->index));
                        json_object_object_add(o, "memory_mib", json_object_new_int64(v->memory_mib));
                        json_object_object_add(o, "state", json_object_new_string(st));
                        json_object_object_add(o, "domain", v->domain[0] ? json_object_new_string(v->domain) : NULL);
                        json_object_object_add(o, "published", json_object_new_boolean(is_published(m->pool, v->addr)));
                        json_object_array_add(list, o);
                }
                json_object_object_add(p, "name", json_object_new_string(vfs[i].pool));
                json_object_object_add(p, "free", json_object_new_int((int)n_free));
                json_object_object_add(p, "used", json_object_new_int((int)n_used));
                json_object_object_add(p, "vfs", list);
                json_object_array_add(pools, p);
        }
        if (only && json_object_array_length(pools) == 0) {
                json_object_put(pools);
                return ctl_call_errorf(call, -ENOENT, "no pool named '%s'", only);
        }
        struct json_object *reply = json_object_new_object();
        json_object_object_add(reply, "pools", pools);
        json_object_object_add(reply, "libvirt_uri", json_object_new_string(m->config->daemon.libvirt_uri));
        json_object_object_add(reply, "connected", json_object_new_boolean(manager_virt_conn(m) != NULL));
        return ctl_call_reply(call, reply);
}
