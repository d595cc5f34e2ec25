// SPDX-License-Identifier: MIT
// libudev monitor in the sd-event loop: hotplugged PFs trigger a cycle, removed PFs are dropped, foreign VF rebinds are reported.
#include <libudev.h>
#include <string.h>
#include <time.h>

#include "manager.h"
#include "mxgpu/log.h"
#include "mxgpu/names.h"
#include "mxgpu/sysfs.h"
#include "udev.h"

DEFINE_TRIVIAL_CLEANUP_FUNC(struct udev_device *, udev_device_unref)

/* Coalesce a burst of events (a card's functions appear together) into one cycle. */
#define HOTPLUG_DELAY_USEC (200 * 1000)

/* The PF run and VF index of a VF we manage, by its address. */
static struct pf_run *find_vf(struct manager *m, const char *addr, unsigned *ret_index) {
        char pf[PCI_ADDR_STRLEN + 8], link[32];
        if (pcidev_link(addr, LINK_PHYSFN, pf, sizeof(pf)) < 0)
                return NULL;
        struct pf_run *run = manager_find_pf(m, pf);
        if (!run)
                return NULL;
        for (unsigned i = 0; i < run->num_vfs; i++) {
                char target[PCI_ADDR_STRLEN + 8];
                snprintf(link, sizeof(link), LINK_VIRTFN_PREFIX "%u", i);
                if (pcidev_link(pf, link, target, sizeof(target)) >= 0 && streq(target, addr)) {
                        *ret_index = i;
                        return run;
                }
        }
        return NULL;
}

static int on_hotplug_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct manager *m = userdata;
        log_info("PCI devices changed; applying the config to what is there now");
        manager_reapply(m);
        return 0;
}

static void schedule_cycle(struct manager *m) {
        uint64_t now;
        sd_event_now(m->event, CLOCK_MONOTONIC, &now);
        if (m->hotplug_timer) {
                sd_event_source_set_time(m->hotplug_timer, now + HOTPLUG_DELAY_USEC);
                sd_event_source_set_enabled(m->hotplug_timer, SD_EVENT_ONESHOT);
                return;
        }
        int r = sd_event_add_time(m->event, &m->hotplug_timer, CLOCK_MONOTONIC, now + HOTPLUG_DELAY_USEC, 0,
                                  on_hotplug_timer, m);
        if (r < 0)
                log_error_errno(r, "cannot schedule a hotplug cycle");
}

static void on_device(struct manager *m, struct udev_device *dev) {
        const char *action = udev_device_get_action(dev);
        const char *addr = udev_device_get_sysname(dev);
        if (!action || !addr || !pci_addr_valid(addr))
                return;
        /* Whatever the event, what List shows of that PF (or the VF's PF) is read again. */
        manager_pf_changed(m, addr);
        struct pf_run *pf = manager_find_pf(m, addr);
        unsigned vf = 0;

        if (streq(action, "add")) {
                /* Our own VFs appear on every enable; only a new function without physfn is news. */
                if (!pf && !pcidev_exists(addr))
                        return;
                char parent[PCI_ADDR_STRLEN + 8];
                if (!pf && pcidev_link(addr, LINK_PHYSFN, parent, sizeof(parent)) >= 0)
                        return;
                if (!pf || pf->state == PF_GONE) {
                        log_dev(LOG_INFO, addr, "appeared");
                        schedule_cycle(m);
                }
        } else if (streq(action, "remove")) {
                if (pf && pf->state != PF_UNMANAGED && pf->state != PF_GONE) {
                        log_dev(LOG_WARNING, addr, "removed from the bus; forgetting its VFs");
                        pf->state = PF_GONE;
                        snprintf(pf->reason, sizeof(pf->reason), "removed from the bus");
                        pf->num_vfs = pf->vfs_bound = 0;
                        manager_pf_gone(m, addr);
                }
        } else if (streq(action, "bind") && pf && pf->state == PF_FAILED) {
                /* A PF that keeps its own driver fails while that driver is not bound yet (at boot
                 * udev loads it in parallel with us): its arrival is worth another try. */
                log_dev(LOG_INFO, addr, "a driver was bound; trying again");
                schedule_cycle(m);
        } else if (streq(action, "bind") || streq(action, "unbind")) {
                struct pf_run *owner = find_vf(m, addr, &vf);
                if (!owner || !owner->desired.vfio || owner->state == PF_GONE)
                        return;
                char drv[64] = "";
                if (pcidev_link(addr, LINK_DRIVER, drv, sizeof(drv)) < 0)
                        drv[0] = 0;
                if (streq(drv, DRV_VFIO_PCI))
                        return;
                log_vf(LOG_WARNING, owner->pf.addr, (int)vf, "%s left vfio-pci behind mxgpud's back (now: %s); "
                       "run 'mxgpuctl apply' or send SIGHUP to rebind", addr, drv[0] ? drv : "no driver");
                owner->state = PF_DEGRADED;
                snprintf(owner->reason, sizeof(owner->reason), "VF %u (%s) left vfio-pci (now: %s)", vf, addr,
                         drv[0] ? drv : "no driver");
                manager_status_changed(m);
        }
}

static int on_udev(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct manager *m = userdata;
        for (;;) {
                _cleanup_(udev_device_unrefp) struct udev_device *dev = udev_monitor_receive_device(m->udev_monitor);
                if (!dev)
                        break;
                on_device(m, dev);
        }
        return 0;
}

int udev_wait_coldplug(unsigned timeout_ms) {
        struct udev *udev = udev_new();
        if (!udev)
                return -ENOMEM;
        struct udev_queue *queue = udev_queue_new(udev);
        if (!queue) {
                udev_unref(udev);
                return -ENOMEM;
        }
        int r = -ETIMEDOUT;
        /* The queue has no event to wait on in libudev's API; 20 ms steps are far below a boot's pace. */
        for (unsigned waited = 0; waited <= timeout_ms; waited += 20) {
                if (udev_queue_get_queue_is_empty(queue)) {
                        r = 0;
                        break;
                }
                nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
        }
        udev_queue_unref(queue);
        udev_unref(udev);
        return r;
}

int manager_udev_start(struct manager *m) {
        m->udev = udev_new();
        if (!m->udev)
                return -ENOMEM;
        m->udev_monitor = udev_monitor_new_from_netlink(m->udev, "udev");
        if (!m->udev_monitor)
                return -EPROTONOSUPPORT;
        int r = udev_monitor_filter_add_match_subsystem_devtype(m->udev_monitor, "pci", NULL);
        if (r >= 0)
                r = udev_monitor_enable_receiving(m->udev_monitor);
        if (r < 0)
                return r;
        return sd_event_add_io(m->event, &m->udev_source, udev_monitor_get_fd(m->udev_monitor), EPOLLIN, on_udev, m);
}

void manager_udev_stop(struct manager *m) {
        m->udev_source = sd_event_source_disable_unref(m->udev_source);
        m->hotplug_timer = sd_event_source_disable_unref(m->hotplug_timer);
        if (m->udev_monitor)
                udev_monitor_unref(m->udev_monitor);
        if (m->udev)
                udev_unref(m->udev);
        m->udev_monitor = NULL;
        m->udev = NULL;
}
