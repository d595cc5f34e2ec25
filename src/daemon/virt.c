// SPDX-License-Identifier: MIT
// libvirt in the daemon's sd-event loop: the event implementation libvirt's drivers run on, and a connection that reconnects.
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <libvirt/virterror.h>

#include "manager.h"
#include "mxgpu/log.h"
#include "mxgpu/macro.h"
#include "mxgpu/names.h"
#include "virt.h"

/* --- libvirt's event loop on sd-event --- */

struct virt_watch {
        int id;
        bool is_timeout;
        int fd, epoll_fd;            /* epoll_fd: fd, or a dup when fd is already in the loop */
        int events;                  /* VIR_EVENT_HANDLE_* asked for */
        int frequency;               /* timeouts: ms, 0 = every iteration, -1 = off */
        sd_event_source *source;
        virEventHandleCallback hcb;
        virEventTimeoutCallback tcb;
        void *opaque;
        virFreeCallback ff;
        sd_event_source *release;    /* removed: the deferred call of ff */
        struct virt_watch *next;
};

static sd_event *ev_loop;
static struct virt_watch *watches;
static struct virt_watch *removed;   /* waiting for their ff to run from the loop */
static int next_id = 1;
static bool registered;

static struct virt_watch *watch_find(int id, bool is_timeout) {
        for (struct virt_watch *w = watches; w; w = w->next)
                if (w->id == id && w->is_timeout == is_timeout)
                        return w;
        return NULL;
}

static uint32_t to_epoll(int events) {
        return (events & VIR_EVENT_HANDLE_READABLE ? EPOLLIN : 0) | (events & VIR_EVENT_HANDLE_WRITABLE ? EPOLLOUT : 0);
}

static int from_epoll(uint32_t revents) {
        return (revents & EPOLLIN ? VIR_EVENT_HANDLE_READABLE : 0) | (revents & EPOLLOUT ? VIR_EVENT_HANDLE_WRITABLE : 0) |
               (revents & EPOLLERR ? VIR_EVENT_HANDLE_ERROR : 0) | (revents & EPOLLHUP ? VIR_EVENT_HANDLE_HANGUP : 0);
}

static int on_handle(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        struct virt_watch *w = userdata;
        w->hcb(w->id, w->fd, from_epoll(revents), w->opaque);
        return 0;
}

static int handle_enable(struct virt_watch *w) {
        /* epoll reports errors and hang-ups even for no events: an idle handle must be off. */
        if (w->events == 0)
                return sd_event_source_set_enabled(w->source, SD_EVENT_OFF);
        int r = sd_event_source_set_io_events(w->source, to_epoll(w->events));
        return r < 0 ? r : sd_event_source_set_enabled(w->source, SD_EVENT_ON);
}

static int ev_add_handle(int fd, int events, virEventHandleCallback cb, void *opaque, virFreeCallback ff) {
        if (!ev_loop)
                return -1;
        struct virt_watch *w = calloc(1, sizeof(*w));
        if (!w)
                return -1;
        *w = (struct virt_watch){ .id = next_id++, .fd = fd, .epoll_fd = -1, .events = events, .hcb = cb,
                                  .opaque = opaque, .ff = ff };
        int r = sd_event_add_io(ev_loop, &w->source, fd, to_epoll(events), on_handle, w);
        if (r == -EEXIST) {
                /* The same fd twice (libvirt allows it, epoll does not): watch a duplicate. */
                w->epoll_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                if (w->epoll_fd < 0) {
                        free(w);
                        return -1;
                }
                r = sd_event_add_io(ev_loop, &w->source, w->epoll_fd, to_epoll(events), on_handle, w);
        }
        if (r >= 0)
                r = handle_enable(w);
        if (r < 0) {
                sd_event_source_disable_unref(w->source);
                if (w->epoll_fd >= 0)
                        close(w->epoll_fd);
                free(w);
                return -1;
        }
        (void)sd_event_source_set_description(w->source, "libvirt-handle");
        w->next = watches;
        watches = w;
        return w->id;
}

static void ev_update_handle(int id, int events) {
        struct virt_watch *w = watch_find(id, false);
        if (!w)
                return;
        w->events = events;
        (void)handle_enable(w);
}

/* The free callback and the memory go later, from the loop: the caller may hold a lock ff takes. */
static void watch_release(struct virt_watch *w) {
        for (struct virt_watch **p = &removed; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        w->release = sd_event_source_disable_unref(w->release);
        if (w->ff)
                w->ff(w->opaque);
        free(w);
}

static int on_release(sd_event_source *s, void *userdata) {
        watch_release(userdata);
        return 0;
}

void virt_event_flush(void) {
        while (removed)
                watch_release(removed);
}

static int watch_remove(int id, bool is_timeout) {
        struct virt_watch **p = &watches, *w;
        for (; (w = *p); p = &w->next)
                if (w->id == id && w->is_timeout == is_timeout)
                        break;
        if (!w)
                return -1;
        *p = w->next;
        w->source = sd_event_source_disable_unref(w->source);
        if (w->epoll_fd >= 0)
                close(w->epoll_fd);
        w->epoll_fd = -1;
        w->next = removed;
        removed = w;
        /* Without a deferred call, ff runs at the next virt_event_flush(), never under the caller's lock. */
        if (sd_event_add_defer(ev_loop, &w->release, on_release, w) < 0)
                log_warning("cannot schedule the release of a libvirt event watch");
        return 0;
}

static int ev_remove_handle(int id) {
        return watch_remove(id, false);
}

static int on_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        struct virt_watch *w = userdata;
        /* Re-arm first: the callback may change or remove this timeout. */
        if (w->frequency > 0) {
                uint64_t now;
                if (sd_event_now(ev_loop, CLOCK_MONOTONIC, &now) >= 0)
                        (void)sd_event_source_set_time(s, now + (uint64_t)w->frequency * 1000);
                (void)sd_event_source_set_enabled(s, SD_EVENT_ON);
        }
        w->tcb(w->id, w->opaque);
        return 0;
}

static int on_every_iteration(sd_event_source *s, void *userdata) {
        struct virt_watch *w = userdata;
        w->tcb(w->id, w->opaque);
        return 0;
}

/* frequency 0: a defer source that stays on (runs every iteration); > 0: a repeating timer. */
static int timeout_arm(struct virt_watch *w) {
        w->source = sd_event_source_disable_unref(w->source);
        int r = 0;
        if (w->frequency == 0) {
                r = sd_event_add_defer(ev_loop, &w->source, on_every_iteration, w);
                if (r >= 0)
                        r = sd_event_source_set_enabled(w->source, SD_EVENT_ON);
        } else if (w->frequency > 0) {
                uint64_t now;
                r = sd_event_now(ev_loop, CLOCK_MONOTONIC, &now);
                if (r >= 0)
                        r = sd_event_add_time(ev_loop, &w->source, CLOCK_MONOTONIC, now + (uint64_t)w->frequency * 1000, 1000,
                                              on_timer, w);
        }
        if (r >= 0 && w->source)
                (void)sd_event_source_set_description(w->source, "libvirt-timeout");
        return r;
}

static int ev_add_timeout(int frequency, virEventTimeoutCallback cb, void *opaque, virFreeCallback ff) {
        if (!ev_loop)
                return -1;
        struct virt_watch *w = calloc(1, sizeof(*w));
        if (!w)
                return -1;
        *w = (struct virt_watch){ .id = next_id++, .is_timeout = true, .fd = -1, .epoll_fd = -1, .frequency = frequency,
                                  .tcb = cb, .opaque = opaque, .ff = ff };
        if (timeout_arm(w) < 0) {
                sd_event_source_disable_unref(w->source);
                free(w);
                return -1;
        }
        w->next = watches;
        watches = w;
        return w->id;
}

static void ev_update_timeout(int id, int frequency) {
        struct virt_watch *w = watch_find(id, true);
        if (!w)
                return;
        w->frequency = frequency;
        if (timeout_arm(w) < 0)
                log_warning("cannot re-arm a libvirt timeout");
}

static int ev_remove_timeout(int id) {
        return watch_remove(id, true);
}

unsigned virt_event_n_registered(void) {
        unsigned n = 0;
        for (struct virt_watch *w = watches; w; w = w->next)
                n++;
        return n;
}

/* libvirt prints every error on stderr by default; the daemon logs what it reports itself. */
static void virt_error_quiet(void *userdata, virErrorPtr err) {
        log_debug("libvirt: %s", err && err->message ? err->message : "?");
}

int virt_event_register(sd_event *e) {
        int r = virt_lib_load();
        if (r < 0)
                return r;
        if (registered) {
                if (e == ev_loop)
                        return 0;
                if (watches)
                        return -EBUSY;
                sd_event_unref(ev_loop);
                ev_loop = sd_event_ref(e);
                return 0;
        }
        ev_loop = sd_event_ref(e);
        libvirt.virSetErrorFunc(NULL, virt_error_quiet);
        libvirt.virEventRegisterImpl(ev_add_handle, ev_update_handle, ev_remove_handle, ev_add_timeout, ev_update_timeout,
                             ev_remove_timeout);
        registered = true;
        return 0;
}

const char *virt_last_error(void) {
        if (!virt_lib_loaded())
                return virt_lib_error()[0] ? virt_lib_error() : "libvirt is not loaded";
        virErrorPtr e = libvirt.virGetLastError();
        return e && e->message ? e->message : "unknown libvirt error";
}

int virt_last_errno(void) {
        if (!virt_lib_loaded())
                return -EOPNOTSUPP;
        virErrorPtr e = libvirt.virGetLastError();
        if (!e)
                return -EIO;
        switch (e->code) {
        case VIR_ERR_NO_DOMAIN:
        case VIR_ERR_NO_NODE_DEVICE:
                return -ENOENT;
        case VIR_ERR_NO_SUPPORT:
        case VIR_ERR_OPERATION_UNSUPPORTED:
                return -EOPNOTSUPP;
        case VIR_ERR_NO_CONNECT:
        case VIR_ERR_SYSTEM_ERROR:
        case VIR_ERR_RPC:
                return e->domain == VIR_FROM_RPC || e->domain == VIR_FROM_REMOTE || e->code == VIR_ERR_NO_CONNECT ? -ENOTCONN : -EIO;
        case VIR_ERR_OPERATION_INVALID:
        case VIR_ERR_OPERATION_FAILED:
                return -EBUSY;
        case VIR_ERR_INVALID_ARG:
        case VIR_ERR_XML_ERROR:
        case VIR_ERR_CONFIG_UNSUPPORTED:
                return -EINVAL;
        default:
                return -EIO;
        }
}

/* --- where a local URI's socket lives --- */

static bool query_param(const char *query, const char *key, char *buf, size_t size) {
        size_t klen = strlen(key);
        for (const char *p = query; p && *p; ) {
                const char *end = p + strcspn(p, "&;");
                if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
                        size_t n = (size_t)(end - p) - klen - 1;
                        if (n >= size)
                                return false;
                        memcpy(buf, p + klen + 1, n);
                        buf[n] = 0;
                        return true;
                }
                p = *end ? end + 1 : end;
        }
        return false;
}

int virt_uri_socket(const char *uri, struct virt_socket *ret) {
        const char *sep = strstr(uri, "://");
        if (!sep || sep == uri)
                return -EINVAL;
        char driver[32], transport[32] = "";
        size_t slen = (size_t)(sep - uri), dlen = strcspn(uri, "+");
        if (dlen > slen)
                dlen = slen;
        if (dlen >= sizeof(driver) || slen - dlen >= sizeof(transport))
                return -EINVAL;
        memcpy(driver, uri, dlen);
        driver[dlen] = 0;
        if (dlen < slen) {
                memcpy(transport, uri + dlen + 1, slen - dlen - 1);
                transport[slen - dlen - 1] = 0;
        }
        const char *rest = sep + 3, *path = rest + strcspn(rest, "/?");
        /* Another host, or a transport other than a local socket (ssh, tls, tcp, ext, libssh): nothing here to watch. */
        if (path != rest || (transport[0] && !streq(transport, "unix")))
                return -EREMOTE;
        const char *query = strchr(path, '?');
        size_t plen = query ? (size_t)(query - path) : strlen(path);
        struct virt_socket s = {};
        char sock[sizeof(s.dir) + sizeof(s.names[0])];
        if (query && query_param(query + 1, "socket", sock, sizeof(sock))) {
                char *slash = strrchr(sock, '/');
                if (sock[0] != '/' || !slash[1] || (size_t)(slash - sock) >= sizeof(s.dir) ||
                    strlen(slash + 1) >= sizeof(s.names[0]))
                        return -EINVAL;
                if (slash == sock)
                        snprintf(s.dir, sizeof(s.dir), "/");
                else
                        memcpy(s.dir, sock, (size_t)(slash - sock));
                snprintf(s.names[s.n_names++], sizeof(s.names[0]), "%s", slash + 1);
        } else if (plen == strlen("/system") && strncmp(path, "/system", plen) == 0 && !streq(driver, "test")) {
                /* The monolithic libvirtd, the modular daemon of this driver, or the proxy (libvirt picks). */
                snprintf(s.dir, sizeof(s.dir), "%s", LIBVIRT_SYSTEM_RUN_DIR);
                snprintf(s.names[s.n_names++], sizeof(s.names[0]), "libvirt-sock");
                snprintf(s.names[s.n_names++], sizeof(s.names[0]), "virt%sd-sock", driver);
                snprintf(s.names[s.n_names++], sizeof(s.names[0]), "virtproxyd-sock");
        } else
                return -EREMOTE; /* in-process drivers (test://), session daemons: retried on a timer */
        *ret = s;
        return 0;
}

static bool socket_present(const struct virt_socket *s) {
        for (size_t i = 0; i < s->n_names; i++) {
                char p[sizeof(s->dir) + sizeof(s->names[0]) + 1];
                struct stat st;
                snprintf(p, sizeof(p), "%s/%s", s->dir, s->names[i]);
                if (stat(p, &st) == 0 && S_ISSOCK(st.st_mode))
                        return true;
        }
        return false;
}

/* --- the connection --- */

/* A first retry soon (a libvirtd restart), then doubling up to 5 min where nothing can be watched. */
#define BACKOFF_MIN_USEC (100 * 1000ULL)
#define BACKOFF_MAX_USEC (300 * 1000 * 1000ULL)

struct virt {
        struct manager *m;
        char *uri;
        struct virt_callbacks cb;
        virConnectPtr conn;
        int lifecycle_id, nodedev_id;
        sd_event_source *retry;        /* the next attempt, on a timer */
        uint64_t backoff;
        unsigned attempts;
        bool local;                    /* sock is known: its folder is watched while not connected */
        struct virt_socket sock;
        sd_event_source *watch;        /* inotify on sock.dir, or on its nearest existing parent */
        char watched[VIRT_SOCKET_DIR_MAX];
        bool told_waiting;
        bool closing;
};

static int schedule_connect(struct virt *v);
static int watch_arm(struct virt *v);

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque) {
        struct virt *v = opaque;
        if (v->cb.domain_event && conn == v->conn)
                v->cb.domain_event(v->m, conn, dom, event, detail);
        return 0;
}

static void on_nodedev(virConnectPtr conn, virNodeDevicePtr dev, int event, int detail, void *opaque) {
        struct virt *v = opaque;
        if (v->cb.nodedev_event && conn == v->conn)
                v->cb.nodedev_event(v->m, conn, dev, event);
}

static void drop_connection(struct virt *v) {
        if (!v->conn)
                return;
        virConnectPtr c = TAKE_PTR(v->conn);
        if (v->lifecycle_id >= 0)
                (void)libvirt.virConnectDomainEventDeregisterAny(c, v->lifecycle_id);
        if (v->nodedev_id >= 0)
                (void)libvirt.virConnectNodeDeviceEventDeregisterAny(c, v->nodedev_id);
        v->lifecycle_id = v->nodedev_id = -1;
        libvirt.virConnectClose(c);
}

/* libvirtd went away (or the keepalive gave up). Closing here would re-enter the driver that
 * calls us: close and reconnect from the loop. */
static void on_close(virConnectPtr conn, int reason, void *opaque) {
        struct virt *v = opaque;
        if (conn != v->conn || v->closing)
                return;
        static const char *const why[] = { "error", "end of file", "keepalive timeout", "client closed" };
        log_warning("libvirt connection %s lost (%s); reconnecting", v->uri,
                    reason >= 0 && (size_t)reason < ARRAY_SIZE(why) ? why[reason] : "?");
        v->backoff = 0;
        v->told_waiting = false;
        (void)schedule_connect(v);
}

static int try_connect(struct virt *v) {
        drop_connection(v);
        virConnectPtr c = libvirt.virConnectOpen(v->uri);
        if (!c)
                return -ENOTCONN;
        v->conn = c;
        /* The remote driver notices a hung libvirtd only with keepalives; others do not support them. */
        (void)libvirt.virConnectSetKeepAlive(c, 5, 3);
        if (libvirt.virConnectRegisterCloseCallback(c, on_close, v, NULL) < 0)
                log_debug("libvirt %s: no close callback (%s)", v->uri, virt_last_error());
        v->lifecycle_id = libvirt.virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                                                   VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), v, NULL);
        if (v->lifecycle_id < 0)
                log_warning("libvirt %s: cannot follow domain events (%s); VFs of undefined domains return only on reconcile",
                            v->uri, virt_last_error());
        /* libvirtd learns about new VFs from udev a little after they appear: publish them then. */
        v->nodedev_id = libvirt.virConnectNodeDeviceEventRegisterAny(c, NULL, VIR_NODE_DEVICE_EVENT_ID_LIFECYCLE,
                                                                     VIR_NODE_DEVICE_EVENT_CALLBACK(on_nodedev), v, NULL);
        if (v->nodedev_id < 0)
                log_debug("libvirt %s: no node device events (%s)", v->uri, virt_last_error());
        return 0;
}

/* Nothing to connect to: stop the timer and the watch for good. */
static void give_up(struct virt *v) {
        v->retry = sd_event_source_disable_unref(v->retry);
        v->watch = sd_event_source_disable_unref(v->watch);
        v->watched[0] = 0;
}

static int on_retry(sd_event_source *s, uint64_t usec, void *userdata) {
        struct virt *v = userdata;
        /* A local libvirtd that is not running yet: wait for its socket, without loading libvirt. */
        if (v->local && !socket_present(&v->sock)) {
                if (!v->told_waiting)
                        log_info("libvirt is not running (no socket in %s yet): VF pools wait for it", v->sock.dir);
                v->told_waiting = true;
                v->backoff = 0;
                return watch_arm(v);
        }
        int r = virt_lib_load();
        if (r < 0) {
                log_warning("%s: VF pools for libvirt domains are not available; everything else works", virt_lib_error());
                give_up(v);
                return 0;
        }
        r = virt_event_register(v->m->event);
        if (r < 0) {
                log_error_errno(r, "cannot run libvirt's events in this loop; VF pools are not available");
                give_up(v);
                return 0;
        }
        v->attempts++;
        if (try_connect(v) < 0) {
                /* Said once at warning level, then quietly: libvirtd may simply not run yet. */
                if (v->attempts == 1)
                        log_warning("cannot connect to libvirt at %s (%s); retrying in the background", v->uri, virt_last_error());
                else
                        log_debug("libvirt %s: attempt %u failed: %s", v->uri, v->attempts, virt_last_error());
                /* A socket that refuses (libvirtd starting, or gone and its socket left behind): the
                 * timer, and the watch for a new socket, whichever comes first. */
                if (v->local && (r = watch_arm(v)) < 0)
                        return r;
                return schedule_connect(v);
        }
        log_info("connected to libvirt at %s", v->uri);
        v->attempts = 0;
        v->backoff = 0;
        v->told_waiting = false;
        v->retry = sd_event_source_disable_unref(v->retry);
        v->watch = sd_event_source_disable_unref(v->watch);
        v->watched[0] = 0;
        if (v->cb.connected)
                v->cb.connected(v->m, v->conn);
        return 0;
}

static int schedule_at(struct virt *v, uint64_t delay) {
        uint64_t now;
        int r = sd_event_now(v->m->event, CLOCK_MONOTONIC, &now);
        if (r < 0)
                return r;
        if (v->retry) {
                r = sd_event_source_set_time(v->retry, now + delay);
                return r < 0 ? r : sd_event_source_set_enabled(v->retry, SD_EVENT_ONESHOT);
        }
        return sd_event_add_time(v->m->event, &v->retry, CLOCK_MONOTONIC, now + delay, 10 * 1000, on_retry, v);
}

static int schedule_connect(struct virt *v) {
        v->backoff = v->backoff ? MIN(v->backoff * 2, BACKOFF_MAX_USEC) : BACKOFF_MIN_USEC;
        return schedule_at(v, v->backoff);
}

static int on_watch(sd_event_source *s, const struct inotify_event *ev, void *userdata) {
        struct virt *v = userdata;
        if (socket_present(&v->sock)) {
                /* A new socket: try now, whatever the timer's backoff had reached. */
                log_debug("libvirt socket in %s (%s): connecting", v->sock.dir, ev->len ? ev->name : "?");
                v->backoff = 0;
                return schedule_at(v, 0);
        }
        /* A folder on the way appeared (or the watched one went): watch the nearest existing one again. */
        return watch_arm(v);
}

/* The nearest existing folder on the way to sock.dir (sock.dir itself once it exists). */
static void nearest_dir(const struct virt *v, char *path, size_t size) {
        struct stat st;
        snprintf(path, size, "%s", v->sock.dir);
        while (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
                char *slash = strrchr(path, '/');
                if (!slash || slash == path) {
                        snprintf(path, size, "/");
                        return;
                }
                *slash = 0;
        }
}

/* Watch sock.dir for new entries, or the nearest parent that exists for the next folder on the way. */
static int watch_arm(struct virt *v) {
        char path[sizeof(v->watched)];
        nearest_dir(v, path, sizeof(path));
        for (;;) {
                if (!v->watch || !streq(path, v->watched)) {
                        v->watch = sd_event_source_disable_unref(v->watch);
                        v->watched[0] = 0;
                        int r = sd_event_add_inotify(v->m->event, &v->watch, path,
                                                     IN_CREATE | IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                                                             IN_ONLYDIR,
                                                     on_watch, v);
                        if (r < 0) {
                                /* No inotify (limits): the timer alone, with its backoff. */
                                log_warning_errno(r, "cannot watch %s for libvirt's socket; retrying on a timer instead", path);
                                v->local = false;
                                return schedule_connect(v);
                        }
                        (void)sd_event_source_set_description(v->watch, "libvirt-socket-watch");
                        snprintf(v->watched, sizeof(v->watched), "%s", path);
                }
                /* The socket, or the next folder on the way, may have come between the last look and
                 * this watch (mkdir -p makes several at once): no event will tell of it. */
                if (socket_present(&v->sock))
                        return schedule_at(v, 0);
                nearest_dir(v, path, sizeof(path));
                if (streq(path, v->watched))
                        return 0;
        }
}

int manager_virt_start(struct manager *m, const char *uri, const struct virt_callbacks *cb) {
        struct virt *v = calloc(1, sizeof(*v));
        if (!v)
                return -ENOMEM;
        *v = (struct virt){ .m = m, .uri = strdup(uri), .cb = *cb, .lifecycle_id = -1, .nodedev_id = -1 };
        if (!v->uri) {
                free(v);
                return -ENOMEM;
        }
        v->local = virt_uri_socket(uri, &v->sock) >= 0;
        m->virt = v;
        /* The first attempt right away, in the loop's first iteration. */
        int r = sd_event_add_time(m->event, &v->retry, CLOCK_MONOTONIC, 0, 0, on_retry, v);
        if (r < 0) {
                manager_virt_stop(m);
                return r;
        }
        return 0;
}

void manager_virt_stop(struct manager *m) {
        struct virt *v = m->virt;
        if (!v)
                return;
        v->closing = true;
        give_up(v);
        drop_connection(v);
        free(v->uri);
        free(v);
        m->virt = NULL;
        /* Outside of any libvirt call now: the free callbacks of removed watches may run. */
        virt_event_flush();
}

virConnectPtr manager_virt_conn(struct manager *m) {
        return m->virt ? m->virt->conn : NULL;
}

const char *manager_virt_unavailable(void) {
        return virt_lib_error()[0] ? virt_lib_error() : NULL;
}
