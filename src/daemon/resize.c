// SPDX-License-Identifier: MIT
// Live changes through the control socket: Resize (a VF's framebuffer and time slice) and SetVFs (a PF's VF count).
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "ctlserver.h"
#include "manager.h"
#include "mxgpu/dropin.h"
#include "mxgpu/fballoc.h"
#include "mxgpu/log.h"
#include "mxgpu/names.h"
#include "mxgpu/paths.h"
#include "mxgpu/protocol.h"
#include "mxgpu/sysfs.h"
#include "mxgpu/vfio.h"
#include "resize.h"

/* The VM's name from a QEMU command line (-name guest=NAME,... or -name NAME), else NULL. */
static bool vm_name(long pid, char *buf, size_t size) {
        char path[64], cmd[8192];
        snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return false;
        ssize_t n = read(fd, cmd, sizeof(cmd) - 1);
        if (n <= 0)
                return false;
        cmd[n] = 0;
        for (char *p = cmd; p < cmd + n; p += strlen(p) + 1)
                if (streq(p, "-name") && p + strlen(p) + 1 < cmd + n) {
                        const char *v = p + strlen(p) + 1;
                        if (strncmp(v, "guest=", 6) == 0)
                                v += 6;
                        snprintf(buf, size, "%.*s", (int)strcspn(v, ","), v);
                        return true;
                }
        return false;
}

/* Who holds VFIO group `group` open: "VM NAME (pid N)" or "COMM (pid N)"; "an unknown process" when
 * /proc does not say (another namespace). Looks only, like vfio_groups_held(). */
static void group_holder(int group, char *buf, size_t size) {
        snprintf(buf, size, "an unknown process");
        pid_t pid = group >= 0 ? vfio_group_holder(group) : 0;
        if (pid <= 0)
                return;
        char name[256], comm[64] = "?", path[64];
        if (vm_name(pid, name, sizeof(name))) {
                snprintf(buf, size, "VM %s (pid %ld)", name, (long)pid);
                return;
        }
        snprintf(path, sizeof(path), "/proc/%ld/comm", (long)pid);
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (f && fgets(comm, sizeof(comm), f))
                comm[strcspn(comm, "\n")] = 0;
        snprintf(buf, size, "%s (pid %ld)", comm, (long)pid);
}

/* Who uses VF idx: the libvirt domain it is assigned to, else whoever holds its group open. */
static void vf_user(const struct pf_observed *o, unsigned idx, int group, char *buf, size_t size) {
        if (idx < PF_MAX_VFS && o->vf_domain[idx])
                snprintf(buf, size, "VM %s (assigned through libvirt)", o->vf_domain[idx]);
        else
                group_holder(group, buf, size);
}

/* "0000:03:02.1 (vf 1) by VM a (pid 7), ..." for the VFs in use; returns how many. */
static unsigned in_use_list(const struct pf_observed *o, char *buf, size_t size) {
        unsigned n = 0;
        size_t len = 0;
        buf[0] = 0;
        for (size_t i = 0; i < o->n_vfs; i++) {
                const struct vf_ref *v = &o->vfs[i];
                if (v->index >= PF_MAX_VFS || !o->vf_in_use[v->index])
                        continue;
                char who[320];
                vf_user(o, v->index, v->iommu_group, who, sizeof(who));
                int w = snprintf(buf + len, size - len, "%s%s (vf %u) by %s", n ? ", " : "", v->addr, v->index, who);
                if (w > 0 && (size_t)w < size - len)
                        len += (size_t)w;
                n++;
        }
        return n;
}

/* Can live changes be made to this PF at all? 0, or an error reply was sent (returns its result + 1 < 0 never). */
static const char *not_changeable(const struct pf_run *run, bool need_gpuiov) {
        if (run->state == PF_GONE)
                return "the PF is gone";
        if (!run->desired.managed)
                return "mxgpud does not manage this PF: give it a [gpu ...] or [device ...] section in the config";
        if (run->desired.pf_driver == MX_PF_DRIVER_GIM)
                return "gim owns SR-IOV on this PF and programs its VFs itself: change gim's configuration instead";
        if (need_gpuiov && run->desired.generic)
                return "a generic SR-IOV device has no framebuffer or scheduler to change";
        return NULL;
}

/* Run a dry cycle with `candidate` in place of the live overrides: problems in diags, the PF's run
 * (its actions and any refusal) copied to *ret_run. */
static int dry_cycle(struct manager *m, struct overrides *candidate, const char *pf, struct mx_diags *diags,
                     struct pf_run *ret_run) {
        struct overrides saved = m->overrides;
        m->overrides = *candidate;
        _cleanup_free_ struct pf_run *runs = NULL;
        size_t n = 0;
        int r = manager_cycle(m, m->config, true, pf, diags, &runs, &n);
        m->overrides = saved;
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                if (streq(runs[i].pf.addr, pf)) {
                        *ret_run = runs[i];
                        return 0;
                }
        return -ENODEV;
}

static struct json_object *actions_json(const struct pf_actions *a) {
        struct json_object *arr = json_object_new_array();
        for (size_t k = 0; k < a->n; k++) {
                struct json_object *o = json_object_new_object();
                json_object_object_add(o, "action", json_object_new_string(action_kind_name(a->a[k].kind)));
                json_object_object_add(o, "vf", a->a[k].vf >= 0 ? json_object_new_int(a->a[k].vf) : NULL);
                json_object_object_add(o, "what", json_object_new_string(a->a[k].what));
                json_object_array_add(arr, o);
        }
        return arr;
}

/* Commit: the candidate becomes the live overrides (saved), then the normal apply path runs for
 * that PF; the others are not touched. */
static int commit(struct manager *m, struct overrides *candidate, const char *pf, struct mx_diags *diags) {
        struct overrides old = m->overrides;
        m->overrides = *candidate;
        *candidate = (struct overrides){};
        int r = overrides_save(m->state_dir, &m->overrides);
        if (r < 0) {
                log_error_errno(r, "cannot save %s/%s", m->state_dir, OVERRIDES_FILE);
                overrides_done(&m->overrides);
                m->overrides = old;
                return r;
        }
        overrides_done(&old);
        return manager_apply_pf(m, pf, diags);
}

/* A change made with --persist. */
struct persist {
        char *path;                /* the drop-in */
        char *text;                /* its new contents, checked, not yet written */
};

static void persist_done(struct persist *p) {
        free(p->path);
        free(p->text);
        *p = (struct persist){};
}

/* --persist is checked before anything is written or changed: the drop-in as the edits leave it, read
 * with every other file as a reload would read them, must load without errors, and each key set must
 * win for this PF there. A later drop-in, or the same section again further down, would otherwise
 * undo the change at the next reload although the reply said it was saved. Returns 1 with *ret
 * filled, or the result of the error reply sent. */
static int persist_prepare(struct ctl_call *call, struct manager *m, const struct pf_run *run, const char *pf, int vf,
                           const struct mx_dropin_edit *edits, size_t n_edits, struct persist *ret) {
        struct persist p = {};
        if (asprintf(&p.path, "%s/%s", m->opt->config_dir, MXGPUCTL_DROPIN) < 0)
                return ctl_call_error(call, -ENOMEM, NULL);
        int r = mx_dropin_render(p.path, edits, n_edits, &p.text);
        if (r < 0) {
                r = ctl_call_errorf(call, r, "cannot read %s: %s; nothing was changed", p.path, strerror(-r));
                persist_done(&p);
                return r;
        }
        struct mx_diags diags = {};
        _cleanup_(mx_config_freep) struct mx_config *cfg = NULL;
        struct mx_config_load_opts o = { .replace_path = p.path, .replace_text = p.text };
        r = mx_config_load_opts(m->opt->config, m->opt->config_dir, &o, &cfg, &diags);
        if (r < 0) {
                if (!mx_diags_has_errors(&diags))
                        mx_diags_add(&diags, MX_DIAG_ERROR, m->opt->config, 0, NULL, NULL, NULL, "cannot read: %s",
                                     strerror(-r));
                persist_done(&p);
                return control_reply_problems(call, "--persist: the config files (with the change) are not valid, so "
                                              "the next reload would not apply it; nothing was changed", &diags);
        }
        struct pci_addr a;
        (void)pci_addr_parse(pf, &a);
        const struct mx_card *card = run->desired.generic ? NULL : run->pf.card;
        for (size_t i = 0; i < n_edits; i++) {
                const struct mx_dropin_edit *e = &edits[i];
                if (!e->key || !e->value)
                        continue;
                enum mx_key k = (enum mx_key)mx_key_from_name(e->key);
                const struct mx_setting *w = mx_config_winner(cfg, card, &a, streq(e->key, "vfs") ? -1 : vf, k);
                if (w && w->set && streq(w->file, p.path) && streq(w->raw, e->value))
                        continue;
                mx_diags_clear(&diags);
                mx_diags_add(&diags, MX_DIAG_ERROR, w ? w->file : NULL, w ? w->line : 0, e->key, w ? w->raw : NULL, pf,
                             "overrides %s = %s that --persist would write to %s: it is read later, so the next reload "
                             "would undo the change; edit or remove this line, or leave out --persist to change "
                             "only the running state", e->key, e->value, p.path);
                persist_done(&p);
                return control_reply_problems(call, "--persist would not last: another line wins; nothing was changed",
                                              &diags);
        }
        mx_diags_clear(&diags);
        *ret = p;
        return 1;
}

static unsigned slice_ms(const struct pf_observed *o, unsigned i) {
        if (o->sched.n_blocks == 0 || i >= GPUIOV_MAX_VFS)
                return 0;
        const struct gpuiov_sched_block *b = &o->sched.block[0];
        return b->quanta_ms[b->vf_index[i] & 3];
}

int control_resize(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct manager *m = userdata;
        _cleanup_free_ char *persisted = NULL;  /* before any goto out */
        struct persist pst = {};
        const char *dev = json_object_get_string(json_object_object_get(params, "device"));
        struct json_object *jmem = json_object_object_get(params, "memory_mib");
        struct json_object *jts = json_object_object_get(params, "time_slice_us");
        bool dry = json_object_get_boolean(json_object_object_get(params, "dry_run"));
        bool want_persist = json_object_get_boolean(json_object_object_get(params, "persist"));
        if (!jmem && !jts)
                return ctl_call_errorf(call, -EINVAL, "nothing to change: give memory_mib, time_slice_us or both");
        int64_t mem = jmem ? json_object_get_int64(jmem) : 0, ts = jts ? json_object_get_int64(jts) : 0;
        if (jmem && mem > UINT32_MAX)
                return ctl_call_errorf(call, -ERANGE, "memory %" PRId64 " MiB: too large: at most %u MiB (and no more than "
                                       "the PF's memory for VFs)", mem, UINT32_MAX / FB_ALIGN_MIB * FB_ALIGN_MIB);
        if (jmem && (mem < FB_MIN_VF_MIB || mem % FB_ALIGN_MIB))
                return ctl_call_errorf(call, -EINVAL, "memory %" PRId64 " MiB: a VF needs at least %u MiB in steps of %u MiB",
                                       mem, FB_MIN_VF_MIB, FB_ALIGN_MIB);
        if (jts && (ts <= 0 || ts > UINT32_MAX))
                return ctl_call_errorf(call, -ERANGE, "time slice %" PRId64 " us: out of range: use 1 ms to %u ms", ts,
                                       SCH_QUANTUM_MAX_MS);

        struct pci_addr a;
        char vf_addr[PCI_ADDR_STRLEN], pf[PCI_ADDR_STRLEN + 8];
        if (pci_addr_parse(dev, &a) < 0)
                return ctl_call_errorf(call, -EINVAL, "device '%s': give a VF's PCI address like 0000:03:02.1", dev);
        pci_addr_format(&a, vf_addr);
        int r = pcidev_link(vf_addr, LINK_PHYSFN, pf, sizeof(pf));
        if (r < 0)
                return ctl_call_errorf(call, -ENODEV, "%s is not a VF%s: give a VF's address (mxgpuctl list shows them)",
                                       vf_addr, r == -ENOENT && manager_find_pf(m, vf_addr) ? " but a PF" : "");
        struct pf_run *run = manager_find_pf(m, pf);
        if (!run)
                return ctl_call_errorf(call, -ENODEV, "the PF %s of %s is not known to the daemon", pf, vf_addr);
        const char *why = not_changeable(run, true);
        if (why)
                return ctl_call_errorf(call, -EOPNOTSUPP, "%s: %s", pf, why);

        struct pf_observed o;
        r = pf_observe(&run->pf, m->state.assignments, m->state.n_assignments, &o);
        if (r < 0)
                return ctl_call_errorf(call, r, "cannot read the PF %s: %s", pf, strerror(-r));
        int vf = -1;
        int group = -1;
        for (size_t k = 0; k < o.n_vfs; k++)
                if (streq(o.vfs[k].addr, vf_addr)) {
                        vf = (int)o.vfs[k].index;
                        group = o.vfs[k].iommu_group;
                }
        unsigned n_vfs = MIN(o.num_vfs, (unsigned)MX_MAX_GPU_VFS);
        if (vf < 0 || (unsigned)vf >= n_vfs || !o.have_gpuiov) {
                pf_observed_done(&o);
                return ctl_call_errorf(call, vf < 0 ? -ENODEV : -EOPNOTSUPP, "%s: %s", vf_addr,
                                       vf < 0 ? "no such VF" : "the card's GPU-IOV registers do not describe this VF");
        }
        /* hardware.md 4 holds only the framebuffer still while a VM uses the VF; a slice changes live. */
        if (jmem && o.vf_in_use[vf]) {
                char who[320];
                vf_user(&o, (unsigned)vf, group, who, sizeof(who));
                pf_observed_done(&o);
                return ctl_call_errorf(call, -EBUSY, "VF %d (%s) is in use by %s: a VF is resized only while no VM uses it; "
                                       "nothing was changed", vf, vf_addr, who);
        }

        struct overrides candidate = {};
        if (overrides_copy(&m->overrides, &candidate) < 0) {
                pf_observed_done(&o);
                return ctl_call_error(call, -ENOMEM, NULL);
        }
        struct override_pf *cp = overrides_add(&candidate, pf);
        struct fb_layout cur = { .area_start_mib = run->desired.vf_base_mib, .area_end_mib = o.part.fb_available_mib,
                                 .n_vfs = n_vfs }, out = cur;
        struct fb_move moves[MX_MAX_GPU_VFS];
        unsigned n_moves = 0;
        for (unsigned i = 0; i < n_vfs; i++)
                cur.vf[i] = (struct fb_vf){ o.part.vf[i].offset_mib, o.part.vf[i].size_mib, o.vf_in_use[i] };
        r = cp ? 0 : -ENOMEM;
        if (r >= 0 && jmem) {
                r = fb_resize(&cur, (unsigned)vf, (uint32_t)mem, &out, moves, &n_moves);
                if (r == -ENOSPC) {
                        uint32_t used = 0;
                        for (unsigned i = 0; i < n_vfs; i++)
                                used += i == (unsigned)vf ? 0 : cur.vf[i].size_mib;
                        uint32_t area = cur.area_end_mib - cur.area_start_mib;
                        r = ctl_call_errorf(call, -ENOSPC, "VF %d cannot have %" PRId64 " MiB: the VF area holds %u MiB, the other "
                                            "VFs use %u MiB%s; nothing was changed", vf, mem, area, used,
                                            used + mem <= area ? " and the VFs in use cannot move to make a contiguous gap" : "");
                        goto out;
                }
                if (r == -EINVAL) {
                        r = ctl_call_errorf(call, -EIO, "the card's current partition of %s is not a valid layout: run mxgpuctl apply "
                                            "first", pf);
                        goto out;
                }
                for (unsigned i = 0; r >= 0 && i < n_vfs; i++)
                        cp->vf[i] = (struct override_vf){ true, out.vf[i].offset_mib, out.vf[i].size_mib, cp->vf[i].time_slice_us };
        }
        if (r < 0) {
                r = ctl_call_error(call, r, NULL);
                goto out;
        }
        if (jts)
                cp->vf[vf].time_slice_us = (uint32_t)ts;
        cp->generic = false;

        struct mx_diags diags = {};
        struct pf_run *plan = calloc(1, sizeof(*plan));
        if (!plan) {
                r = ctl_call_error(call, -ENOMEM, NULL);
                goto out;
        }
        r = dry_cycle(m, &candidate, pf, &diags, plan);
        if (r == -EINVAL || mx_diags_has_errors(&diags)) {
                free(plan);
                r = control_reply_problems(call, "the change is not valid; nothing was changed", &diags);
                goto out;
        }
        mx_diags_clear(&diags);
        if (r >= 0 && plan->actions.refused[0])
                r = ctl_call_errorf(call, -EBUSY, "%s; nothing was changed", plan->actions.refused);
        else if (r < 0)
                r = ctl_call_error(call, r, NULL);
        else
                r = 1;
        struct json_object *acts = r == 1 ? actions_json(&plan->actions) : NULL;
        free(plan);
        if (r != 1)
                goto out;

        struct json_object *reply = json_object_new_object(), *mv = json_object_new_array();
        json_object_object_add(reply, "device", json_object_new_string(vf_addr));
        json_object_object_add(reply, "pf", json_object_new_string(pf));
        json_object_object_add(reply, "index", json_object_new_int(vf));
        json_object_object_add(reply, "memory_offset_mib", json_object_new_int64(jmem ? out.vf[vf].offset_mib : cur.vf[vf].offset_mib));
        json_object_object_add(reply, "memory_size_mib", json_object_new_int64(jmem ? out.vf[vf].size_mib : cur.vf[vf].size_mib));
        json_object_object_add(reply, "time_slice_ms", json_object_new_int64(jts ? ts / 1000 : slice_ms(&o, (unsigned)vf)));
        for (unsigned k = 0; k < n_moves; k++) {
                struct json_object *j = json_object_new_object();
                const char *maddr = NULL;
                for (size_t q = 0; q < o.n_vfs; q++)
                        if (o.vfs[q].index == moves[k].vf)
                                maddr = o.vfs[q].addr;
                json_object_object_add(j, "index", json_object_new_int((int)moves[k].vf));
                json_object_object_add(j, "address", maddr ? json_object_new_string(maddr) : NULL);
                json_object_object_add(j, "from_mib", json_object_new_int64(moves[k].from_mib));
                json_object_object_add(j, "to_mib", json_object_new_int64(moves[k].to_mib));
                json_object_object_add(j, "size_mib", json_object_new_int64(moves[k].size_mib));
                json_object_array_add(mv, j);
        }
        json_object_object_add(reply, "moves", mv);
        json_object_object_add(reply, "actions", acts);
        json_object_object_add(reply, "dry_run", json_object_new_boolean(dry));

        if (want_persist) {
                /* The change itself: this VF's size and time slice (the others keep what the config says). A
                 * dry run checks it too, so that it tells in advance whether --persist would last. */
                char sect[48], size[24], tsv[24];
                struct mx_dropin_edit edits[2];
                size_t ne = 0;
                snprintf(sect, sizeof(sect), "vf %s %d", pf, vf);
                snprintf(size, sizeof(size), "%" PRId64 "M", mem);
                snprintf(tsv, sizeof(tsv), "%" PRId64 "ms", ts / 1000);
                if (jmem)
                        edits[ne++] = (struct mx_dropin_edit){ sect, "vf_memory", size };
                if (jts)
                        edits[ne++] = (struct mx_dropin_edit){ sect, "time_slice", tsv };
                r = persist_prepare(call, m, run, pf, vf, edits, ne, &pst);
                if (r != 1) {
                        json_object_put(reply);
                        goto out;
                }
        }
        if (dry) {
                json_object_object_add(reply, "persisted", NULL);
                r = ctl_call_reply(call, reply);
                goto out;
        }
        if (pst.path) {
                r = mx_dropin_write(pst.path, pst.text);
                if (r < 0) {
                        json_object_put(reply);
                        r = ctl_call_errorf(call, r, "cannot write %s: %s; nothing was changed", pst.path, strerror(-r));
                        goto out;
                }
                persisted = TAKE_PTR(pst.path);
        }
        json_object_object_add(reply, "persisted", persisted ? json_object_new_string(persisted) : NULL);

        r = commit(m, &candidate, pf, &diags);
        mx_diags_clear(&diags);
        if (r < 0) {
                json_object_put(reply);
                r = ctl_call_errorf(call, r, "applying the resize failed: %s", strerror(-r));
                goto out;
        }
        /* Verify by reading the card back. */
        pf_observed_done(&o);
        run = manager_find_pf(m, pf); /* the cycle replaced the runs */
        r = !run ? -ENODEV : pf_observe(&run->pf, m->state.assignments, m->state.n_assignments, &o);
        if (r < 0) {
                json_object_put(reply);
                r = ctl_call_errorf(call, r, "cannot read %s back after the resize: %s", pf, strerror(-r));
                goto out;
        }
        char bad[256] = "";
        for (unsigned i = 0; i < n_vfs && jmem && !bad[0]; i++)
                if (o.part.vf[i].offset_mib != out.vf[i].offset_mib || o.part.vf[i].size_mib != out.vf[i].size_mib)
                        snprintf(bad, sizeof(bad), "VF %u reads back %u MiB at %u MiB, not %u MiB at %u MiB", i,
                                 o.part.vf[i].size_mib, o.part.vf[i].offset_mib, out.vf[i].size_mib, out.vf[i].offset_mib);
        if (jts && !bad[0] && slice_ms(&o, (unsigned)vf) != ts / 1000)
                snprintf(bad, sizeof(bad), "VF %d reads back a %u ms time slice, not %" PRId64 " ms", vf,
                         slice_ms(&o, (unsigned)vf), ts / 1000);
        if (bad[0]) {
                json_object_put(reply);
                r = ctl_call_errorf(call, -EIO, "%s: %s (%s)", pf, bad, run->reason[0] ? run->reason : "the card did not take it");
                goto out;
        }
        struct json_object *e = json_object_new_object();
        json_object_object_add(e, "address", json_object_new_string(vf_addr));
        json_object_object_add(e, "memory_offset_mib", json_object_new_int64(o.part.vf[vf].offset_mib));
        json_object_object_add(e, "memory_size_mib", json_object_new_int64(o.part.vf[vf].size_mib));
        json_object_object_add(e, "time_slice_ms", json_object_new_int64(slice_ms(&o, (unsigned)vf)));
        json_object_object_add(e, "moves", json_object_get(mv));
        manager_event(m, "vf-resized", pf, vf, e);
        log_vf(LOG_INFO, pf, vf, "resized live: %u MiB at %u MiB, %u ms time slice, %u other VF(s) moved%s",
               o.part.vf[vf].size_mib, o.part.vf[vf].offset_mib, slice_ms(&o, (unsigned)vf), n_moves,
               persisted ? " (persisted)" : "");
        r = ctl_call_reply(call, reply);
out:
        pf_observed_done(&o);
        overrides_done(&candidate);
        persist_done(&pst);
        return r;
}

int control_set_vfs(struct ctl_call *call, struct json_object *params, void *userdata) {
        struct manager *m = userdata;
        const char *dev = json_object_get_string(json_object_object_get(params, "device"));
        int64_t count = json_object_get_int64(json_object_object_get(params, "count"));
        bool dry = json_object_get_boolean(json_object_object_get(params, "dry_run"));
        bool want_persist = json_object_get_boolean(json_object_object_get(params, "persist"));
        struct pci_addr a;
        char pf[PCI_ADDR_STRLEN];
        if (pci_addr_parse(dev, &a) < 0)
                return ctl_call_errorf(call, -EINVAL, "device '%s': give a PF's PCI address like 0000:03:00.0", dev);
        pci_addr_format(&a, pf);
        if (count < 0 || count > UINT16_MAX)
                return ctl_call_errorf(call, -EINVAL, "count %" PRId64 ": give a VF count from 0 up", count);
        struct pf_run *run = manager_find_pf(m, pf);
        if (!run)
                return ctl_call_errorf(call, -ENODEV, "no PF at %s (mxgpuctl list shows the PFs)", pf);
        const char *why = not_changeable(run, false);
        if (why)
                return ctl_call_errorf(call, -EOPNOTSUPP, "%s: %s", pf, why);
        struct pf_observed o;
        int r = pf_observe(&run->pf, m->state.assignments, m->state.n_assignments, &o);
        if (r < 0)
                return ctl_call_errorf(call, r, "cannot read the PF %s: %s", pf, strerror(-r));
        char list[PF_REASON_MAX];
        unsigned busy = (unsigned)count != o.num_vfs ? in_use_list(&o, list, sizeof(list)) : 0;
        pf_observed_done(&o);
        if (busy)
                return ctl_call_errorf(call, -EBUSY, "the VF count of %s changes only through 0, which removes every VF, and "
                                       "%u VF(s) are in use: %s; nothing was changed", pf, busy, list);

        struct overrides candidate = {};
        if (overrides_copy(&m->overrides, &candidate) < 0)
                return ctl_call_error(call, -ENOMEM, NULL);
        struct override_pf *cp = overrides_add(&candidate, pf);
        if (!cp) {
                overrides_done(&candidate);
                return ctl_call_error(call, -ENOMEM, NULL);
        }
        cp->num_vfs = (int)count;
        cp->generic = run->desired.generic;
        /* Framebuffer pins were for the old count: the config lays out the new one. */
        for (unsigned i = 0; i < MX_MAX_GPU_VFS; i++) {
                cp->vf[i].memory = false;
                if (i >= count)
                        cp->vf[i].time_slice_us = 0;
        }

        struct mx_diags diags = {};
        struct pf_run *plan = calloc(1, sizeof(*plan));
        if (!plan) {
                overrides_done(&candidate);
                return ctl_call_error(call, -ENOMEM, NULL);
        }
        r = dry_cycle(m, &candidate, pf, &diags, plan);
        if (r == -EINVAL || mx_diags_has_errors(&diags)) {
                free(plan);
                overrides_done(&candidate);
                return control_reply_problems(call, "the change is not valid; nothing was changed", &diags);
        }
        mx_diags_clear(&diags);
        if (r < 0 || plan->actions.refused[0]) {
                r = r < 0 ? ctl_call_error(call, r, NULL)
                          : ctl_call_errorf(call, -EBUSY, "%s; nothing was changed", plan->actions.refused);
                free(plan);
                overrides_done(&candidate);
                return r;
        }
        struct json_object *reply = json_object_new_object();
        json_object_object_add(reply, "device", json_object_new_string(pf));
        json_object_object_add(reply, "actions", actions_json(&plan->actions));
        json_object_object_add(reply, "dry_run", json_object_new_boolean(dry));
        free(plan);
        struct persist pst = {};
        if (want_persist) {
                char sect[48], val[16], vsect[MX_VF_INDEX_MAX + 1][48];
                struct mx_dropin_edit edits[MX_VF_INDEX_MAX + 2];
                size_t ne = 0;
                snprintf(sect, sizeof(sect), "%s %s", cp->generic ? "device" : "gpu", pf);
                snprintf(val, sizeof(val), "%" PRId64, count);
                edits[ne++] = (struct mx_dropin_edit){ sect, "vfs", val };
                /* [vf] sections of VFs that no longer exist would make the config invalid. */
                for (unsigned i = (unsigned)count; i <= MX_VF_INDEX_MAX; i++) {
                        snprintf(vsect[i], sizeof(vsect[i]), "vf %s %u", pf, i);
                        edits[ne++] = (struct mx_dropin_edit){ vsect[i], NULL, NULL };
                }
                r = persist_prepare(call, m, run, pf, -1, edits, ne, &pst);
                if (r != 1) {
                        json_object_put(reply);
                        overrides_done(&candidate);
                        return r;
                }
        }
        if (dry) {
                json_object_object_add(reply, "num_vfs", json_object_new_int((int)count));
                json_object_object_add(reply, "state", NULL);
                json_object_object_add(reply, "reason", NULL);
                json_object_object_add(reply, "persisted", NULL);
                overrides_done(&candidate);
                persist_done(&pst);
                return ctl_call_reply(call, reply);
        }
        _cleanup_free_ char *persisted = NULL;
        if (pst.path) {
                r = mx_dropin_write(pst.path, pst.text);
                if (r < 0) {
                        json_object_put(reply);
                        overrides_done(&candidate);
                        r = ctl_call_errorf(call, r, "cannot write %s: %s; nothing was changed", pst.path, strerror(-r));
                        persist_done(&pst);
                        return r;
                }
                persisted = TAKE_PTR(pst.path);
                persist_done(&pst);
        }
        json_object_object_add(reply, "persisted", persisted ? json_object_new_string(persisted) : NULL);
        r = commit(m, &candidate, pf, &diags);
        mx_diags_clear(&diags);
        overrides_done(&candidate);
        if (r < 0) {
                json_object_put(reply);
                return ctl_call_errorf(call, r, "applying the VF count failed: %s", strerror(-r));
        }
        run = manager_find_pf(m, pf); /* the cycle replaced the runs */
        if (run) {
                json_object_object_add(reply, "num_vfs", json_object_new_int((int)run->num_vfs));
                json_object_object_add(reply, "state", json_object_new_string(pf_state_name(run->state)));
                json_object_object_add(reply, "reason", run->reason[0] ? json_object_new_string(run->reason) : NULL);
                struct json_object *e = json_object_new_object();
                json_object_object_add(e, "num_vfs", json_object_new_int((int)run->num_vfs));
                json_object_object_add(e, "state", json_object_new_string(pf_state_name(run->state)));
                manager_event(m, "vf-count-changed", pf, -1, e);
        }
        return ctl_call_reply(call, reply);
}
