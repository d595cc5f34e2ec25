/* SPDX-License-Identifier: MIT */
/* The daemon's udev monitor: PFs that appear get configured, PFs that go away are cleaned up, and VFs
 * changed behind our back are reported. */
#pragma once

struct manager;

/* Watch PCI uevents in the manager's event loop. Returns 0 or -errno. */
int manager_udev_start(struct manager *m);
void manager_udev_stop(struct manager *m);

/* Wait until udev has handled every queued event (the boot's coldplug: PF drivers are bound), at
 * most timeout_ms. Returns 0, or -ETIMEDOUT. */
int udev_wait_coldplug(unsigned timeout_ms);
