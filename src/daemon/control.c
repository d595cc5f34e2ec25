// SPDX-License-Identifier: MIT
// Control-socket handlers: list, show, plan, apply, reload and monitor, over the manager's view of each PF.
#include <grp.h>
#include <string.h>

#include "control.h"
#include "ctlserver.h"
#include "manager.h"
#include "mxgpu/log.h"
#include "mxgpu/names.h"
#include "mxgpu/paths.h"
#include "mxgpu/sysfs.h"
#include "mxgpu/vfio.h"
#include "pool.h"
#include "resize.h"

static struct json_object *str_or_null(const char *s) {
        return s && *s ? json_object_new_string(s) : NULL;
}

static const char *sched_name(int mode) {
        return mode > 0 ? gpuiov_sched_mode_name((unsigned)mode) : NULL;
}

/* Time slice and share of VF i from the first scheduler block as the hardware holds it. */
static void vf_time(const struct pf_observed *o, unsigned i, int *ret_slice, double *ret_share) {
        *ret_slice = -1;
        *ret_share = -1;
        if (!o->have_gpuiov || o->sched.n_blocks == 0 || i >= GPUIOV_MAX_VFS)
                return;
        const struct gpuiov_sched_block *b = &o->sched.block[0];
        if (!(b->active & (1u << i)))
                return;
        unsigned sum = 0;
        for (unsigned k = 0; k < o->num_vfs && k < GPUIOV_MAX_VFS; k++)
                if (b->active & (1u << k))
                        sum += b->quanta_ms[b->vf_index[k] & 3];
        *ret_slice = b->quanta_ms[b->vf_index[i] & 3];
        /* Round-robin with every VF busy: s_i / sum(s) (hardware.md 5). */
        *ret_share = sum ? 100.0 * *ret_slice / sum : -1;
}

struct json_object *manager_pf_json(struct manager *m, size_t idx) {
        const struct pf_run *run = &m->runs[idx];
        struct json_object *pf = json_object_new_object();
        static const struct pf_observed none;
        int r = 0;
        struct pf_observed *seen = manager_pf_view(m, idx, &r);
        if (seen)
                pf_observed_use(seen, m->state.assignments, m->state.n_assignments);
        const struct pf_observed *o = seen ? seen : &none;

        mx_json_add_new(pf, "address", json_object_new_string(run->pf.addr));
        mx_json_add_new(pf, "model", str_or_null(run->pf.card ? run->pf.card->product : NULL));
        mx_json_add_new(pf, "vendor_id", json_object_new_int(run->pf.vendor));
        mx_json_add_new(pf, "device_id", json_object_new_int(run->pf.device));
        mx_json_add_new(pf, "state", json_object_new_string(r == -ENODEV ? "gone" : pf_state_name(run->state)));
        mx_json_add_new(pf, "reason", str_or_null(r < 0 && r != -ENODEV ? strerror(-r) : run->reason));
        mx_json_add_new(pf, "driver", str_or_null(r >= 0 ? o->driver : NULL));
        mx_json_add_new(pf, "num_vfs", json_object_new_int(r >= 0 ? (int)o->num_vfs : 0));
        mx_json_add_new(pf, "total_vfs", json_object_new_int(run->pf.total_vfs));
        mx_json_add_new(pf, "pool", str_or_null(run->desired.managed ? run->desired.pool : NULL));
        mx_json_add_new(pf, "override", overrides_pf_json(&m->overrides, run->pf.addr));
        const struct state_pf *sp = state_pf_get(&m->state, run->pf.addr);
        mx_json_add_new(pf, "scheduler", str_or_null(o->have_gpuiov && sp ? sched_name(sp->sched_mode) : NULL));
        if (r >= 0 && o->have_gpuiov) {
                struct json_object *mem = json_object_new_object();
                uint32_t used = 0, base = run->desired.managed ? run->desired.vf_base_mib : 0;
                for (unsigned i = 0; i < o->num_vfs && i < GPUIOV_MAX_VFS; i++)
                        used += o->part.vf[i].size_mib;
                if (!base)
                        base = ALIGN_UP(o->part.pf_reserve_mib + GPUIOV_CNTXT_MIB, FB_ALIGN_MIB);
                mx_json_add_new(mem, "total_mib", json_object_new_int((int)o->part.fb_available_mib));
                mx_json_add_new(mem, "reserved_mib", json_object_new_int((int)base));
                mx_json_add_new(mem, "vf_mib", json_object_new_int((int)used));
                mx_json_add_new(mem, "free_mib", json_object_new_int(
                        (int)(o->part.fb_available_mib > base + used ? o->part.fb_available_mib - base - used : 0)));
                mx_json_add_new(pf, "memory", mem);
        } else
                mx_json_add_new(pf, "memory", NULL);

        struct json_object *vfs = json_object_new_array();
        for (size_t k = 0; r >= 0 && k < o->n_vfs; k++) {
                const struct vf_ref *v = &o->vfs[k];
                struct json_object *vf = json_object_new_object();
                bool on_vfio = streq(v->driver, DRV_VFIO_PCI);
                mx_json_add_new(vf, "index", json_object_new_int((int)v->index));
                mx_json_add_new(vf, "address", json_object_new_string(v->addr));
                mx_json_add_new(vf, "driver", str_or_null(v->driver));
                if (o->have_gpuiov && v->index < GPUIOV_MAX_VFS) {
                        mx_json_add_new(vf, "memory_offset_mib", json_object_new_int((int)o->part.vf[v->index].offset_mib));
                        mx_json_add_new(vf, "memory_size_mib", json_object_new_int((int)o->part.vf[v->index].size_mib));
                } else {
                        mx_json_add_new(vf, "memory_offset_mib", NULL);
                        mx_json_add_new(vf, "memory_size_mib", NULL);
                }
                int slice;
                double share;
                vf_time(o, v->index, &slice, &share);
                mx_json_add_new(vf, "time_slice_ms", slice >= 0 ? json_object_new_int(slice) : NULL);
                mx_json_add_new(vf, "share_percent", share >= 0 ? json_object_new_double(share) : NULL);
                const char *state = "ready", *reason = NULL;
                if (run->desired.managed && run->desired.vfio && !on_vfio) {
                        state = "degraded";
                        reason = v->driver[0] ? "held by another driver" : "not bound to vfio-pci";
                } else if (!run->desired.managed)
                        state = "unmanaged";
                mx_json_add_new(vf, "state", json_object_new_string(state));
                mx_json_add_new(vf, "reason", str_or_null(reason));
                mx_json_add_new(vf, "in_use", json_object_new_boolean(v->index < PF_MAX_VFS && o->vf_in_use[v->index]));
                const char *vm = NULL;
                mx_json_add_new(vf, "vm", virt_vf_assigned(m, v->addr, &vm) ? json_object_new_string(vm) : NULL);
                char node[64];
                snprintf(node, sizeof(node), DEV_VFIO "/%d", v->iommu_group);
                mx_json_add_new(vf, "vfio_group", on_vfio && v->iommu_group >= 0 ? json_object_new_string(node) : NULL);
                json_object_array_add(vfs, vf);
        }
        mx_json_add_new(pf, "vfs", vfs);
        return pf;
}

static int h_list(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct manager *m = userdata;
        struct json_object *reply = json_object_new_object(), *pfs = json_object_new_array();
        /* One look at /proc for the whole reply, not one per PF. */
        vfio_scan_batch_begin();
        for (size_t i = 0; i < m->n_runs; i++)
                json_object_array_add(pfs, manager_pf_json(m, i));
        vfio_scan_batch_end();
        char summary[256];
        manager_summary(m, summary, sizeof(summary));
        json_object_object_add(reply, "pfs", pfs);
        json_object_object_add(reply, "summary", json_object_new_string(summary));
        json_object_object_add(reply, "cycles", json_object_new_int((int)m->cycles));
        return ctl_call_reply(call, reply);
}

static int h_show(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct manager *m = userdata;
        const char *dev = json_object_get_string(json_object_object_get(params, "device"));
        struct pci_addr a;
        if (pci_addr_parse(dev, &a) < 0)
                return ctl_call_errorf(call, -EINVAL, "device '%s': give a PCI address like 0000:03:00.0", dev);
        char want[PCI_ADDR_STRLEN];
        pci_addr_format(&a, want);
        for (size_t i = 0; i < m->n_runs; i++) {
                if (streq(m->runs[i].pf.addr, want)) {
                        struct json_object *reply = json_object_new_object();
                        json_object_object_add(reply, "pf", manager_pf_json(m, i));
                        return ctl_call_reply(call, reply);
                }
        }
        /* A VF: find its PF's entry. */
        char pf[PCI_ADDR_STRLEN + 8];
        if (pcidev_link(want, LINK_PHYSFN, pf, sizeof(pf)) >= 0)
                for (size_t i = 0; i < m->n_runs; i++) {
                        if (!streq(m->runs[i].pf.addr, pf))
                                continue;
                        struct json_object *p = manager_pf_json(m, i), *vfs = json_object_object_get(p, "vfs");
                        for (size_t k = 0; k < json_object_array_length(vfs); k++) {
                                struct json_object *vf = json_object_array_get_idx(vfs, k);
                                if (streq(json_object_get_string(json_object_object_get(vf, "address")), want)) {
                                        struct json_object *reply = json_object_new_object();
                                        json_object_object_add(reply, "vf", json_object_get(vf));
                                        json_object_object_add(reply, "parent", json_object_new_string(pf));
                                        json_object_put(p);
                                        return ctl_call_reply(call, reply);
                                }
                        }
                        json_object_put(p);
                }
        return ctl_call_errorf(call, -ENODEV, "no PF or VF at %s", want);
}

static struct json_object *runs_json(const struct pf_run *runs, size_t n, bool with_state) {
        struct json_object *pfs = json_object_new_array();
        for (size_t i = 0; i < n; i++) {
                const struct pf_run *run = &runs[i];
                if (run->state == PF_UNMANAGED)
                        continue;
                struct json_object *pf = json_object_new_object(), *acts = json_object_new_array();
                json_object_object_add(pf, "address", json_object_new_string(run->pf.addr));
                for (size_t k = 0; k < run->actions.n; k++) {
                        struct json_object *a = json_object_new_object();
                        json_object_object_add(a, "action", json_object_new_string(action_kind_name(run->actions.a[k].kind)));
                        json_object_object_add(a, "vf", run->actions.a[k].vf >= 0 ? json_object_new_int(run->actions.a[k].vf) : NULL);
                        json_object_object_add(a, "what", json_object_new_string(run->actions.a[k].what));
                        json_object_array_add(acts, a);
                }
                json_object_object_add(pf, "actions", acts);
                json_object_object_add(pf, "refused", str_or_null(run->actions.refused));
                if (with_state) {
                        json_object_object_add(pf, "state", json_object_new_string(pf_state_name(run->state)));
                        json_object_object_add(pf, "reason", str_or_null(run->reason));
                }
                json_object_array_add(pfs, pf);
        }
        return pfs;
}

int control_reply_problems(struct ctl_call *call, const char *message, struct mx_diags *diags) {
        struct json_object *p = json_object_new_object();
        json_object_object_add(p, "message", json_object_new_string(message));
        json_object_object_add(p, "errno", json_object_new_int(EINVAL));
        json_object_object_add(p, "problems", mx_diags_to_json(diags));
        mx_diags_clear(diags);
        return ctl_call_error_name(call, MX_INTERFACE ".InvalidConfig", p);
}

/* The actions a cycle would take, changing nothing: for Plan (the files on disk, without the live
 * overrides, as a reload would) and for Apply's dry run (the config in force, with them). */
static int reply_dry_run(struct ctl_call *call, struct manager *m, bool as_reload) {
        struct mx_diags diags = {};
        _cleanup_(mx_config_freep) struct mx_config *cfg = NULL;
        _cleanup_free_ struct pf_run *runs = NULL;
        size_t n = 0;
        int r = 0;
        if (as_reload) {
                r = manager_load_config(m, &cfg, &diags);
                if (r >= 0) {
                        struct overrides live = m->overrides;
                        m->overrides = (struct overrides){};
                        r = manager_cycle(m, cfg, true, NULL, &diags, &runs, &n);
                        m->overrides = live;
                }
        } else
                r = manager_cycle(m, m->config, true, NULL, &diags, &runs, &n);
        if (r == -EINVAL || mx_diags_has_errors(&diags))
                return control_reply_problems(call, "the config is not valid; nothing was changed", &diags);
        mx_diags_clear(&diags);
        if (r < 0)
                return ctl_call_error(call, r, NULL);
        struct json_object *reply = json_object_new_object();
        json_object_object_add(reply, "pfs", runs_json(runs, n, false));
        return ctl_call_reply(call, reply);
}

static int h_plan(struct ctl_call *call, struct json_object *params, void *userdata) {
        return reply_dry_run(call, userdata, true);
}

static int do_apply(struct ctl_call *call, struct manager *m, bool reread) {
        struct mx_diags diags = {};
        int r = manager_apply(m, reread, &diags);
        if (r == -EINVAL)
                return control_reply_problems(call, "the config is not valid; nothing was changed", &diags);
        mx_diags_clear(&diags);
        if (r < 0)
                return ctl_call_error(call, r, NULL);
        struct json_object *reply = json_object_new_object();
        char summary[256];
        manager_summary(m, summary, sizeof(summary));
        json_object_object_add(reply, "summary", json_object_new_string(summary));
        json_object_object_add(reply, "pfs", runs_json(m->runs, m->n_runs, true));
        return ctl_call_reply(call, reply);
}

static int h_apply(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct json_object *dry = json_object_object_get(params, "dry_run");
        if (dry && json_object_get_boolean(dry))
                return reply_dry_run(call, userdata, false);
        return do_apply(call, userdata, false);
}

static int h_reload(struct ctl_call *call, struct json_object *params, void *userdata) {
        return do_apply(call, userdata, true);
}

static int h_monitor(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct json_object *hello = json_object_new_object();
        json_object_object_add(hello, "type", json_object_new_string("subscribed"));
        int r = ctl_call_reply_more(call, hello);
        return r < 0 ? r : ctl_call_subscribe(call);
}

void manager_event(struct manager *m, const char *type, const char *dev, int vf, struct json_object *extra) {
        if (!m->control) {
                json_object_put(extra);
                return;
        }
        struct json_object *e = extra ? extra : json_object_new_object();
        json_object_object_add(e, "type", json_object_new_string(type));
        json_object_object_add(e, "device", str_or_null(dev));
        if (vf >= 0)
                json_object_object_add(e, "vf", json_object_new_int(vf));
        ctl_server_broadcast_event(m->control, e);
}

/* The methods that change a PF: its view is read again after each call, whatever the outcome
 * (a failed call may have changed half of it). */
#define CHANGING(name, handler)                                                                  \
        static int name(struct ctl_call *call, struct json_object *params, void *userdata) {     \
                int r = handler(call, params, userdata);                                          \
                const char *dev = json_object_get_string(json_object_object_get(params, "device")); \
                if (!dev)                                                                         \
                        dev = json_object_get_string(json_object_object_get(params, "vf"));       \
                manager_pf_changed(userdata, dev);                                                \
                return r;                                                                         \
        }
CHANGING(h_resize, control_resize)
CHANGING(h_set_vfs, control_set_vfs)
CHANGING(h_attach, pool_handle_attach)
CHANGING(h_detach, pool_handle_detach)

int manager_control_start(struct manager *m, const struct mx_config *cfg) {
        static const struct ctl_method methods[] = {
                { MX_INTERFACE ".List", h_list },     { MX_INTERFACE ".Show", h_show },
                { MX_INTERFACE ".Plan", h_plan },     { MX_INTERFACE ".Apply", h_apply },
                { MX_INTERFACE ".Reload", h_reload }, { MX_INTERFACE ".Monitor", h_monitor },
                { MX_INTERFACE ".Resize", h_resize },   { MX_INTERFACE ".SetVFs", h_set_vfs },
                { MX_INTERFACE ".Attach", h_attach },   { MX_INTERFACE ".Detach", h_detach },
                { MX_INTERFACE ".Pool", pool_handle_pool },
        };
        gid_t group = (gid_t)-1;
        const char *gname = cfg->daemon.socket_group;
        if (gname) {
                struct group *g = getgrnam(gname);
                if (!g)
                        log_warning("socket_group = %s: no such group; only root may use the control socket", gname);
                else
                        group = g->gr_gid;
        }
        const char *path = m->opt->socket ? m->opt->socket : cfg->daemon.socket_path;
        return ctl_server_new(m->event, path, group, methods, ARRAY_SIZE(methods), m, &m->control);
}

void manager_control_stop(struct manager *m) {
        m->control = ctl_server_free(m->control);
}
