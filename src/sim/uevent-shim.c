// SPDX-License-Identifier: MIT
// Temporary stand-in for the uevent sender (branch `card`): refuses to open. Deleted when uevent.c lands.
#include <errno.h>
#include <unistd.h>

#include "uevent.h"

int sim_uevent_open(void) { return -EOPNOTSUPP; }
void sim_uevent_close(int fd) { close(fd); }
int sim_uevent_send(int fd, const char *action, const char *devpath, const char *subsystem, const char *devtype,
                    const char *const *props) { return -EOPNOTSUPP; }
