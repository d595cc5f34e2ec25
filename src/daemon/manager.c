// SPDX-License-Identifier: MIT
// The manager: one sd-event loop with signals, the apply cycle, readiness and watchdog notifications to systemd.
#include <fcntl.h>
#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "daemon.h"
#include "manager.h"
#include "mxgpu/log.h"
#include "mxgpu/macro.h"
#include "mxgpu/names.h"
#include "mxgpu/paths.h"
#include "mxgpu/sysfs.h"
#include "udev.h"
#include "control.h"
#include "ctlserver.h"
#include "pool.h"

/* Longest wait for udev's coldplug before the first apply. */
#define UDEV_COLDPLUG_WAIT_MS (30 * 1000)

static void notify_status(struct manager *m, bool ready) {
        char summary[256];
        manager_summary(m, summary, sizeof(summary));
        sd_notifyf(0, "%sSTATUS=%s", ready ? "READY=1\n" : "", summary);
}

/* Tell monitors about every PF whose state changed between two cycles. */
static void announce(struct manager *m, const struct pf_run *old, size_t n_old) {
        for (size_t i = 0; i < m->n_runs; i++) {
                const struct pf_run *now = &m->runs[i], *before = NULL;
                for (size_t k = 0; k < n_old; k++)
                        if (streq(old[k].pf.addr, now->pf.addr))
                                before = &old[k];
                if (now->state == PF_UNMANAGED)
                        continue;
                if (before && before->state == now->state && streq(before->reason, now->reason) && now->actions.n == 0)
                        continue;
                struct json_object *e = json_object_new_object();
                json_object_object_add(e, "state", json_object_new_string(pf_state_name(now->state)));
                json_object_object_add(e, "reason", now->reason[0] ? json_object_new_string(now->reason) : NULL);
                json_object_object_add(e, "num_vfs", json_object_new_int((int)now->num_vfs));
                manager_event(m, "pf-state", now->pf.addr, -1, e);
        }
}

/* The config's log_level, unless --log-level or $MXGPU_LOG_LEVEL (stronger, for debugging a
 * service without editing its config) chose one. Called whenever a config comes into force. */
static void use_log_level(const struct manager *m, const struct mx_config *cfg) {
        const char *env = getenv(ENV_LOG_LEVEL);
        if (m->opt->log_level < 0 && !(env && mx_log_parse_level(env) >= 0))
                mx_log_set_level(cfg->daemon.log_level);
}

static void log_diags(const struct mx_diags *diags) {
        for (size_t i = 0; i < diags->n; i++) {
                _cleanup_free_ char *line = mx_diag_format(&diags->items[i]);
                log_full(diags->items[i].severity == MX_DIAG_ERROR ? LOG_ERR : LOG_WARNING, "%s", line ? line : "?");
        }
}

static int apply(struct manager *m, bool reread, const char *only, struct mx_diags *ret_diags) {
        struct mx_diags local = {}, *diags = ret_diags ? ret_diags : &local;
        struct mx_config *cfg = NULL;
        struct pf_run *runs = NULL;
        size_t n = 0;
        int r = 0;
        if (reread || !m->config)
                r = manager_load_config(m, &cfg, diags);
        /* A reload drops the live overrides: the files say it all again (mxgpuctl(8)). */
        struct overrides dropped = {};
        if (r >= 0 && reread && m->config) {
                dropped = m->overrides;
                m->overrides = (struct overrides){};
        }
        if (r >= 0)
                r = manager_cycle(m, cfg ? cfg : m->config, false, only, diags, &runs, &n);
        if (r < 0 || mx_diags_has_errors(diags)) {
                if (dropped.n) {
                        overrides_done(&m->overrides);
                        m->overrides = dropped;
                        dropped = (struct overrides){};
                }
        } else if (dropped.n) {
                log_info("reload: dropped the live overrides of %zu PF(s)", dropped.n);
                overrides_done(&dropped);
                int e = overrides_save(m->state_dir, &m->overrides);
                if (e < 0)
                        log_error_errno(e, "cannot save %s/%s", m->state_dir, OVERRIDES_FILE);
        }
        if (r == -EINVAL || mx_diags_has_errors(diags)) {
                if (!ret_diags)
                        log_diags(diags);
                log_error("%s: the config is not valid; %s", m->opt->config,
                          m->config ? "keeping the previous config, nothing was changed" : "nothing was changed");
                mx_config_free(cfg);
                mx_diags_clear(&local);
                free(runs);
                return -EINVAL;
        }
        if (!ret_diags)
                log_diags(diags); /* warnings */
        mx_diags_clear(&local);
        if (r < 0) {
                mx_config_free(cfg);
                return r;
        }
        if (cfg) {
                mx_config_free(m->config);
                m->config = cfg;
                use_log_level(m, cfg);
        }
        struct pf_run *old = m->runs;
        size_t n_old = m->n_runs;
        m->runs = NULL;
        manager_set_runs(m, runs, n);
        announce(m, old, n_old);
        free(old);
        manager_pool_changed(m);
        notify_status(m, false);
        /* The cycle's threads, scans and JSON leave free memory in the heap and the threads' arenas;
         * the daemon idles next: give it back to the kernel. */
        (void)malloc_trim(0);
        return 0;
}

int manager_apply(struct manager *m, bool reread, struct mx_diags *diags) {
        return apply(m, reread, NULL, diags);
}

int manager_apply_pf(struct manager *m, const char *addr, struct mx_diags *diags) {
        return apply(m, false, addr, diags);
}

struct pf_run *manager_find_pf(struct manager *m, const char *addr) {
        for (size_t i = 0; i < m->n_runs; i++)
                if (streq(m->runs[i].pf.addr, addr))
                        return &m->runs[i];
        return NULL;
}

static void views_free(struct manager *m) {
        for (size_t i = 0; m->views && i < m->n_runs; i++)
                pf_observed_done(&m->views[i].o);
        free(m->views);
        m->views = NULL;
}

void manager_set_runs(struct manager *m, struct pf_run *runs, size_t n) {
        views_free(m);
        free(m->runs);
        m->runs = runs;
        m->n_runs = n;
        /* Without memory every view stays NULL: manager_pf_view() then reads the PF each time. */
        m->views = n ? calloc(n, sizeof(*m->views)) : NULL;
        for (size_t i = 0; m->views && i < n; i++)
                m->views[i].stale = true;
}

void manager_pf_changed(struct manager *m, const char *addr) {
        size_t idx = m->n_runs;
        for (size_t i = 0; addr && i < m->n_runs && idx == m->n_runs; i++) {
                if (streq(m->runs[i].pf.addr, addr))
                        idx = i;
                /* A VF: the PF whose last observation lists it (works after the VF is gone, too). */
                for (size_t k = 0; m->views && k < m->views[i].o.n_vfs; k++)
                        if (streq(m->views[i].o.vfs[k].addr, addr))
                                idx = i;
        }
        char pf[PCI_ADDR_STRLEN + 8];
        if (addr && idx == m->n_runs && pcidev_link(addr, LINK_PHYSFN, pf, sizeof(pf)) >= 0)
                for (size_t i = 0; i < m->n_runs; i++)
                        if (streq(m->runs[i].pf.addr, pf))
                                idx = i;
        for (size_t i = 0; m->views && i < m->n_runs; i++)
                if (idx == m->n_runs || i == idx)
                        m->views[i].stale = true;
}

struct pf_observed *manager_pf_view(struct manager *m, size_t idx, int *ret_error) {
        static struct pf_view scratch; /* no views (out of memory): read into this one each time */
        struct pf_view *v = m->views ? &m->views[idx] : &scratch;
        const struct pf_run *run = &m->runs[idx];
        /* With udev = no nothing tells the daemon of changes: every use reads the PF again. */
        if (v->stale || !m->views || !m->udev_monitor) {
                pf_observed_done(&v->o);
                v->error = run->state == PF_GONE ? -ENODEV : pf_observe(&run->pf, NULL, 0, &v->o);
                v->stale = v->error < 0; /* an error is read again next time */
        }
        if (v->error < 0) {
                *ret_error = v->error;
                return NULL;
        }
        return &v->o;
}

int manager_reapply(struct manager *m) {
        return manager_apply(m, false, NULL);
}

void manager_pf_gone(struct manager *m, const char *addr) {
        if (state_pf_remove(&m->state, addr) >= 0) {
                int r = state_save(m->state_dir, &m->state);
                if (r < 0)
                        log_error_errno(r, "cannot save the state in %s", m->state_dir);
        }
        manager_status_changed(m);
}

void manager_status_changed(struct manager *m) {
        notify_status(m, false);
}

static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;
        /* VFs stay as they are: running VMs keep their devices. */
        log_info("received %s, exiting; VFs are left in place", strsignal((int)si->ssi_signo));
        sd_notify(0, "STOPPING=1");
        return sd_event_exit(m->event, MXGPUD_EXIT_OK);
}

static int on_hup(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;
        log_info("received SIGHUP, re-reading the config");
        sd_notify(0, "RELOADING=1");
        (void)manager_apply(m, true, NULL);
        notify_status(m, true);
        return 0;
}

static int check_config(struct manager *m) {
        struct mx_diags diags = {};
        _cleanup_(mx_config_freep) struct mx_config *cfg = NULL;
        bool loaded = false;
        int r = manager_load_config(m, &cfg, &diags);
        if (r >= 0) {
                loaded = true;
                /* The state file says which scheduler mode is programmed; read it, never write it. */
                const char *dir = m->opt->state_dir ? m->opt->state_dir : cfg->daemon.state_dir;
                if (state_peek(dir, &m->state) < 0)
                        state_init(&m->state);
                struct pf_run *runs = NULL;
                size_t n = 0;
                r = manager_cycle(m, cfg, true, NULL, &diags, &runs, &n);
                if (r >= 0)
                        manager_set_runs(m, runs, n);
        }
        mx_diags_print(&diags, stderr);
        bool bad = r < 0 || mx_diags_has_errors(&diags);
        /* A bus that cannot be read is the platform's problem, not the config's (logged by the cycle). */
        bool env = loaded && r < 0 && r != -EINVAL && !mx_diags_has_errors(&diags);
        mx_diags_clear(&diags);
        if (env) {
                fprintf(stderr, "%s: cannot check the config against the hardware; nothing was changed\n", m->opt->config);
                return MXGPUD_EXIT_ENV;
        }
        if (bad) {
                fprintf(stderr, "%s: the config has problems; nothing was changed\n", m->opt->config);
                return MXGPUD_EXIT_CONFIG;
        }
        unsigned refused = 0;
        for (size_t i = 0; i < m->n_runs; i++) {
                const struct pf_run *run = &m->runs[i];
                if (run->state == PF_UNMANAGED)
                        continue;
                /* valid, but the hardware refuses it (a host driver, no MMIO room): not OK */
                refused += run->actions.refused[0] != 0;
                printf("%s: %s%s%s\n", run->pf.addr,
                       run->actions.refused[0] ? "cannot apply" : run->actions.n ? "would change" : "as configured",
                       run->reason[0] ? ": " : "", run->reason);
                for (size_t k = 0; k < run->actions.n; k++)
                        printf("  %s\n", run->actions.a[k].what);
        }
        if (refused) {
                printf("%s: the config is valid, but %u PF%s cannot be brought to it (above)\n", m->opt->config, refused,
                       refused == 1 ? "" : "s");
                return MXGPUD_EXIT_DEGRADED;
        }
        printf("%s: config OK\n", m->opt->config);
        return MXGPUD_EXIT_OK;
}

static void manager_done(struct manager *m) {
        manager_pool_stop(m);
        manager_control_stop(m);
        manager_udev_stop(m);
        mx_config_free(m->config);
        state_done(&m->state);
        overrides_done(&m->overrides);
        manager_set_runs(m, NULL, 0);
        free(m->state_dir);
        sd_event_unref(m->event);
}

/* One mxgpud per state folder: a second one (or --once while the service runs) would program the same
 * PFs at the same time. flock() dies with the process, so a crash never leaves a stale lock. Returns
 * the locked descriptor, kept open for the life of the process. */
static int lock_state(const char *dir) {
        char path[MX_PATH_MAX];
        if (snprintf(path, sizeof(path), "%s/%s", dir, LOCK_FILE) >= (int)sizeof(path))
                return log_error_errno(-ENAMETOOLONG, "state folder %s", dir);
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0)
                return log_error_errno(-errno, "cannot open %s", path);
        if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
                if (errno != EWOULDBLOCK)
                        return log_error_errno(-errno, "cannot lock %s", path);
                char pid[24] = "";
                ssize_t k = pread(fd, pid, sizeof(pid) - 1, 0);
                pid[k > 0 ? strcspn(pid, "\n") : 0] = 0;
                log_error("another mxgpud%s%s%s is running with the state folder %s; stop it first, or ask it to "
                          "apply with mxgpuctl apply or reload", pid[0] ? " (pid " : "", pid, pid[0] ? ")" : "", dir);
                return -EBUSY;
        }
        if (ftruncate(fd, 0) < 0 || dprintf(fd, "%d\n", (int)getpid()) < 0)
                mx_log_full(LOG_DEBUG, -errno, NULL, -1, "cannot write the pid into %s", path); /* only for the message above */
        return TAKE_FD(fd);
}

static int open_state(struct manager *m, const struct mx_config *cfg, int *ret_lock) {
        m->state_dir = strdup(m->opt->state_dir ? m->opt->state_dir : cfg->daemon.state_dir);
        if (!m->state_dir)
                return log_oom();
        if (mkdir(m->state_dir, 0755) < 0 && errno != EEXIST)
                return log_error_errno(-errno, "cannot create the state folder %s", m->state_dir);
        int lock = lock_state(m->state_dir);
        if (lock < 0)
                return lock;
        *ret_lock = lock;
        _cleanup_free_ char *corrupt = NULL;
        int r = state_load(m->state_dir, &m->state, &corrupt);
        if (r == -EBADMSG) {
                log_warning("%s/%s was damaged; kept it as %s and starting from what the hardware has", m->state_dir,
                            STATE_FILE, corrupt ? corrupt : "?");
                state_init(&m->state);
        } else if (r < 0)
                return log_error_errno(r, "cannot read the state in %s", m->state_dir);
        r = overrides_load(m->state_dir, &m->overrides);
        if (r < 0)
                log_warning("%s/%s cannot be read (%s); starting without live overrides", m->state_dir, OVERRIDES_FILE,
                            strerror(-r));
        return 0;
}

int manager_main(const struct mxgpud_options *opt) {
        struct manager m = { .opt = opt };
        _cleanup_close_ int lock = -1;
        int r, exit_code;
        state_init(&m.state);
        /* A peer that hangs up must cost an EPIPE, not the process: libvirt's client writes to
         * libvirtd with plain write() (ours use MSG_NOSIGNAL), and outside systemd, whose
         * IgnoreSIGPIPE= does this for a service, nobody else ignores the signal for us. */
        (void)signal(SIGPIPE, SIG_IGN);
        if (opt->check_config) {
                exit_code = check_config(&m);
                manager_done(&m);
                return exit_code;
        }

        /* The state folder comes from the config: peek at it first, without applying. */
        {
                struct mx_diags diags = {};
                _cleanup_(mx_config_freep) struct mx_config *cfg = NULL;
                r = manager_load_config(&m, &cfg, &diags);
                if (r < 0) {
                        for (size_t i = 0; i < diags.n; i++) {
                                _cleanup_free_ char *line = mx_diag_format(&diags.items[i]);
                                log_error("%s", line ? line : "?");
                        }
                        mx_diags_clear(&diags);
                        log_error("%s: %s; nothing was changed", opt->config,
                                  r == -ENOENT ? "no config to apply" : "the config is not valid");
                        manager_done(&m);
                        return MXGPUD_EXIT_CONFIG;
                }
                mx_diags_clear(&diags);
                use_log_level(&m, cfg);
                r = open_state(&m, cfg, &lock);
                if (r < 0) {
                        manager_done(&m);
                        return MXGPUD_EXIT_ENV;
                }
                /* The control socket before the first write: a path that cannot be served fails here,
                 * with the hardware untouched. Clients that connect meanwhile wait for the first cycle. */
                if (!opt->once) {
                        r = sd_event_new(&m.event);
                        if (r < 0) {
                                log_error_errno(r, "cannot create the event loop");
                                manager_done(&m);
                                return MXGPUD_EXIT_ENV;
                        }
                        r = manager_control_start(&m, cfg);
                        if (r < 0) {
                                /* ctl_server_new logged the precise cause. */
                                manager_done(&m);
                                return MXGPUD_EXIT_ENV;
                        }
                }
                /* At boot udev may still be binding drivers (a [device] that keeps its PF driver needs it
                 * bound): let the coldplug finish first. Only on the real host; a simulated root has no udevd. */
                if (cfg->daemon.udev && streq(mx_root(), "") && !opt->once) {
                        sd_notify(0, "STATUS=waiting for udev to finish the coldplug");
                        if (udev_wait_coldplug(UDEV_COLDPLUG_WAIT_MS) < 0)
                                log_warning("udev is still busy after %u s; going ahead", UDEV_COLDPLUG_WAIT_MS / 1000);
                }
        }

        r = manager_apply(&m, true, NULL);
        if (r < 0) {
                manager_done(&m);
                return r == -EINVAL ? MXGPUD_EXIT_CONFIG : MXGPUD_EXIT_ENV;
        }
        char summary[256];
        manager_summary(&m, summary, sizeof(summary));
        log_info("%s", summary);
        if (opt->once) {
                exit_code = manager_all_ready(&m) ? MXGPUD_EXIT_OK : MXGPUD_EXIT_DEGRADED;
                manager_done(&m);
                return exit_code;
        }

        const int sigs[] = { SIGTERM, SIGINT };
        for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
                if ((r = sd_event_add_signal(m.event, NULL, sigs[i] | SD_EVENT_SIGNAL_PROCMASK, on_terminate, &m)) < 0)
                        break;
        if (r >= 0)
                r = sd_event_add_signal(m.event, NULL, SIGHUP | SD_EVENT_SIGNAL_PROCMASK, on_hup, &m);
        if (r < 0) {
                log_error_errno(r, "cannot watch signals");
                manager_done(&m);
                return MXGPUD_EXIT_ENV;
        }
        if (m.config->daemon.udev) {
                r = manager_udev_start(&m);
                if (r < 0)
                        log_warning_errno(r, "cannot watch udev events; hotplugged cards are configured on SIGHUP only");
        }
        r = manager_pool_start(&m);
        if (r < 0)
                log_warning_errno(r, "cannot follow libvirt; VF pools are not available");
        /* Pings systemd's watchdog from the loop when WatchdogSec= is set. */
        (void)sd_event_set_watchdog(m.event, true);
        /* Every configured PF has reached a final state here: ready, degraded or failed. */
        notify_status(&m, true);
        r = sd_event_loop(m.event);
        exit_code = r < 0 ? MXGPUD_EXIT_ENV : r;
        manager_done(&m);
        return exit_code;
}
