// SPDX-License-Identifier: MIT
// The control socket: one request line per connection, reply lines ending in "OK" or "ERR <errno> <message>".
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "card.h"
#include "mxgpu/log.h"
#include "sim.h"

#define MAX_LINE 4096
#define MAX_ARGS 32

static int listen_fd = -1;
static int wake_pipe[2] = { -1, -1 };
static pthread_t thread;
static bool running;
static int stop_notify_fd = -1;
static char *sock_path;

struct reply {
        char *body;
        size_t len;
        int err;          /* positive errno, 0 = OK */
        char msg[512];
};

_printf_(3, 4)
static int fail(struct reply *r, int err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
        va_end(ap);
        r->err = err;
        return -err;
}

static struct sim_fn *find_pf(struct sim_host *h, const char *addr, struct reply *rep) {
        struct sim_fn *fn = sim_host_find(h, addr);
        if (!fn || fn->kind != FN_PF) {
                fail(rep, ENODEV, "'%s' is not a PF of this host", addr);
                return NULL;
        }
        return fn;
}

static int parse_count(const char *s, unsigned *ret, struct reply *rep) {
        char *end;
        unsigned long v = strtoul(s, &end, 10);
        if (!*s || *end || s[0] == '-' || v > 1000000)
                return fail(rep, EINVAL, "'%s' is not a count", s);
        *ret = (unsigned)v;
        return 0;
}

/* load TARGET=busy|idle ...; TARGET = PF/INDEX, PF/all or all */
static int cmd_load(struct sim_host *h, int argc, char **argv, struct reply *rep) {
        if (argc < 2)
                return fail(rep, EINVAL, "load needs TARGET=busy|idle (TARGET: PF/INDEX, PF/all or all)");
        for (int i = 1; i < argc; i++) {
                char *eq = strchr(argv[i], '=');
                if (!eq || (!streq(eq + 1, "busy") && !streq(eq + 1, "idle")))
                        return fail(rep, EINVAL, "'%s': expected TARGET=busy or TARGET=idle", argv[i]);
                *eq = 0;
                bool busy = streq(eq + 1, "busy");
                char *slash = strchr(argv[i], '/');
                const char *index = slash ? slash + 1 : "all";
                if (slash)
                        *slash = 0;
                else if (!streq(argv[i], "all"))
                        return fail(rep, EINVAL, "'%s': expected PF/INDEX, PF/all or all", argv[i]);
                unsigned matched = 0;
                for (size_t f = 0; f < h->n_fns; f++) {
                        struct sim_fn *fn = h->fns[f];
                        if (fn->kind != FN_PF || !fn->pf || !fn->pf->card)
                                continue;
                        if (slash && !(sim_host_find(h, argv[i]) == fn))
                                continue;
                        for (unsigned v = 0; v < fn->pf->total_vfs; v++) {
                                char num[16];
                                snprintf(num, sizeof(num), "%u", v);
                                if (!streq(index, "all") && !streq(index, num))
                                        continue;
                                int r = sim_card_set_load(fn->pf->card, v, busy);
                                if (r < 0)
                                        return fail(rep, -r, "%s/%u: the card refused the load", fn->bdf, v);
                                matched++;
                        }
                }
                if (!matched)
                        return fail(rep, ENODEV, "'%s%s%s' names no VF of a GPU-IOV PF", argv[i], slash ? "/" : "",
                                    slash ? index : "");
        }
        return 0;
}

static int cmd_fault(struct sim_host *h, int argc, char **argv, struct reply *rep) {
        if (argc < 2)
                return fail(rep, EINVAL, "fault needs: write ADDR ATTR ERRNO [COUNT] | cmd-hang PF [COUNT] | "
                                         "cmd-stuck PF [COUNT] | vf-missing PF INDEX | remove PF | clear");
        const char *what = argv[1];
        unsigned count = 1;
        if (streq(what, "write")) {
                if (argc < 5 || argc > 6)
                        return fail(rep, EINVAL, "usage: fault write ADDR ATTR ERRNO [COUNT] (ADDR: PCI address, driver name, "
                                                 "'bus' for drivers_probe, 'vfio_pci' for enable_sriov, '*' for any)");
                int e = sim_errno_parse(argv[4]);
                if (e < 0)
                        return fail(rep, EINVAL, "'%s' is not an errno name (EIO, EBUSY, ...) or number", argv[4]);
                if (argc == 6 && parse_count(argv[5], &count, rep) < 0)
                        return -EINVAL;
                char target[64];
                struct pci_addr a;
                if (pci_addr_parse(argv[2], &a) == 0)
                        pci_addr_format(&a, target);
                else
                        snprintf(target, sizeof(target), "%s", argv[2]);
                struct sim_write_fault *slot = NULL;
                for (unsigned i = 0; i < h->n_faults && !slot; i++)
                        if ((streq(h->faults[i].target, target) && streq(h->faults[i].attr, argv[3])) || !h->faults[i].count)
                                slot = &h->faults[i];
                if (!slot) {
                        if (h->n_faults >= ARRAY_SIZE(h->faults))
                                return fail(rep, ENOSPC, "too many write faults armed; 'fault clear' first");
                        slot = &h->faults[h->n_faults++];
                }
                snprintf(slot->target, sizeof(slot->target), "%s", target);
                snprintf(slot->attr, sizeof(slot->attr), "%s", argv[3]);
                slot->err = e;
                slot->count = count;
                return 0;
        }
        if (streq(what, "clear")) {
                h->n_faults = 0;
                for (size_t f = 0; f < h->n_fns; f++) {
                        struct sim_pf *pf = h->fns[f]->pf;
                        if (!pf)
                                continue;
                        memset(pf->vf_missing, 0, MAX(pf->total_vfs, 1u) * sizeof(*pf->vf_missing));
                        if (pf->card) {
                                sim_card_fault(pf->card, SIM_CARD_FAULT_HANG, 0);
                                sim_card_fault(pf->card, SIM_CARD_FAULT_STUCK, 0);
                        }
                }
                return 0;
        }
        if (argc < 3)
                return fail(rep, EINVAL, "fault %s needs a PF address", what);
        struct sim_fn *pf = find_pf(h, argv[2], rep);
        if (!pf)
                return -ENODEV;
        if (streq(what, "cmd-hang") || streq(what, "cmd-stuck")) {
                if (argc > 4)
                        return fail(rep, EINVAL, "usage: fault %s PF [COUNT]", what);
                if (argc == 4 && parse_count(argv[3], &count, rep) < 0)
                        return -EINVAL;
                if (!pf->pf || !pf->pf->card)
                        return fail(rep, EOPNOTSUPP, "%s has no GPU-IOV capability", pf->bdf);
                sim_card_fault(pf->pf->card, streq(what, "cmd-hang") ? SIM_CARD_FAULT_HANG : SIM_CARD_FAULT_STUCK, count);
                return 0;
        }
        if (streq(what, "vf-missing")) {
                unsigned idx;
                if (argc != 4 || parse_count(argv[3], &idx, rep) < 0)
                        return fail(rep, EINVAL, "usage: fault vf-missing PF INDEX");
                if (!pf->pf || idx >= pf->pf->total_vfs)
                        return fail(rep, ERANGE, "%s has no VF %u (TotalVFs %u)", pf->bdf, idx, pf->pf ? pf->pf->total_vfs : 0);
                pf->pf->vf_missing[idx] = true;
                return 0;
        }
        if (streq(what, "remove")) {
                if (argc != 3)
                        return fail(rep, EINVAL, "usage: fault remove PF");
                kern_remove_fn(h, pf);
                return 0;
        }
        return fail(rep, EINVAL, "unknown fault '%s': write, cmd-hang, cmd-stuck, vf-missing, remove or clear", what);
}

static int dispatch(struct sim_host *h, char *line, struct reply *rep, bool *stop) {
        char *argv[MAX_ARGS];
        int argc = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, " \t", &save); t && argc < MAX_ARGS; t = strtok_r(NULL, " \t", &save))
                argv[argc++] = t;
        if (argc == 0)
                return fail(rep, EINVAL, "empty request");
        const char *cmd = argv[0];
        if (streq(cmd, "ping"))
                return 0;
        if (streq(cmd, "stop")) {
                *stop = true;
                return 0;
        }
        int r = 0;
        pthread_mutex_lock(&h->lock);
        if (streq(cmd, "status")) {
                struct json_object *o = sim_status_json(h);
                const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
                rep->body = strdup(s);
                rep->len = rep->body ? strlen(rep->body) : 0;
                json_object_put(o);
                if (!rep->body)
                        r = fail(rep, ENOMEM, "out of memory");
        } else if (streq(cmd, "load")) {
                r = cmd_load(h, argc, argv, rep);
        } else if (streq(cmd, "fault")) {
                r = cmd_fault(h, argc, argv, rep);
        } else if (streq(cmd, "latency")) {
                struct sim_latency lat = h->lat;
                if (argc != 2) {
                        r = fail(rep, EINVAL, "usage: latency realistic|zero|OP=DURATION,...");
                } else if (sim_latency_parse(argv[1], &lat, rep->msg, sizeof(rep->msg)) < 0) {
                        rep->err = EINVAL;
                        r = -EINVAL;
                } else {
                        h->lat = lat;
                        for (size_t f = 0; f < h->n_fns; f++)
                                if (h->fns[f]->pf && h->fns[f]->pf->card)
                                        sim_card_set_cmd_latency(h->fns[f]->pf->card, lat.cmd);
                }
        } else {
                r = fail(rep, EINVAL, "unknown request '%s': ping, status, load, fault, latency, stop", cmd);
        }
        pthread_mutex_unlock(&h->lock);
        return r;
}

static void write_all(int fd, const char *s, size_t n) {
        while (n > 0) {
                ssize_t w = write(fd, s, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return;
                s += w;
                n -= (size_t)w;
        }
}

static void serve(struct sim_host *h, int fd) {
        char line[MAX_LINE];
        size_t n = 0;
        while (n < sizeof(line) - 1) {
                ssize_t r = read(fd, line + n, sizeof(line) - 1 - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                n += (size_t)r;
                if (memchr(line, '\n', n))
                        break;
        }
        line[n] = 0;
        line[strcspn(line, "\r\n")] = 0;
        struct reply rep = { 0 };
        bool stop = false;
        dispatch(h, line, &rep, &stop);
        if (rep.body) {
                write_all(fd, rep.body, rep.len);
                write_all(fd, "\n", 1);
        }
        char last[600];
        if (rep.err)
                snprintf(last, sizeof(last), "ERR %d %s\n", rep.err, rep.msg);
        else
                snprintf(last, sizeof(last), "OK\n");
        write_all(fd, last, strlen(last));
        free(rep.body);
        if (stop && stop_notify_fd >= 0)
                write_all(stop_notify_fd, "s", 1);
}

static void *control_thread(void *arg) {
        struct sim_host *h = arg;
        for (;;) {
                struct pollfd p[2] = { { listen_fd, POLLIN, 0 }, { wake_pipe[0], POLLIN, 0 } };
                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (p[1].revents)
                        break;
                int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd < 0)
                        continue;
                serve(h, fd);
                close(fd);
        }
        return NULL;
}

int control_server_start(struct sim_host *h, const char *path, int stop_fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (listen_fd < 0)
                return negative_errno();
        (void)unlink(path);
        if (bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(listen_fd, 16) < 0 ||
            pipe2(wake_pipe, O_CLOEXEC) < 0) {
                int r = negative_errno();
                close(listen_fd);
                listen_fd = -1;
                return r;
        }
        sock_path = strdup(path);
        stop_notify_fd = stop_fd;
        int r = -pthread_create(&thread, NULL, control_thread, h);
        if (r < 0)
                return r;
        running = true;
        return 0;
}

void control_server_stop(void) {
        if (running) {
                write_all(wake_pipe[1], "x", 1);
                pthread_join(thread, NULL);
                running = false;
        }
        if (listen_fd >= 0)
                close(listen_fd);
        for (int i = 0; i < 2; i++)
                if (wake_pipe[i] >= 0)
                        close(wake_pipe[i]);
        listen_fd = wake_pipe[0] = wake_pipe[1] = -1;
        if (sock_path)
                (void)unlink(sock_path);
        free(sock_path);
        sock_path = NULL;
}

int control_request(const char *path, const char *line, char **ret_body, char *errbuf, size_t errsize) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = negative_errno();
                snprintf(errbuf, errsize, "cannot reach the simulator at %s: %s", path, strerror(-r));
                return r;
        }
        write_all(fd, line, strlen(line));
        write_all(fd, "\n", 1);
        size_t cap = 4096, n = 0;
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                if (n + 1 >= cap) {
                        char *nb = realloc(buf, cap * 2);
                        if (!nb)
                                return -ENOMEM;
                        buf = nb;
                        cap *= 2;
                }
                ssize_t r = read(fd, buf + n, cap - 1 - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return negative_errno();
                if (r == 0)
                        break;
                n += (size_t)r;
        }
        buf[n] = 0;
        /* the last line is the status */
        while (n > 0 && buf[n - 1] == '\n')
                buf[--n] = 0;
        char *last = strrchr(buf, '\n');
        char *status = last ? last + 1 : buf;
        if (strncmp(status, "ERR ", 4) == 0) {
                char *msg;
                long e = strtol(status + 4, &msg, 10);
                snprintf(errbuf, errsize, "%s", *msg == ' ' ? msg + 1 : msg);
                return e > 0 ? (int)-e : -EIO;
        }
        if (!streq(status, "OK")) {
                snprintf(errbuf, errsize, "unexpected reply from the simulator: '%s'", status);
                return -EPROTO;
        }
        if (last)
                *last = 0;
        else
                buf[0] = 0;
        if (ret_body)
                *ret_body = TAKE_PTR(buf);
        return 0;
}
