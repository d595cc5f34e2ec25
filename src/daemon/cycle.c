// SPDX-License-Identifier: MIT
// One apply cycle: discover, resolve the config against every PF, apply each PF on its own thread, save state.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manager.h"
#include "mxgpu/clock.h"
#include "mxgpu/log.h"
#include "mxgpu/names.h"
#include "mxgpu/parallel.h"
#include "mxgpu/paths.h"
#include "mxgpu/sysfs.h"

int manager_load_config(struct manager *m, struct mx_config **ret, struct mx_diags *diags) {
        _cleanup_(mx_config_freep) struct mx_config *partial = NULL;
        struct mx_config_load_opts o = { .dropin_dir_required = m->opt->config_dir_given, .ret_partial = &partial };
        int r = mx_config_load_opts(m->opt->config, m->opt->config_dir, &o, ret, diags);
        /* the loader says what it could not open or parse; only a failure it did not explain is added */
        if (r < 0 && !mx_diags_has_errors(diags))
                mx_diags_add(diags, MX_DIAG_ERROR, m->opt->config, 0, NULL, NULL, NULL, "cannot read: %s", strerror(-r));
        /* Refused values do not hide the other problems: what could be read is still checked against the
         * cards. The cycle stops at its resolve (diags has errors), before anything is touched. */
        if (r == -EINVAL && partial) {
                _cleanup_free_ struct pf_run *runs = NULL;
                size_t n = 0;
                (void)manager_cycle(m, partial, true, NULL, diags, &runs, &n);
        }
        return r;
}

static int vf_parent(const struct pci_addr *vf, struct pci_addr *ret_pf) {
        char a[PCI_ADDR_STRLEN], pf[PCI_ADDR_STRLEN + 8];
        int r = pcidev_link(pci_addr_format(vf, a), LINK_PHYSFN, pf, sizeof(pf));
        return r < 0 ? r : pci_addr_parse(pf, ret_pf);
}

/* What resolve needs to know about a PF, read from discovery and the card's own registers. */
static int pf_facts_from(const struct pci_pf *pf, struct pf_facts *ret) {
        struct pf_facts f = {
                .vendor = pf->vendor, .device = pf->device, .card = pf->card, .total_vfs = pf->total_vfs,
                .pf_bar0_mib = (uint32_t)(pf->bar0_size >> 20), .layout = pf->layout,
                .driver = pf->driver[0] ? pf->driver : NULL,
        };
        int r = pci_addr_parse(pf->addr, &f.addr);
        if (r < 0)
                return r;
        if (pf->card && pf->gpuiov_cap && pf->layout != GPUIOV_NONE) {
                struct regio io = {};
                struct gpuiov_dev d;
                r = regio_sysfs_open(pf->addr, &io);
                if (r < 0)
                        return r;
                r = gpuiov_open(&io, pf->gpuiov_cap, pf->layout, &d);
                regio_close(&io);
                if (r < 0)
                        return r;
                f.fb_available_mib = d.fb_available_mib;
        } else if (pf->card) {
                /* A known card without its GPU-IOV capability: manage it as a generic device. */
                f.card = NULL;
                f.layout = GPUIOV_NONE;
        }
        *ret = f;
        return 0;
}

#define FACTS_PARALLEL 8

struct facts_job {
        const struct pci_pf *pf;
        struct pf_facts facts;
        int r;
        bool resolved;
};

static void facts_one(size_t i, void *userdata) {
        struct facts_job *job = &((struct facts_job *)userdata)[i];
        job->r = pf_facts_from(job->pf, &job->facts);
}

static void *run_thread(void *p) {
        pf_apply(p);
        return NULL;
}

static void record(struct mx_state *st, const struct pf_run *run) {
        struct state_pf *sp = state_pf_add(st, run->pf.addr);
        if (!sp)
                return;
        const struct pf_desired *d = &run->desired;
        if (!sp->orig_pf_driver[0] && sp->phase == STATE_PHASE_NONE)
                snprintf(sp->orig_pf_driver, sizeof(sp->orig_pf_driver), "%s", run->pf.driver);
        snprintf(sp->card, sizeof(sp->card), "%s", run->pf.card && !d->generic ? run->pf.card->model : "");
        sp->phase = run->state == PF_READY || run->state == PF_DEGRADED ? STATE_PHASE_APPLIED : STATE_PHASE_FAILED;
        if (run->error == 0 || run->state != PF_FAILED) {
                sp->num_vfs = run->num_vfs;
                snprintf(sp->pf_driver, sizeof(sp->pf_driver), "%s",
                         d->pf_driver == MX_PF_DRIVER_GIM ? DRV_GIM : d->pf_driver == MX_PF_DRIVER_KEEP ? run->pf.driver : DRV_PCI_PF_STUB);
                /* A change that failed with the VFs kept as they were: what they kept, not what was asked. */
                const struct pf_stayed *kept = run->stayed ? &run->stayed_as : NULL;
                if (kept && !d->generic && kept->gpuiov) {
                        sp->pf_reserve_mib = kept->part.pf_reserve_mib;
                        sp->context_offset_mib = kept->part.context.offset_mib;
                        sp->context_size_mib = kept->part.context.size_mib;
                        if (kept->mode)
                                sp->sched_mode = kept->mode;
                        if (kept->sched)
                                memcpy(sp->quanta_ms, kept->quanta_ms, sizeof(sp->quanta_ms));
                } else if (!kept && !d->generic) {
                        sp->pf_reserve_mib = d->pf_reserve_mib;
                        sp->context_offset_mib = d->context_offset_mib;
                        sp->context_size_mib = d->context_size_mib;
                        sp->sched_mode = d->scheduler;
                        memcpy(sp->quanta_ms, d->quanta_options, sizeof(sp->quanta_ms));
                }
                /* Record the VFs that exist, with their addresses as the kernel numbered them: as the
                 * run's verification saw them a moment ago, or listed now. */
                _cleanup_free_ struct vf_ref *listed = NULL;
                const struct vf_ref *present = run->vfs;
                size_t n_present = run->n_vfs;
                if (!run->listed) {
                        if (sriov_list_vfs(run->pf.addr, &listed, &n_present) < 0)
                                n_present = 0;
                        present = listed;
                }
                /* every VF, not only the 16 a GPU-IOV layout describes: a generic PF has up to 256, and
                 * the pool VMs draw from is built from this list */
                _cleanup_free_ struct state_vf *vfs = calloc(MAX(MIN(n_present, (size_t)MX_MAX_VFS), (size_t)1),
                                                             sizeof(*vfs));
                if (!vfs) {
                        log_dev_errno(LOG_ERR, run->pf.addr, -ENOMEM, "cannot record the VFs in the state");
                        return;
                }
                size_t n = 0;
                for (size_t k = 0; k < n_present && n < MX_MAX_VFS; k++) {
                        size_t i = present[k].index;
                        if (i >= (kept ? run->num_vfs : d->num_vfs) || i >= MX_MAX_VFS)
                                continue;
                        vfs[n].index = (unsigned)i;
                        snprintf(vfs[n].addr, sizeof(vfs[n].addr), "%s", present[k].addr);
                        if (kept && !d->generic && kept->gpuiov && i < kept->part.n_vfs && i < MX_MAX_GPU_VFS) {
                                vfs[n].fb_offset_mib = kept->part.vf[i].offset_mib;
                                vfs[n].fb_size_mib = kept->part.vf[i].size_mib;
                                vfs[n].quanta_index = kept->sched ? kept->vf_index[i] : 0;
                        } else if (!kept && !d->generic && i < MX_MAX_GPU_VFS) {
                                vfs[n].fb_offset_mib = d->vf[i].fb_offset_mib;
                                vfs[n].fb_size_mib = d->vf[i].fb_size_mib;
                                vfs[n].quanta_index = d->vf[i].quanta_index;
                        }
                        /* Kept VFs: on vfio-pci by our hand if the record said so before. */
                        const struct state_vf *before = kept ? state_vf_get(sp, present[k].addr) : NULL;
                        bool ours = kept ? before && before->bound_by_us : d->vfio;
                        if (ours && streq(present[k].driver, DRV_VFIO_PCI)) {
                                snprintf(vfs[n].driver, sizeof(vfs[n].driver), DRV_VFIO_PCI);
                                vfs[n].bound_by_us = true;
                        }
                        n++;
                }
                state_pf_set_vfs(sp, vfs, n);
        }
}

static void drop_assignments(struct pf_run *runs, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(runs[i].assigned);
                runs[i].assigned = NULL;
                runs[i].n_assigned = 0;
        }
}

static bool pf_may_apply(const struct pf_run *run) {
        return run->desired.managed;
}

int manager_cycle(struct manager *m, struct mx_config *cfg, bool dry_run, const char *only, struct mx_diags *diags,
                  struct pf_run **ret_runs, size_t *ret_n) {
        _cleanup_free_ struct pci_pf *pfs = NULL;
        size_t n = 0;
        int r;
        /* Phase times, logged at debug: where a cycle's time goes (docs/performance.md). */
        uint64_t t_start = mx_now_usec(), t_scan, t_apply, t_threads, t_intent = 0;
        if (only && manager_find_pf(m, only)) {
                /* A change to one known PF: read that one again; the bus scan, which reads every
                 * function including every VF, is for cycles that look at everything. */
                pfs = calloc(m->n_runs, sizeof(*pfs));
                if (!pfs)
                        return log_oom();
                for (size_t i = 0; i < m->n_runs; i++) {
                        pfs[n] = m->runs[i].pf;
                        if (streq(pfs[n].addr, only) && (r = pci_pf_lookup(only, &pfs[n])) < 0)
                                return log_dev_errno(LOG_ERR, only, r, "cannot read the PF again");
                        n++;
                }
        } else {
                r = pci_pf_scan(&pfs, &n);
                if (r == -ENOENT) {
                        log_error("no PCI bus: %s" SYS_PCI_DEVICES " does not exist (%s)", mx_root(),
                                  mx_root()[0] ? "is --root a simulated host?" : "is sysfs mounted?");
                        return r;
                }
                if (r < 0)
                        return log_error_errno(r, "cannot scan the PCI bus below %s" SYS_BUS_PCI, mx_root());
                if (r > 0)
                        log_warning("%d PCI function(s) could not be read during the scan and were skipped: %s", r,
                                    pci_pf_last_error());
        }

        t_scan = mx_now_usec();
        _cleanup_free_ struct pf_run *runs = calloc(n ? n : 1, sizeof(*runs));
        if (!runs)
                return log_oom();
        /* A config just read (not the one in force: a reapply would repeat them) gets the sections that
         * match nothing pointed out. */
        const struct mx_config *read = !only && cfg != m->config ? cfg : NULL;
        /* Live overrides (resize, set-vfs) sit on top of the config until the next reload. */
        _cleanup_(mx_config_freep) struct mx_config *eff = NULL;
        if (m->overrides.n) {
                r = overrides_config(&m->overrides, cfg, &eff, diags);
                if (r == -EINVAL)
                        return -EINVAL;
                if (r < 0)
                        return log_error_errno(r, "cannot merge the live overrides into the config");
                cfg = eff;
        }

        /* Each card's registers, all PFs at once (a few config reads each). */
        _cleanup_free_ struct facts_job *facts = calloc(n ? n : 1, sizeof(*facts));
        if (!facts)
                return log_oom();
        size_t n_cards = 0;
        for (size_t i = 0; i < n; i++) {
                facts[i].pf = &pfs[i];
                n_cards += pfs[i].card && pfs[i].gpuiov_cap && pfs[i].layout != GPUIOV_NONE;
        }
        /* Threads only when registers are to be read on more than one PF (a generic PF reads none). */
        mx_parallel_for(n, n_cards > 1 ? FACTS_PARALLEL : 1, facts_one, facts);

        /* Resolve everything first: a config that fails on any PF touches nothing. */
        for (size_t i = 0; i < n; i++) {
                struct pf_run *run = &runs[i];
                run->pf = pfs[i];
                run->state = PF_UNMANAGED;
                r = facts[i].r;
                if (r < 0) {
                        log_dev_errno(LOG_ERR, pfs[i].addr, r, "cannot read the card's registers; leaving the PF alone");
                        run->state = PF_FAILED;
                        snprintf(run->reason, sizeof(run->reason), "cannot read the card's GPU-IOV registers: %s", strerror(-r));
                        continue;
                }
                r = mx_config_resolve(cfg, &facts[i].facts, &run->desired, diags);
                if (r < 0 && r != -EINVAL)
                        return log_dev_errno(LOG_ERR, pfs[i].addr, r, "cannot resolve the config");
                if (r >= 0)
                        overrides_fix_layout(&m->overrides, &run->desired);
                facts[i].resolved = r >= 0;
        }
        if (read) {
                _cleanup_free_ struct mx_pf_seen *seen = calloc(n ? n : 1, sizeof(*seen));
                if (!seen)
                        return log_oom();
                size_t n_seen = 0;
                for (size_t i = 0; i < n; i++)
                        if (facts[i].r >= 0)
                                seen[n_seen++] = (struct mx_pf_seen){ &facts[i].facts,
                                                                      facts[i].resolved ? &runs[i].desired : NULL };
                mx_config_warn_unmatched(read, seen, n_seen, vf_parent, diags);
        }
        if (mx_diags_has_errors(diags))
                return -EINVAL;

        for (size_t i = 0; i < n; i++) {
                struct pf_run *run = &runs[i];
                run->dry_run = dry_run;
                /* Each thread gets its own copy: libvirt events may change the list meanwhile. */
                if (m->state.n_assignments) {
                        run->assigned = malloc(m->state.n_assignments * sizeof(*run->assigned));
                        if (!run->assigned) {
                                drop_assignments(runs, n);
                                return log_oom();
                        }
                        memcpy(run->assigned, m->state.assignments, m->state.n_assignments * sizeof(*run->assigned));
                        run->n_assigned = m->state.n_assignments;
                }
                struct state_pf *sp = state_pf_get(&m->state, run->pf.addr);
                /* The mode last programmed, as the state file says, unless the card cannot run it (an
                 * older mxgpud recorded liquid for an S7150): then it is unknown, programmed again, and a
                 * restore uses the mode the config gives the card. */
                if (sp && sp->sched_mode && run->pf.card && mx_card_sched_allowed(run->pf.card, sp->sched_mode)) {
                        run->mode_known = true;
                        run->mode = (enum gpuiov_sched_mode)sp->sched_mode;
                }
                if (run->state != PF_FAILED && pf_may_apply(run))
                        run->state = PF_PENDING;
                /* A change aimed at one PF (resize, set-vfs): the others keep their last outcome
                 * and are neither read nor written. */
                const struct pf_run *prev = only && !streq(run->pf.addr, only) ? manager_find_pf(m, run->pf.addr) : NULL;
                if (prev && run->state == PF_PENDING) {
                        run->kept = true;
                        run->state = prev->state;
                        run->error = prev->error;
                        run->num_vfs = prev->num_vfs;
                        run->vfs_bound = prev->vfs_bound;
                        memcpy(run->reason, prev->reason, sizeof(run->reason));
                }
        }

        /* Mark what is about to change, so a restart after a crash knows what was in flight. The PFs
         * read their state and plan while the mark is written; their first write waits for it. */
        struct pf_gate gate = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, dry_run };
        if (!dry_run)
                for (size_t i = 0; i < n; i++)
                        if (runs[i].state == PF_PENDING) {
                                struct state_pf *sp = state_pf_add(&m->state, runs[i].pf.addr);
                                if (sp) {
                                        if (sp->phase == STATE_PHASE_NONE)
                                                snprintf(sp->orig_pf_driver, sizeof(sp->orig_pf_driver), "%s", runs[i].pf.driver);
                                        /* VFs about to go (the count drops to 0): a tear-down */
                                        sp->phase = runs[i].desired.num_vfs == 0 && runs[i].pf.num_vfs > 0
                                                            ? STATE_PHASE_TEARING_DOWN : STATE_PHASE_APPLYING;
                                }
                        }

        t_apply = mx_now_usec();
        /* PFs proceed in parallel; one failing never stops the others. */
        pthread_t *threads = calloc(n ? n : 1, sizeof(pthread_t));
        bool *started = calloc(n ? n : 1, sizeof(bool));
        if (!threads || !started) {
                free(threads);
                free(started);
                drop_assignments(runs, n);
                return log_oom();
        }
        for (size_t i = 0; i < n; i++) {
                runs[i].gate = &gate;
                if (runs[i].state == PF_PENDING && pthread_create(&threads[i], NULL, run_thread, &runs[i]) == 0)
                        started[i] = true;
        }
        if (!dry_run) {
                uint64_t t_mark = mx_now_usec();
                r = state_save_mark(m->state_dir, &m->state);
                if (r < 0)
                        log_error_errno(r, "cannot save the state in %s; applying anyway", m->state_dir);
                t_intent = mx_now_usec() - t_mark;
        }
        pf_gate_open(&gate);
        for (size_t i = 0; i < n; i++)
                if (runs[i].state == PF_PENDING && !started[i])
                        pf_apply(&runs[i]); /* no thread: do it here */
        for (size_t i = 0; i < n; i++) {
                if (started[i])
                        pthread_join(threads[i], NULL);
                runs[i].gate = NULL;
        }
        free(threads);
        free(started);
        drop_assignments(runs, n);
        t_threads = mx_now_usec();

        if (!dry_run) {
                for (size_t i = 0; i < n; i++)
                        if (runs[i].state == PF_GONE)
                                (void)state_pf_remove(&m->state, runs[i].pf.addr); /* left during the apply */
                        else if (runs[i].desired.managed && runs[i].state != PF_UNMANAGED && !runs[i].kept)
                                record(&m->state, &runs[i]);
                r = state_save(m->state_dir, &m->state);
                if (r < 0)
                        log_error_errno(r, "cannot save the state in %s", m->state_dir);
        }
        uint64_t t_end = mx_now_usec();
        log_debug("cycle of %zu PF(s) in %.1f ms: %s %.1f, resolve %.1f, PFs %.1f (the intent saved in %.1f meanwhile), state %.1f",
                  n, (t_end - t_start) / 1000.0, only ? "read" : "scan", (t_scan - t_start) / 1000.0,
                  (t_apply - t_scan) / 1000.0, (t_threads - t_apply) / 1000.0, t_intent / 1000.0,
                  (t_end - t_threads) / 1000.0);
        if (!dry_run)
                m->cycles++;
        *ret_runs = TAKE_PTR(runs);
        *ret_n = n;
        return 0;
}

void manager_summary(const struct manager *m, char *buf, size_t size) {
        unsigned count[PF_GONE + 1] = {}, managed = 0;
        for (size_t i = 0; i < m->n_runs; i++) {
                count[m->runs[i].state]++;
                managed += m->runs[i].state != PF_UNMANAGED;
        }
        int len = snprintf(buf, size, "%u managed PF%s", managed, managed == 1 ? "" : "s");
        for (int s = PF_PENDING; s <= PF_GONE && len > 0 && (size_t)len < size; s++)
                if (count[s])
                        len += snprintf(buf + len, size - (size_t)len, ", %u %s", count[s], pf_state_name((enum pf_state)s));
}

bool manager_all_ready(const struct manager *m) {
        for (size_t i = 0; i < m->n_runs; i++)
                if (m->runs[i].state != PF_READY && m->runs[i].state != PF_UNMANAGED)
                        return false;
        return true;
}
