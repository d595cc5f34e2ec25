/* SPDX-License-Identifier: MIT */
/* The daemon's libvirt connection: libvirt's event loop on the manager's sd-event loop, a connection
 * that comes back after libvirtd restarts (backoff, then reconcile), and the domain events it forwards. */
#pragma once

#include <stdbool.h>
#include <systemd/sd-event.h>
#include "virtlib.h"

struct manager;

/* libvirt's event loop implementation (virEventRegisterImpl) on top of e: handles become io sources,
 * timeouts timer or defer sources; free callbacks run later from the loop, never inside a remove
 * (libvirt's drivers remove handles with their own locks held). libvirt allows one implementation
 * per process: the first call registers it; later calls only move it to another loop, which is
 * refused (-EBUSY) while handles or timeouts are registered. Loads libvirt first (virt_lib_load(): -ENOPKG
 * when it is missing). */
int virt_event_register(sd_event *e);
/* Run the free callbacks of removed handles and timeouts now instead of from the loop; only where
 * no libvirt call is in progress (shutting down). */
void virt_event_flush(void);
/* Handles and timeouts libvirt has registered now (for tests). */
unsigned virt_event_n_registered(void);

/* What the connection tells its owner. */
struct virt_callbacks {
        /* A (re)connection is up: publish and reconcile. */
        void (*connected)(struct manager *m, virConnectPtr conn);
        /* A domain's lifecycle event (virDomainEventType, detail). */
        void (*domain_event)(struct manager *m, virConnectPtr conn, virDomainPtr dom, int event, int detail);
        /* A node device appeared in (or left) libvirt's list (virNodeDeviceEventLifecycleType). */
        void (*nodedev_event)(struct manager *m, virConnectPtr conn, virNodeDevicePtr dev, int event);
};

/* Where the socket of a local libvirt URI lives. */
#define VIRT_SOCKET_DIR_MAX 256
struct virt_socket {
        char dir[VIRT_SOCKET_DIR_MAX];
        char names[3][64];           /* entries of dir, any of which is a libvirt daemon's socket */
        size_t n_names;
};
/* driver:///system (also driver+unix:///system) -> /run/libvirt with libvirt-sock, virtDRIVERd-sock and
 * virtproxyd-sock (libvirt picks one of them); ?socket=PATH -> PATH's folder and name. Returns 0,
 * -EREMOTE (another host or transport, an in-process driver such as test://, a session daemon:
 * nothing to watch) or -EINVAL (not a URI). */
int virt_uri_socket(const char *uri, struct virt_socket *ret);

/* Follow uri from m's loop. A local URI whose socket is not there yet is waited for with inotify on
 * the socket's folder (or its nearest existing parent): no timer, and libvirt is not even loaded
 * until the socket appears. Otherwise, and whenever the connection closes later (libvirtd restarted
 * or gone), it tries again after 0.1 s doubling up to 5 min, or at once when a new socket appears.
 * libvirt (virtlib.h) is loaded at the first attempt; when it is missing, that is said once and
 * nothing more is tried. Never fails for a libvirtd that is not there: only for a broken event
 * loop (-errno). */
int manager_virt_start(struct manager *m, const char *uri, const struct virt_callbacks *cb);
void manager_virt_stop(struct manager *m);
/* The connection when it is up, else NULL (borrowed). */
virConnectPtr manager_virt_conn(struct manager *m);
/* Why libvirt cannot be used at all (not installed, too old), or NULL. */
const char *manager_virt_unavailable(void);
/* libvirt's last error as text, for messages. */
const char *virt_last_error(void);
/* A negative errno for libvirt's last error: ENOENT for an unknown domain, EOPNOTSUPP for an
 * operation the driver lacks, ENOTCONN for a lost connection, EIO otherwise. */
int virt_last_errno(void);
