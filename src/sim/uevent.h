/* SPDX-License-Identifier: MIT */
/* udev-format uevents sent on netlink, so libudev monitors see the simulator's adds, removes and binds. */
#pragma once

/* Open the sender. Refuses with -EPERM in the host's own network namespace (compared with PID 1's):
 * such messages would reach the real udevd and every monitor on the host. */
int sim_uevent_open(void);
void sim_uevent_close(int fd);

/* Send one uevent to the udev multicast group (2) with the "libudev" header, magic 0xfeedcafe and the
 * MurmurHash2 of the subsystem (and of the devtype when given), as udevd does. devpath starts with
 * "/devices/". props: NULL-terminated "KEY=VALUE" strings added after ACTION, DEVPATH, SUBSYSTEM, SEQNUM.
 * Returns 0 or -errno. */
int sim_uevent_send(int fd, const char *action, const char *devpath, const char *subsystem,
                    const char *devtype, const char *const *props);
