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

struct manager {
        const struct mxgpud_options *opt;
        sd_event *event;
        struct mx_config *config;
        char *state_dir;
        struct mx_state state;
        struct pf_run *runs;       /* the last cycle's result per PF, by address */
        size_t n_runs;
        unsigned cycles;
        struct udev *udev;
        struct udev_monitor *udev_monitor;
        sd_event_source *udev_source, *hotplug_timer;
        struct ctl_server *control;
        struct overrides overrides;   /* live changes on top of the config (override.h) */
};

/* Read the config (main file + drop-ins). Every problem goes to diags. */
int manager_load_config(struct manager *m, struct mx_config **ret, struct mx_diags *diags);

/* One cycle: discover PFs, resolve the config against each, and (unless dry_run) apply the
 * difference on every managed PF in parallel, then record the result in the state file.
 * A config that fails validation on any PF touches nothing: -EINVAL with every problem in diags.
 * Returns 0 with the per-PF outcome in *ret_runs (malloc'ed, one per PF found), or -errno. */
int manager_cycle(struct manager *m, struct mx_config *cfg, bool dry_run, struct mx_diags *diags,
                  struct pf_run **ret_runs, size_t *ret_n);
/* Replace the last cycle's outcome (takes runs). */
void manager_set_runs(struct manager *m, struct pf_run *runs, size_t n);

/* "3 PFs: 2 ready, 1 degraded" */
void manager_summary(const struct manager *m, char *buf, size_t size);
bool manager_all_ready(const struct manager *m);

/* Apply the config again: re-read from its files first when reread (SIGHUP, `mxgpuctl reload`),
 * else the one in force (hotplug, `mxgpuctl apply`). A config that is not valid changes nothing:
 * -EINVAL with every problem in diags (may be NULL: then they are logged). */
int manager_apply(struct manager *m, bool reread, struct mx_diags *diags);
int manager_reapply(struct manager *m);
/* A PF left the bus: drop it from the state file. */
void manager_pf_gone(struct manager *m, const char *addr);
/* A PF's state changed outside a cycle: tell systemd (STATUS=) and monitors. */
void manager_status_changed(struct manager *m);

/* Run mxgpud with parsed options; returns the process exit code (daemon.h). */
int manager_main(const struct mxgpud_options *opt);
