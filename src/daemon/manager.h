/* SPDX-License-Identifier: MIT */
/* The daemon's manager: the event loop, signals, readiness, and the apply cycle it drives. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>

#include "apply.h"
#include "mxgpu/config.h"
#include "mxgpu/diags.h"
#include "mxgpu/state.h"
#include "options.h"
#include "override.h"

struct ctl_server;

/* A PF's last observation, kept for List and Show. Marked stale by whatever may have changed the
 * PF (a cycle, a resize, an attach, a uevent naming the PF or one of its VFs, an error) and read
 * again at the next use; what changes without an event (VFIO groups held open) is not kept. With
 * udev = no there are no events: every use reads the PF. */
struct pf_view {
        struct pf_observed o;
        int error;       /* the -errno of the last observation, 0 */
        bool stale;
};
struct virt;
struct pool;

struct manager {
        const struct mxgpud_options *opt;
        sd_event *event;
        struct mx_config *config;
        char *state_dir;
        struct mx_state state;
        struct pf_run *runs;       /* the last cycle's result per PF, by address */
        size_t n_runs;
        struct pf_view *views;     /* parallel to runs */
        unsigned cycles;
        struct udev *udev;
        struct udev_monitor *udev_monitor;
        sd_event_source *udev_source, *hotplug_timer;
        struct ctl_server *control;
        struct overrides overrides;   /* live changes on top of the config (override.h) */
        struct virt *virt;          /* the libvirt connection (virt.c) */
        struct pool *pool;          /* the VF pools and their assignments (pool.c) */
};

/* Read the config (main file + drop-ins). Every problem goes to diags. */
int manager_load_config(struct manager *m, struct mx_config **ret, struct mx_diags *diags);

/* One cycle: discover PFs, resolve the config against each, and (unless dry_run) apply the
 * difference on every managed PF in parallel, then record the result in the state file.
 * A config that fails validation on any PF touches nothing: -EINVAL with every problem in diags.
 * Returns 0 with the per-PF outcome in *ret_runs (malloc'ed, one per PF found), or -errno. */
int manager_cycle(struct manager *m, struct mx_config *cfg, bool dry_run, const char *only, struct mx_diags *diags,
                  struct pf_run **ret_runs, size_t *ret_n);
/* The last cycle's run of the PF at addr, or NULL. Pointers die with the next cycle. */
struct pf_run *manager_find_pf(struct manager *m, const char *addr);
/* Something may have changed the PF or VF at addr (NULL or unknown: any PF): its view is read
 * again at the next use. */
void manager_pf_changed(struct manager *m, const char *addr);
/* The observation of m->runs[idx], read again first when stale; NULL with *ret_error set when the
 * PF cannot be read. in_use and vm are as of the last observation: see pf_observed_use(). */
struct pf_observed *manager_pf_view(struct manager *m, size_t idx, int *ret_error);

/* Replace the last cycle's outcome (takes runs). */
void manager_set_runs(struct manager *m, struct pf_run *runs, size_t n);

/* "3 PFs: 2 ready, 1 degraded" */
void manager_summary(const struct manager *m, char *buf, size_t size);
bool manager_all_ready(const struct manager *m);

/* Apply the config again: re-read from its files first when reread (SIGHUP, `mxgpuctl reload`),
 * else the one in force (hotplug, `mxgpuctl apply`). A config that is not valid changes nothing:
 * -EINVAL with every problem in diags (may be NULL: then they are logged). */
int manager_apply(struct manager *m, bool reread, struct mx_diags *diags);
/* The same for the PF at addr only (a live change to it); the other PFs keep their last outcome. */
int manager_apply_pf(struct manager *m, const char *addr, struct mx_diags *diags);
int manager_reapply(struct manager *m);
/* A PF left the bus: drop it from the state file. */
void manager_pf_gone(struct manager *m, const char *addr);
/* A PF's state changed outside a cycle: tell systemd (STATUS=) and monitors. */
void manager_status_changed(struct manager *m);

/* Run mxgpud with parsed options; returns the process exit code (daemon.h). */
int manager_main(const struct mxgpud_options *opt);
