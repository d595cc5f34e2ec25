// SPDX-License-Identifier: MIT
// Carry out one PF's actions in bring-up order (hardware.md 6) and judge the result: ready, degraded or failed.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apply.h"
#include "mxgpu/clock.h"
#include "mxgpu/log.h"
#include "mxgpu/names.h"
#include "mxgpu/parallel.h"
#include "mxgpu/sysfs.h"
#include "mxgpu/vfio.h"

const char *pf_state_name(enum pf_state s) {
        static const char *const names[] = {
                [PF_UNMANAGED] = "unmanaged", [PF_PENDING] = "pending", [PF_APPLYING] = "applying",
                [PF_READY] = "ready", [PF_DEGRADED] = "degraded", [PF_FAILED] = "failed", [PF_GONE] = "gone",
        };
        return (unsigned)s < ARRAY_SIZE(names) ? names[s] : "unknown";
}

static void set_state(struct pf_run *run, enum pf_state s, int err, const char *fmt, ...) _printf_(4, 5);
static void set_state(struct pf_run *run, enum pf_state s, int err, const char *fmt, ...) {
        run->state = s;
        if (err && !run->error)
                run->error = err;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(run->reason, sizeof(run->reason), fmt, ap);
        va_end(ap);
}

/* "Device or resource busy (VFs are already enabled; ...)" */
static const char *explain(const char *attr, int err, char *buf, size_t size) {
        const char *hint = sysfs_errno_hint(attr, err);
        snprintf(buf, size, "%s%s%s%s", strerror(-err), hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
        return buf;
}

static const char *bind_error(int err, const char *driver, char *buf, size_t size) {
        switch (err) {
        case -ENOPKG: snprintf(buf, size, "the %s driver is not loaded: modprobe %s", driver, driver); break;
        case -ENXIO:  snprintf(buf, size, "no IOMMU group: turn the IOMMU on (intel_iommu=on or amd_iommu=on, and VT-d/AMD-Vi in the firmware)"); break;
        case -EBUSY:  snprintf(buf, size, "another driver took the device"); break;
        case -EIO:    snprintf(buf, size, "the %s driver refused the device", driver); break;
        case -ETIMEDOUT: snprintf(buf, size, "bound, but its /dev/vfio node did not appear"); break;
        default:      explain(NULL, err, buf, size);
        }
        return buf;
}

/* One VF's failed bind: logged with the VF, and the PF's reason names the first one. The reason
 * already says what the error means: no errno text after it. */
static void log_bind_error(const char *addr, const struct vf_ref *v, int err, char *first, size_t first_size) {
        char why[PF_REASON_MAX / 2];
        if (err == -EBUSY && v->driver[0] && !streq(v->driver, DRV_VFIO_PCI))
                snprintf(why, sizeof(why), "the host driver %s holds it (take_over_host_driver = yes lets mxgpud take it)",
                         v->driver);
        else
                bind_error(err, DRV_VFIO_PCI, why, sizeof(why));
        log_vf(LOG_ERR, addr, (int)v->index, "%s: cannot bind to vfio-pci: %s", v->addr, why);
        if (!first[0])
                snprintf(first, first_size, "VF %u (%s): %s", v->index, v->addr, why);
}

static int open_gpuiov(const struct pci_pf *pf, struct regio *io, struct gpuiov_dev *d) {
        int r = regio_sysfs_open(pf->addr, io);
        if (r < 0)
                return r;
        r = gpuiov_open(io, pf->gpuiov_cap, pf->layout, d);
        if (r < 0)
                regio_close(io);
        return r;
}

/* gpuiov_strerror() names the register or the command at fault; other errors (opening) get the errno's hint. */
static const char *gpuiov_error(int err, const struct gpuiov_dev *d, char *buf, size_t size) {
        if (d && d->fail.set)
                return gpuiov_strerror(d, err, buf, size);
        return explain(NULL, err, buf, size);
}

static int program_partition(struct pf_run *run, struct gpuiov_dev *d, unsigned n) {
        const struct pf_desired *want = &run->desired;
        struct gpuiov_fb context = { want->context_offset_mib, want->context_size_mib };
        struct gpuiov_fb vfs[GPUIOV_MAX_VFS];
        for (unsigned i = 0; i < n && i < GPUIOV_MAX_VFS; i++)
                vfs[i] = (struct gpuiov_fb){ want->vf[i].fb_offset_mib, want->vf[i].fb_size_mib };
        return gpuiov_write_partition(d, want->pf_reserve_mib, &context, vfs, MIN(n, GPUIOV_MAX_VFS));
}

static int program_sched(struct pf_run *run, struct gpuiov_dev *d, unsigned n) {
        const struct pf_desired *want = &run->desired;
        struct gpuiov_sched_cfg cfg = {
                .mode = want->scheduler,
                .n_vfs = MIN(n, GPUIOV_MAX_VFS),
                .active = n >= 32 ? 0xffffffffu : (1u << n) - 1,
        };
        memcpy(cfg.quanta_ms, want->quanta_options, sizeof(cfg.quanta_ms));
        for (unsigned i = 0; i < cfg.n_vfs; i++)
                cfg.vf_index[i] = want->vf[i].quanta_index;
        return gpuiov_write_sched(d, &cfg);
}

/* The framebuffer entries to clear before VFs go: all programmed ones when the VFs are removed, else
 * those from n on (left by another count before, or another PF driver). */
static uint32_t entries_to_clear(const struct gpuiov_partition *had, bool removed, unsigned n) {
        uint32_t mask = 0;
        for (unsigned i = 0; i < had->n_vfs && i < GPUIOV_MAX_VFS; i++)
                if ((removed || i >= n) && gpuiov_fb_programmed(&had->vf[i]))
                        mask |= 1u << i;
        return mask;
}

/* The VFs stayed after all (the stop, the clear or the write of 0 failed): their partition and scheduler
 * as they were read. *restarted: the mode the scheduler was started again in (left as it was if not). */
static int restore_registers(struct pf_run *run, struct gpuiov_dev *d, const struct gpuiov_partition *part,
                             const struct gpuiov_sched *sched, unsigned n, bool cleared, bool stopped,
                             enum gpuiov_sched_mode *restarted) {
        n = MIN(n, GPUIOV_MAX_VFS);
        int r = cleared ? gpuiov_write_partition(d, part->pf_reserve_mib, &part->context, part->vf, MIN(n, part->n_vfs)) : 0;
        if (r < 0 || !stopped || sched->n_blocks == 0)
                return r;
        const struct gpuiov_sched_block *b = &sched->block[0];
        uint32_t vf_bits = n >= 32 ? ~0u : (1u << n) - 1;
        if (!(b->active & vf_bits))
                return 0; /* it was not switching between VFs: left stopped */
        struct gpuiov_sched_cfg cfg = {
                .mode = run->mode_known ? run->mode : run->desired.scheduler,
                .n_vfs = n,
                .pf_index = b->pf_index,
                .active = b->active & (vf_bits | SCH_ACTIVE_PF_BIT),
        };
        memcpy(cfg.quanta_ms, b->quanta_ms, sizeof(cfg.quanta_ms));
        memcpy(cfg.vf_index, b->vf_index, sizeof(cfg.vf_index));
        r = gpuiov_write_sched(d, &cfg);
        if (r >= 0)
                *restarted = cfg.mode;
        return r;
}

/* What the kept VFs have now, for the state file: their registers as read before the change (given
 * back where they were changed), and the scheduler mode restore_registers() restarted it in (0: none). */
static void keep_record(struct pf_run *run, const struct pf_observed *had, enum gpuiov_sched_mode restarted) {
        struct pf_stayed *s = &run->stayed_as;
        *s = (struct pf_stayed){ .gpuiov = had->have_gpuiov, .mode = restarted };
        run->stayed = true;
        if (!had->have_gpuiov)
                return;
        s->part = had->part;
        if (had->sched.n_blocks > 0) {
                const struct gpuiov_sched_block *b = &had->sched.block[0];
                s->sched = true;
                memcpy(s->quanta_ms, b->quanta_ms, sizeof(s->quanta_ms));
                memcpy(s->vf_index, b->vf_index, sizeof(s->vf_index));
        }
}

/* A tear-down that ended before the VFs went: the scheduler stop, the clearing of their framebuffer
 * entries or the write of 0 to sriov_numvfs failed (`failure` says which, in words). What was changed
 * so far is given back to the VFs still there, and the PF is degraded with them; it is failed when they
 * are gone, or when their registers could not be given back: a card still holding EXECUTE in a
 * command window gets no more commands (as pf_diff() refuses it), so there nothing is tried. */
static void keep_vfs(struct pf_run *run, struct gpuiov_dev *d, const struct pf_observed *had, bool cleared,
                     bool stopped, int err, const char *failure) {
        unsigned now = 0;
        if (sriov_read(run->pf.addr, &now, NULL, NULL) < 0 || now == 0) {
                set_state(run, PF_FAILED, err, "%s", failure);
                return;
        }
        run->num_vfs = now;
        const char *what = stopped && cleared ? "framebuffer and scheduler" : stopped ? "scheduler" : "framebuffer entries";
        char why[PF_REASON_MAX / 2];
        /* the failure itself was a command the card never completed: it already says the card is hung */
        bool hung_told = d && d->fail.set && (err == -ETIMEDOUT || err == -EBUSY);
        struct gpuiov_pending pending = {};
        enum gpuiov_sched_mode restarted = 0;
        int k = 0;
        if (d && (stopped || cleared)) {
                k = gpuiov_read_pending(d, &pending);
                if (k >= 0 && pending.n == 0)
                        k = restore_registers(run, d, &had->part, &had->sched, had->num_vfs, cleared, stopped, &restarted);
        }
        if (k < 0)
                set_state(run, PF_FAILED, err, "%s; the %u VFs are still there, but their %s could not be restored: %s",
                          failure, now, what, gpuiov_error(k, d, why, sizeof(why)));
        else if (pending.n > 0)
                set_state(run, PF_FAILED, err, "%s; the %u VFs are still there, but their %s could not be restored: %s; "
                          "reset the card (reboot the host)", failure, now, what,
                          hung_told ? "the card takes no more commands" : gpuiov_pending_reason(d, &pending, why, sizeof(why)));
        else {
                set_state(run, PF_DEGRADED, err, "%s; the %u VFs are kept as they were", failure, now);
                keep_record(run, had, restarted);
        }
}

/* The PF left the bus (surprise removal, hot-unplug) during the apply: whatever failed, that is why. */
static bool pf_vanished(struct pf_run *run) {
        if (pcidev_exists(run->pf.addr))
                return false;
        set_state(run, PF_GONE, -ENODEV, "the PF was removed from the bus during the apply");
        run->num_vfs = run->vfs_bound = 0;
        return true;
}

/* VFs bound at once per PF: the kernel probes different devices concurrently, so a PF's binds need
 * not wait for each other (each one sleeps in the driver's probe, 6-12 ms on a real kernel). */
#define BIND_PARALLEL 8

struct bind_job {
        int pf_dfd;
        unsigned index;
        struct vf_ref vf; /* index, address and IOMMU group (no driver) */
        bool present;     /* false: no virtfnN (the verification counts it as missing) */
        bool known;       /* address and group read: the verification need not list this VF again */
        int r;
};

/* The writes, then the VF's IOMMU group through the directory already open (a group does not change
 * with the driver; the other jobs' probes run meanwhile), so that the verification need not walk the
 * VFs again. The verification judges the writes (vfio_bind_start()). */
static void bind_one(size_t i, void *userdata) {
        struct bind_job *job = &((struct bind_job *)userdata)[i];
        job->vf = (struct vf_ref){ .index = job->index, .iommu_group = -1 };
        _cleanup_close_ int d = sriov_open_vf(job->pf_dfd, job->index, job->vf.addr);
        job->present = d != -ENOENT;
        if (d < 0) {
                job->r = d == -ENOENT ? 0 : d;
                snprintf(job->vf.addr, sizeof(job->vf.addr), LINK_VIRTFN_PREFIX "%u", job->index);
                return;
        }
        job->r = vfio_bind_start(d, job->vf.addr);
        int g = sysfs_iommu_group_at(d);
        job->vf.iommu_group = g >= 0 ? g : -1;
        job->known = g >= 0 || g == -ENOENT; /* no group (IOMMU off) is a fact too; an error is not */
}

/* The outcome of a bind, judged from the listing after all of them (vfio_bind_outcome()). A VF that
 * another driver held through the writes is taken from it now (vfio_bind() unbinds it first), when
 * the config allows taking VFs from host drivers. */
struct outcome_job {
        struct vf_ref *vf;
        const struct vfio_nodes *seen;
        const char *pf_addr;
        bool may_take;    /* take_over_host_driver: a host driver may be pushed aside */
        int r;
};

static void judge(struct outcome_job *job) {
        job->r = vfio_bind_outcome(job->vf, job->seen);
        if (job->r != -EBUSY || !job->may_take)
                return;
        log_vf(LOG_WARNING, job->pf_addr, (int)job->vf->index, "%s: taking it from the host driver %s (take_over_host_driver = yes)",
               job->vf->addr, job->vf->driver);
        job->r = vfio_bind(job->vf->addr);
        if (job->r >= 0) {
                snprintf(job->vf->driver, sizeof(job->vf->driver), DRV_VFIO_PCI);
                job->r = 0;
        }
}

/* userdata: an array of pointers to the jobs that may wait (a /dev/vfio node, or a driver to take over) */
static void judge_slow(size_t i, void *userdata) {
        judge(((struct outcome_job **)userdata)[i]);
}

/* The PF's VFs after binds: which are on vfio-pci comes from one read of its driver folder; only a VF
 * missing there has its own driver link read. The same facts as sriov_list_vfs(), read from the
 * driver's side (a link per VF would be 16 more reads per PF, all at the end of a bring-up). When
 * the bind jobs read the address and group of every VF the PF should have (known: want of them), the
 * VFs are not listed again: the kernel made exactly that many when sriov_numvfs was written, and a
 * VF that went away since is not on vfio-pci in the driver's folder either. */
static int list_after_binds(const char *addr, const struct vf_ref *known, unsigned want, struct vf_ref **ret,
                            size_t *ret_n) {
        _cleanup_free_ struct vf_ref *vfs = NULL;
        size_t n = 0;
        int r;
        if (known) {
                if (!(vfs = calloc(want, sizeof(*vfs))))
                        return -ENOMEM;
                memcpy(vfs, known, want * sizeof(*vfs));
                n = want;
        } else if ((r = sriov_list_vfs_groups(addr, &vfs, &n)) < 0)
                return r;
        struct vfio_bound bound = {};
        (void)vfio_bound_read(&bound); /* unreadable: it stays empty, and every VF's own link tells */
        for (size_t k = 0; k < n; k++) {
                if (vfio_bound_has(&bound, vfs[k].addr)) {
                        snprintf(vfs[k].driver, sizeof(vfs[k].driver), DRV_VFIO_PCI);
                        continue;
                }
                char buf[SRIOV_DRIVER_MAX];
                r = pcidev_link(vfs[k].addr, LINK_DRIVER, buf, sizeof(buf));
                if (r >= 0)
                        snprintf(vfs[k].driver, sizeof(vfs[k].driver), "%s", buf);
                else if (r != -ENOENT && r != -ENODEV) { /* none, or the VF vanished: unbound */
                        vfio_bound_free(&bound);
                        return r;
                }
        }
        vfio_bound_free(&bound);
        *ret = TAKE_PTR(vfs);
        *ret_n = n;
        return 0;
}

void pf_gate_open(struct pf_gate *g) {
        pthread_mutex_lock(&g->lock);
        g->open = true;
        pthread_cond_broadcast(&g->cond);
        pthread_mutex_unlock(&g->lock);
}

static void gate_wait(struct pf_gate *g) {
        if (!g)
                return;
        pthread_mutex_lock(&g->lock);
        while (!g->open)
                pthread_cond_wait(&g->cond, &g->lock);
        pthread_mutex_unlock(&g->lock);
}

/* After the PF changed drivers: what the old driver left (gim takes its VFs with it) is read again,
 * and the actions after `done` are planned from that. 0, or -errno with the state set. */
static int replan(struct pf_run *run, size_t done, struct pf_observed *had) {
        struct pf_observed o;
        char why[PF_REASON_MAX / 2];
        int r = pf_observe(&run->pf, run->assigned, run->n_assigned, &o);
        if (r < 0) {
                set_state(run, PF_FAILED, r, "cannot read the PF's state after binding its driver: %s",
                          explain(NULL, r, why, sizeof(why)));
                return r;
        }
        if (o.num_vfs != run->desired.num_vfs && run->desired.num_vfs > 0 && run->desired.pf_driver != MX_PF_DRIVER_GIM)
                pf_observe_room(&run->pf, &o);
        struct pf_actions *next = malloc(sizeof(*next));
        if (!next) {
                pf_observed_done(&o);
                set_state(run, PF_FAILED, -ENOMEM, "out of memory");
                return -ENOMEM;
        }
        pf_diff(&run->pf, &run->desired, &o, run->mode_known, run->mode, next);
        struct pf_actions *acts = &run->actions;
        if (next->refused[0]) {
                set_state(run, o.num_vfs > 0 ? PF_DEGRADED : PF_FAILED, -EBUSY, "config not applied: %s", next->refused);
                r = -EBUSY;
        } else {
                size_t k = done;
                for (size_t i = 0; i < next->n && k < ARRAY_SIZE(acts->a); i++)
                        if (next->a[i].kind != ACT_PF_BIND)
                                acts->a[k++] = next->a[i];
                acts->n = k;
                acts->num_vfs = next->num_vfs;
                memcpy(acts->degraded, next->degraded, sizeof(acts->degraded));
                had->num_vfs = o.num_vfs;
                had->have_gpuiov = o.have_gpuiov;
                had->part = o.part;
                had->sched = o.sched;
        }
        free(next);
        pf_observed_done(&o);
        return r;
}

void pf_apply(struct pf_run *run) {
        const char *addr = run->pf.addr;
        char why[PF_REASON_MAX / 2];
        struct pf_observed o;

        run->state = PF_APPLYING;
        uint64_t t_start = mx_now_usec(), t_phase;
        int r = pf_observe(&run->pf, run->assigned, run->n_assigned, &o);
        if (r < 0) {
                set_state(run, r == -ENODEV ? PF_GONE : PF_FAILED, r, "cannot read the PF's state: %s",
                          explain(NULL, r, why, sizeof(why)));
                log_dev_errno(LOG_ERR, addr, r, "cannot read the PF's state");
                return;
        }
        /* A new VF count must fit in the MMIO room (read only then: a few reads of bridge windows). */
        if (o.num_vfs != run->desired.num_vfs && run->desired.num_vfs > 0 && run->desired.pf_driver != MX_PF_DRIVER_GIM)
                pf_observe_room(&run->pf, &o);
        log_dev(LOG_DEBUG, addr, "observed in %.1f ms", (mx_now_usec() - t_start) / 1000.0);
        pf_diff(&run->pf, &run->desired, &o, run->mode_known, run->mode, &run->actions);
        struct pf_actions *acts = &run->actions;
        run->num_vfs = acts->num_vfs;
        if (acts->refused[0]) {
                /* What the PF has now stays as it is: still usable when it has VFs. */
                set_state(run, o.num_vfs > 0 ? PF_DEGRADED : PF_FAILED, -EBUSY, "config not applied: %s", acts->refused);
                log_dev(LOG_ERR, addr, "%s", run->reason);
                pf_observed_done(&o);
                return;
        }
        /* What the registers held before: cleared before VFs go, restored when they stay after all. */
        struct pf_observed had = { .num_vfs = o.num_vfs, .have_gpuiov = o.have_gpuiov, .part = o.part, .sched = o.sched };
        pf_observed_done(&o);
        if (run->dry_run) {
                run->state = PF_PENDING;
                return;
        }
        gate_wait(run->gate);

        const char *want_drv = run->desired.pf_driver == MX_PF_DRIVER_GIM ? DRV_GIM : DRV_PCI_PF_STUB;
        struct regio io = {};
        struct gpuiov_dev gd;
        bool gd_open = false;
        struct vf_ref *vfs = NULL;
        size_t n_vfs = 0;
        unsigned n = acts->num_vfs;
        char first_bind_error[PF_REASON_MAX] = "";
        bool bind_written[PF_MAX_VFS] = {}; /* by VF index: to be judged by the verification */
        struct vf_ref known[PF_MAX_VFS];     /* by VF index: address and group, read by the bind jobs */
        bool is_known[PF_MAX_VFS] = {};

        unsigned n_binds = 0;
        bool stopped = false, cleared = false;
        for (size_t i = 0; i < acts->n; i++)
                n_binds += acts->a[i].kind == ACT_VF_BIND;
        for (size_t i = 0; i < acts->n; i++) {
                const struct action *a = &acts->a[i];
                /* One line for all VF binds at info; each one at debug. Taking a device from a host
                 * driver is a warning, whatever it is. */
                if (a->take_over && a->kind != ACT_VF_BIND) /* a bind's take-over is warned when it happens (judge()) */
                        log_dev(LOG_WARNING, addr, "%s (take_over_host_driver = yes)", a->what);
                else if (a->kind == ACT_VF_BIND && n_binds > 1) {
                        if (i == 0 || acts->a[i - 1].kind != ACT_VF_BIND)
                                log_dev(LOG_INFO, addr, "bind %u VFs to vfio-pci", n_binds);
                        log_dev(LOG_DEBUG, addr, "%s", a->what);
                } else
                        log_dev(LOG_INFO, addr, "%s", a->what);
                uint64_t t_action = mx_now_usec();
                switch (a->kind) {
                case ACT_PF_BIND:
                        r = pf_bind_driver(addr, want_drv);
                        if (r < 0) {
                                set_state(run, PF_FAILED, r, "cannot bind the PF to %s: %s", want_drv,
                                          bind_error(r, want_drv, why, sizeof(why)));
                                goto fail;
                        }
                        if (replan(run, i + 1, &had) < 0)
                                goto fail;
                        n = acts->num_vfs;
                        run->num_vfs = n;
                        n_binds = 0;
                        for (size_t k = i + 1; k < acts->n; k++)
                                n_binds += acts->a[k].kind == ACT_VF_BIND;
                        break;
                case ACT_AUTOPROBE_OFF:
                        r = sriov_set_autoprobe(addr, false);
                        if (r < 0) {
                                set_state(run, PF_FAILED, r, "cannot turn sriov_drivers_autoprobe off: %s",
                                          explain(ATTR_SRIOV_AUTOPROBE, r, why, sizeof(why)));
                                goto fail;
                        }
                        break;
                case ACT_SET_NUMVFS: {
                        bool disable_failed;
                        r = sriov_change_numvfs(addr, n, &disable_failed);
                        if (r >= 0)
                                break;
                        if (!disable_failed) {
                                set_state(run, PF_FAILED, r, "cannot set sriov_numvfs to %u: %s", n,
                                          explain(ATTR_SRIOV_NUMVFS, r, why, sizeof(why)));
                                goto fail;
                        }
                        /* The write of 0 failed: the VFs there were are still there, with what they had. */
                        char failure[PF_REASON_MAX / 2], errno_text[PF_REASON_MAX / 4];
                        explain(NULL, r, errno_text, sizeof(errno_text));
                        if (n > 0)
                                snprintf(failure, sizeof(failure), "cannot disable the %u VFs to change their count to %u "
                                         "(writing 0 to sriov_numvfs failed: %s)", had.num_vfs, n, errno_text);
                        else
                                snprintf(failure, sizeof(failure), "cannot disable the %u VFs (writing 0 to sriov_numvfs "
                                         "failed: %s)", had.num_vfs, errno_text);
                        keep_vfs(run, gd_open ? &gd : NULL, &had, cleared, stopped, r, failure);
                        goto fail;
                }
                case ACT_VF_RELEASE: {
                        _cleanup_close_ int pf_dfd = pcidev_open(addr);
                        char vf_addr[PCI_ADDR_STRLEN] = "";
                        _cleanup_close_ int vd = pf_dfd < 0 ? pf_dfd : sriov_open_vf(pf_dfd, (unsigned)a->vf, vf_addr);
                        r = vd < 0 ? vd : vfio_unbind(vf_addr);
                        if (r < 0) {
                                set_state(run, PF_FAILED, r, "cannot take VF %d from its host driver: %s", a->vf,
                                          explain(NULL, r, why, sizeof(why)));
                                goto fail;
                        }
                        break;
                }
                case ACT_SCHED_STOP:
                case ACT_PARTITION_CLEAR:
                case ACT_PARTITION:
                case ACT_SCHED:
                        if (!gd_open) {
                                r = open_gpuiov(&run->pf, &io, &gd);
                                if (r < 0) {
                                        set_state(run, PF_FAILED, r, "cannot open the GPU-IOV capability: %s",
                                                  gpuiov_error(r, NULL, why, sizeof(why)));
                                        goto fail;
                                }
                                gd_open = true;
                        }
                        switch (a->kind) {
                        case ACT_SCHED_STOP:      r = gpuiov_stop_sched(&gd); stopped = true; break;
                        case ACT_PARTITION_CLEAR:
                                r = gpuiov_clear_vf_fb(&gd, entries_to_clear(&had.part, had.num_vfs > 0 && had.num_vfs != n, n));
                                cleared = true;
                                break;
                        case ACT_PARTITION:       r = program_partition(run, &gd, n); break;
                        default:                  r = program_sched(run, &gd, n); break;
                        }
                        if (r < 0) {
                                set_state(run, PF_FAILED, r, "cannot %s: %s",
                                          a->kind == ACT_SCHED_STOP        ? "stop the scheduler"
                                          : a->kind == ACT_PARTITION_CLEAR ? "clear the VFs' framebuffer entries"
                                          : a->kind == ACT_PARTITION       ? "program the framebuffer partition"
                                                                           : "program the scheduler",
                                          gpuiov_error(r, &gd, why, sizeof(why)));
                                /* part-way through the tear-down, before sriov_numvfs: the VFs are all still
                                 * there, some of their registers changed already */
                                if ((a->kind == ACT_SCHED_STOP || a->kind == ACT_PARTITION_CLEAR) && had.num_vfs > 0) {
                                        char failure[PF_REASON_MAX];
                                        snprintf(failure, sizeof(failure), "%s", run->reason);
                                        keep_vfs(run, &gd, &had, cleared, stopped, r, failure);
                                }
                                goto fail;
                        }
                        break;
                case ACT_VF_BIND: {
                        /* This bind and the ones right after it run together; results are logged in VF order. */
                        size_t end = i;
                        while (end < acts->n && acts->a[end].kind == ACT_VF_BIND)
                                end++;
                        _cleanup_close_ int pf_dfd = pcidev_open(addr);
                        if (pf_dfd < 0) {
                                set_state(run, PF_FAILED, pf_dfd, "cannot open the PF's directory: %s",
                                          explain(NULL, pf_dfd, why, sizeof(why)));
                                goto fail;
                        }
                        struct bind_job jobs[ARRAY_SIZE(acts->a)];
                        size_t n_jobs = 0;
                        for (size_t j = i; j < end && n_jobs < ARRAY_SIZE(jobs); j++) {
                                if (j > i)
                                        log_dev(LOG_DEBUG, addr, "%s", acts->a[j].what);
                                if (acts->a[j].vf >= 0)
                                        jobs[n_jobs++] = (struct bind_job){ .pf_dfd = pf_dfd, .index = (unsigned)acts->a[j].vf };
                        }
                        mx_parallel_for(n_jobs, BIND_PARALLEL, bind_one, jobs);
                        bool any_failed = false;
                        for (size_t j = 0; j < n_jobs; j++)
                                any_failed |= jobs[j].r != 0;
                        if (any_failed && pf_vanished(run))
                                goto gone;
                        for (size_t j = 0; j < n_jobs; j++) {
                                const struct vf_ref *v = &jobs[j].vf;
                                if (!jobs[j].present)
                                        continue;
                                if (jobs[j].r == 0 && v->index < PF_MAX_VFS)
                                        bind_written[v->index] = true;
                                if (jobs[j].known && v->index < PF_MAX_VFS) {
                                        known[v->index] = *v;
                                        is_known[v->index] = true;
                                }
                                if (jobs[j].r == 0)
                                        continue;
                                log_bind_error(addr, v, jobs[j].r, first_bind_error, sizeof(first_bind_error));
                        }
                        i = end - 1;
                        break;
                }
                }
                log_dev(LOG_DEBUG, addr, "%s%s took %.1f ms", action_kind_name(a->kind), a->kind == ACT_VF_BIND ? " (all)" : "",
                        (mx_now_usec() - t_action) / 1000.0);
        }
        t_phase = mx_now_usec();

        /* Judge by what the hardware has now, not by what we did. */
        bool any_written = false;
        for (unsigned k = 0; k < PF_MAX_VFS; k++)
                any_written |= bind_written[k];
        bool all_known = n > 0 && n <= PF_MAX_VFS;
        for (unsigned k = 0; all_known && k < n; k++)
                all_known = is_known[k];
        /* Judged from a PF that is still there: the VFs of one that left read as missing or unbound. */
        if (pf_vanished(run))
                goto gone;
        r = any_written ? list_after_binds(addr, all_known ? known : NULL, n, &vfs, &n_vfs)
                        : sriov_list_vfs(addr, &vfs, &n_vfs);
        if (r < 0) {
                set_state(run, PF_FAILED, r, "cannot list the VFs: %s", explain(NULL, r, why, sizeof(why)));
                goto fail;
        }
        /* The binds made above: on vfio-pci now, with their /dev/vfio node? Nodes not there yet, and
         * VFs still held by another driver, are seen to several at once. */
        struct outcome_job judged[PF_MAX_VFS], *slow[PF_MAX_VFS];
        size_t n_judged = 0, n_slow = 0;
        struct vfio_nodes nodes = {};
        if (any_written && (r = vfio_nodes_read(&nodes)) < 0)
                log_dev_errno(LOG_DEBUG, addr, r, "cannot list %s; waiting for each node", DEV_VFIO);
        for (size_t k = 0; k < n_vfs; k++)
                if (vfs[k].index < PF_MAX_VFS && bind_written[vfs[k].index]) {
                        struct outcome_job *job = &judged[n_judged++];
                        *job = (struct outcome_job){ &vfs[k], &nodes, addr, run->desired.take_over_host_driver, 0 };
                        bool on_vfio = streq(vfs[k].driver, DRV_VFIO_PCI);
                        if (on_vfio ? !vfio_nodes_has(&nodes, vfs[k].iommu_group) : vfs[k].driver[0] != 0)
                                slow[n_slow++] = job;
                        else
                                judge(job);
                }
        mx_parallel_for(n_slow, BIND_PARALLEL, judge_slow, slow);
        vfio_nodes_free(&nodes);
        bool unusable[PF_MAX_VFS] = {};
        for (size_t j = 0; j < n_judged; j++)
                if (judged[j].r < 0) {
                        unusable[judged[j].vf->index] = true;
                        log_bind_error(addr, judged[j].vf, judged[j].r, first_bind_error, sizeof(first_bind_error));
                }

        unsigned present = 0, bound = 0;
        int first_missing = -1;
        bool seen[PF_MAX_VFS] = {};
        for (size_t k = 0; k < n_vfs; k++) {
                if (vfs[k].index < PF_MAX_VFS)
                        seen[vfs[k].index] = true;
                if (vfs[k].index < n)
                        present++;
                if (vfs[k].index < n && streq(vfs[k].driver, DRV_VFIO_PCI) && !(vfs[k].index < PF_MAX_VFS && unusable[vfs[k].index]))
                        bound++;
        }
        for (unsigned i = 0; i < n && i < PF_MAX_VFS; i++)
                if (!seen[i]) {
                        first_missing = (int)i;
                        break;
                }
        run->num_vfs = present;
        run->vfs_bound = bound;
        run->n_vfs = MIN(n_vfs, ARRAY_SIZE(run->vfs));
        if (run->n_vfs) /* no VFs (a tear-down): vfs may be NULL */
                memcpy(run->vfs, vfs, run->n_vfs * sizeof(*vfs));
        run->listed = true;
        if (first_missing >= 0)
                set_state(run, present ? PF_DEGRADED : PF_FAILED, -ENODEV,
                          "%u of %u VFs appeared (VF %d is missing)", present, n, first_missing);
        else if (run->desired.vfio && bound < n)
                set_state(run, bound ? PF_DEGRADED : PF_FAILED, -EIO, "%u of %u VFs on vfio-pci; %s", bound, n,
                          first_bind_error[0] ? first_bind_error : "the others are held by another driver");
        else if (acts->degraded[0])
                set_state(run, PF_DEGRADED, 0, "%s", acts->degraded);
        else {
                run->state = PF_READY;
                run->reason[0] = 0;
        }
        if (run->state != PF_READY && pf_vanished(run))
                goto gone;
        log_dev(LOG_DEBUG, addr, "verified in %.1f ms; %.1f ms in all", (mx_now_usec() - t_phase) / 1000.0,
                (mx_now_usec() - t_start) / 1000.0);
        if (run->state == PF_READY)
                log_dev(LOG_INFO, addr, "ready: %u VFs%s", present, run->desired.vfio ? " on vfio-pci" : "");
        else
                log_dev(LOG_WARNING, addr, "%s: %s", pf_state_name(run->state), run->reason);
        goto done;
fail:
        if (run->state == PF_GONE || pf_vanished(run))
                goto gone;
        log_dev(run->state == PF_DEGRADED ? LOG_WARNING : LOG_ERR, addr, "%s: %s", pf_state_name(run->state), run->reason);
        goto done;
gone:
        log_dev(LOG_WARNING, addr, "gone: %s", run->reason);
done:
        free(vfs);
        if (gd_open)
                regio_close(&io);
}
