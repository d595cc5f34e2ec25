// SPDX-License-Identifier: MIT
// The manager: one sd-event loop with signals, readiness and watchdog notifications to systemd.
#include <signal.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-event.h>

#include "daemon.h"
#include "manager.h"
#include "mxgpu/log.h"
#include "mxgpu/macro.h"


struct manager {
        const struct mxgpud_options *opt;
        sd_event *event;
        int exit_code;
};

static int on_terminate(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        struct manager *m = userdata;
        /* VFs stay as they are: running VMs keep their devices. */
        log_info("received %s, exiting; VFs are left in place", strsignal((int)si->ssi_signo));
        sd_notify(0, "STOPPING=1");
        return sd_event_exit(m->event, m->exit_code);
}

static int on_reload(sd_event_source *s, const struct signalfd_siginfo *si, void *userdata) {
        log_info("received SIGHUP, re-reading the config");
        sd_notify(0, "RELOADING=1");
        sd_notify(0, "READY=1");
        return 0;
}

int manager_main(const struct mxgpud_options *opt) {
        struct manager m = { .opt = opt };
        _cleanup_(sd_event_unrefp) sd_event *e = NULL;
        int r = sd_event_new(&e);
        if (r < 0)
                return log_error_errno(r, "cannot create the event loop"), MXGPUD_EXIT_ENV;
        m.event = e;
        if (opt->check_config || opt->once)
                return MXGPUD_EXIT_OK;
        const int sigs[] = { SIGTERM, SIGINT };
        for (size_t i = 0; i < ARRAY_SIZE(sigs); i++) {
                r = sd_event_add_signal(e, NULL, sigs[i] | SD_EVENT_SIGNAL_PROCMASK, on_terminate, &m);
                if (r < 0)
                        return log_error_errno(r, "cannot watch signal %d", sigs[i]), MXGPUD_EXIT_ENV;
        }
        r = sd_event_add_signal(e, NULL, SIGHUP | SD_EVENT_SIGNAL_PROCMASK, on_reload, &m);
        if (r < 0)
                return log_error_errno(r, "cannot watch SIGHUP"), MXGPUD_EXIT_ENV;
        /* Pings systemd's watchdog from the loop when WatchdogSec= is set. */
        (void)sd_event_set_watchdog(e, true);
        sd_notify(0, "READY=1\nSTATUS=running");
        r = sd_event_loop(e);
        return r < 0 ? MXGPUD_EXIT_ENV : r;
}
