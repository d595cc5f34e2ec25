// SPDX-License-Identifier: MIT
// mxgpu-sim: mounts a simulated Linux PCI sysfs (DIR/sys) and /dev/vfio (DIR/dev) for a chosen host, and controls it.
#define FUSE_USE_VERSION 312
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mxgpu/log.h"
#include "mxgpu/names.h"
#include "sim.h"
#include "fuseio.h"
#include "uevent.h"

struct opts {
        const char *host, *root, *latency;
        bool uevents, json;
        int argc;      /* verb arguments after the options */
        char **argv;
};

static char root_dir[PATH_MAX];

static int path_in_root(char *buf, size_t size, const char *name) {
        int n = snprintf(buf, size, "%s/%s", root_dir, name);
        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* --- mounts --- */

static int stop_pipe[2] = { -1, -1 };

static void on_signal(int sig) {
        int e = errno;
        if (write(stop_pipe[1], "s", 1) < 0) {
                /* nothing to do: the pipe is full, a stop is already pending */
        }
        errno = e;
}

struct mount {
        const char *name;            /* "sys" or "dev" */
        const struct fuse_operations *ops;
        bool own_permissions;        /* the filesystem checks access itself (see sysfs_open) */
        struct fuse *fuse;
        pthread_t thread;
        bool running;
        dev_t dev;                   /* the mount's device: its FUSE connection is /sys/fs/fuse/connections/<minor> */
        char path[PATH_MAX];
};

/* The device of a mount point, from /proc/self/mountinfo: a stat() of our own mount from this
 * thread would wait for the FUSE loop, and never return under valgrind. 0 when not found. */
static dev_t mount_device(const char *path) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096], mp[PATH_MAX];
        unsigned maj, min;
        dev_t found = 0;
        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "%*s %*s %u:%u %*s %4095s", &maj, &min, mp) == 3 && streq(mp, path))
                        found = makedev(maj, min);
        return found;
}

static void *loop_thread(void *arg) {
        struct mount *m = arg;
        /* Enough workers that writes blocked on a held VFIO group do not starve the rest, and that
         * binds from many threads run at once as in the kernel (libfuse's default is 10). */
        struct fuse_loop_config *cfg = fuse_loop_cfg_create();
        if (!cfg) {
                log_error("cannot start the FUSE loop of %s: out of memory", m->path);
                return NULL;
        }
        fuse_loop_cfg_set_clone_fd(cfg, 0);
        fuse_loop_cfg_set_idle_threads(cfg, 16);
        fuse_loop_cfg_set_max_threads(cfg, 128);
        fuse_loop_mt(m->fuse, cfg);
        fuse_loop_cfg_destroy(cfg);
        return NULL;
}

static int mount_start(struct mount *m, struct sim_host *h) {
        if (path_in_root(m->path, sizeof(m->path), m->name) < 0)
                return -ENAMETOOLONG;
        if (mkdir(m->path, 0755) < 0 && errno != EEXIST)
                return log_error_errno(negative_errno(), "cannot create %s", m->path);
        char opts[256];
        /* As root other users may look in too, as in /sys. The kernel checks the mode bits of /dev; for
         * sys the simulator does, because the kernel's check would fetch the attributes of every
         * component of every path walk, a round trip each (fs.c, sysfs_init). */
        snprintf(opts, sizeof(opts), "%sfsname=mxgpu-sim,subtype=%s%s", m->own_permissions ? "" : "default_permissions,",
                 m->name, geteuid() == 0 ? ",allow_other" : "");
        char *argv[] = { (char *)"mxgpu-sim", (char *)"-o", opts, NULL };
        struct fuse_args args = FUSE_ARGS_INIT(3, argv);
        m->fuse = fuse_new(&args, m->ops, sizeof(*m->ops), h);
        fuse_opt_free_args(&args);
        if (!m->fuse)
                return log_error_errno(-EIO, "cannot set up the FUSE filesystem for %s", m->path);
        if (fuse_mount(m->fuse, m->path) != 0) {
                fuse_destroy(m->fuse);
                m->fuse = NULL;
                return log_error_errno(-EIO, "cannot mount %s (is it already mounted? try: mxgpu-sim stop --root %s)",
                                       m->path, root_dir);
        }
        int r = sim_fuseio_install(m->fuse);
        if (r < 0) {
                fuse_unmount(m->fuse);
                fuse_destroy(m->fuse);
                m->fuse = NULL;
                return log_error_errno(r, "cannot set up the FUSE device I/O for %s", m->path);
        }
        r = -pthread_create(&m->thread, NULL, loop_thread, m);
        if (r < 0) {
                fuse_unmount(m->fuse);
                fuse_destroy(m->fuse);
                m->fuse = NULL;
                return log_error_errno(r, "cannot start the FUSE loop");
        }
        m->running = true;
        m->dev = mount_device(m->path);
        return 0;
}

static int lazy_unmount(const char *path);

static void mount_stop(struct mount *m) {
        if (!m->fuse)
                return;
        if (m->running) {
                /* Detach the mount: once its last user is gone the kernel ends the connection and the loop
                 * returns. As root, abort the connection too, so open files cannot keep it alive. */
                fuse_exit(m->fuse);
                (void)lazy_unmount(m->path);
                if (geteuid() == 0 && m->dev) {
                        char abort_path[128];
                        snprintf(abort_path, sizeof(abort_path), "/sys/fs/fuse/connections/%u/abort", minor(m->dev));
                        int fd = open(abort_path, O_WRONLY | O_CLOEXEC);
                        if (fd >= 0) {
                                if (write(fd, "1", 1) < 0) {
                                        /* already gone */
                                }
                                close(fd);
                        }
                }
                struct timespec deadline;
                clock_gettime(CLOCK_REALTIME, &deadline);
                deadline.tv_sec += 10;
                if (pthread_timedjoin_np(m->thread, NULL, &deadline) != 0) {
                        log_error("%s is still in use; exiting without waiting for it", m->path);
                        _exit(1);
                }
                m->running = false;
        }
        fuse_unmount(m->fuse);
        fuse_destroy(m->fuse);
        m->fuse = NULL;
}

/* --- the server --- */

static void report_ready(int fd, const char *msg) {
        if (fd < 0)
                return;
        char line[1024];
        snprintf(line, sizeof(line), "%s\n", msg);
        if (write(fd, line, strlen(line)) < 0) {
                /* the parent is gone: nobody to tell */
        }
        close(fd);
}

/* A failure before the simulator is ready: said once, by the parent of a background start (which
 * reads it from the pipe), else here. */
static int start_failed(int ready_fd, const char *msg) {
        if (ready_fd >= 0)
                report_ready(ready_fd, msg);
        else
                log_error("%s", msg);
        return 1;
}

static bool server_alive(void) {
        char sock[PATH_MAX], err[256];
        if (path_in_root(sock, sizeof(sock), SIM_CONTROL_SOCKET) < 0)
                return false;
        return control_request(sock, "ping", NULL, err, sizeof(err)) == 0;
}

static int run_server(const struct opts *o, int ready_fd, bool daemon) {
        char err[1024];
        struct sim_latency lat;
        sim_latency_default(&lat);
        if (o->latency && sim_latency_parse(o->latency, &lat, err, sizeof(err)) < 0) {
                return start_failed(ready_fd, err);
        }
        if (server_alive()) {
                snprintf(err, sizeof(err), "a simulator already runs in %.900s", root_dir);
                return start_failed(ready_fd, err);
        }
        struct sim_host *h = NULL;
        int r = sim_host_new(o->host, &lat, &h, err, sizeof(err));
        if (r < 0) {
                if (!err[0])
                        snprintf(err, sizeof(err), "cannot build host '%s': %s", o->host, strerror(-r));
                return start_failed(ready_fd, err);
        }
        if (o->uevents) {
                r = sim_uevent_open();
                if (r < 0) {
                        snprintf(err, sizeof(err), "--uevents: cannot send uevents (%s): they are refused in the host's own "
                                 "network namespace; run the simulator inside 'unshare --net'", strerror(-r));
                        sim_host_free(h);
                        return start_failed(ready_fd, err);
                }
                h->uevent_fd = r;
        }
        sim_global_host = h;
        if (pipe2(stop_pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
                sim_host_free(h);
                report_ready(ready_fd, "cannot create a pipe");
                return 1;
        }
        struct sigaction sa = { .sa_handler = on_signal };
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);

        struct mount mounts[2] = { { .name = "sys", .ops = &sim_sysfs_ops, .own_permissions = true }, { .name = "dev", .ops = &sim_devfs_ops } };
        char sock[PATH_MAX];
        int rc = 1;
        r = mount_start(&mounts[0], h);
        if (r == 0)
                r = mount_start(&mounts[1], h);
        if (r == 0 && path_in_root(sock, sizeof(sock), SIM_CONTROL_SOCKET) == 0) {
                r = control_server_start(h, sock, stop_pipe[1]);
                if (r < 0)
                        log_error_errno(r, "cannot listen on %s", sock);
        }
        if (r < 0) {
                report_ready(ready_fd, "cannot mount or listen (see the messages above)");
                goto out;
        }
        char pidfile[PATH_MAX];
        if (path_in_root(pidfile, sizeof(pidfile), "mxgpu-sim.pid") == 0) {
                FILE *f = fopen(pidfile, "we");
                if (f) {
                        fprintf(f, "%d\n", (int)getpid());
                        fclose(f);
                }
        }
        if (daemon) {
                /* from here on, messages go to the log file next to the mounts */
                char logf[PATH_MAX];
                int fd = path_in_root(logf, sizeof(logf), "mxgpu-sim.log") == 0 ?
                         open(logf, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
                int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (nul >= 0) {
                        dup2(nul, STDIN_FILENO);
                        dup2(fd >= 0 ? fd : nul, STDOUT_FILENO);
                        dup2(fd >= 0 ? fd : nul, STDERR_FILENO);
                        close(nul);
                }
                if (fd >= 0)
                        close(fd);
        }
        log_info("host '%s' mounted at %s/sys and %s/dev", o->host, root_dir, root_dir);
        report_ready(ready_fd, "OK");
        ready_fd = -1;
        for (;;) {
                struct pollfd p = { stop_pipe[0], POLLIN, 0 };
                if (poll(&p, 1, -1) > 0)
                        break;
                if (errno != EINTR)
                        break;
        }
        log_info("stopping");
        rc = 0;
out:
        pthread_mutex_lock(&h->lock);
        h->shutting_down = true;
        pthread_cond_broadcast(&h->cond);
        pthread_mutex_unlock(&h->lock);
        control_server_stop();
        mount_stop(&mounts[1]);
        mount_stop(&mounts[0]);
        if (path_in_root(pidfile, sizeof(pidfile), "mxgpu-sim.pid") == 0)
                (void)unlink(pidfile);
        if (h->uevent_fd >= 0)
                sim_uevent_close(h->uevent_fd);
        sim_global_host = NULL;
        sim_host_free(h);
        close(stop_pipe[0]);
        close(stop_pipe[1]);
        report_ready(ready_fd, "the simulator failed to start");
        return rc;
}

static int verb_start(const struct opts *o, bool daemon) {
        if (!o->host) {
                log_error("--host SPEC is required (%s)", sim_host_presets_help());
                return 2;
        }
        if (!daemon)
                return run_server(o, -1, false);
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
                return log_error_errno(negative_errno(), "pipe"), 1;
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
                return log_error_errno(negative_errno(), "fork"), 1;
        if (pid == 0) {
                close(p[0]);
                setsid();
                _exit(run_server(o, p[1], true));
        }
        close(p[1]);
        /* wait until both mounts are up (or the child says why not) */
        char msg[1024];
        size_t n = 0;
        for (;;) {
                ssize_t r = read(p[0], msg + n, sizeof(msg) - 1 - n);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        break;
                n += (size_t)r;
                if (memchr(msg, '\n', n) || n == sizeof(msg) - 1)
                        break;
        }
        close(p[0]);
        msg[n] = 0;
        msg[strcspn(msg, "\n")] = 0;
        if (streq(msg, "OK"))
                return 0;
        log_error("%s", n ? msg : "the simulator exited before it was ready");
        waitpid(pid, NULL, 0);
        return 1;
}

/* --- stop --- */

static bool is_mountpoint(const char *path) {
        _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return false;
        char line[4096];
        while (fgets(line, sizeof(line), f)) {
                char mp[PATH_MAX];
                /* id parent major:minor root mountpoint ... */
                if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
                        continue;
                /* unescape \040 and friends */
                char un[PATH_MAX];
                size_t j = 0;
                for (size_t i = 0; mp[i] && j + 1 < sizeof(un); i++) {
                        if (mp[i] == '\\' && mp[i + 1] && mp[i + 2] && mp[i + 3]) {
                                un[j++] = (char)((mp[i + 1] - '0') * 64 + (mp[i + 2] - '0') * 8 + (mp[i + 3] - '0'));
                                i += 3;
                        } else {
                                un[j++] = mp[i];
                        }
                }
                un[j] = 0;
                if (streq(un, path))
                        return true;
        }
        return false;
}

static int lazy_unmount(const char *path) {
        if (geteuid() == 0)
                return umount2(path, MNT_DETACH) < 0 ? negative_errno() : 0;
        pid_t pid = fork();
        if (pid < 0)
                return negative_errno();
        if (pid == 0) {
                execlp("fusermount3", "fusermount3", "-u", "-z", "-q", path, (char *)NULL);
                _exit(127);
        }
        int st;
        if (waitpid(pid, &st, 0) < 0)
                return negative_errno();
        return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -EIO;
}

static int verb_stop(const struct opts *o) {
        char sock[PATH_MAX], err[512], sys[PATH_MAX], dev[PATH_MAX];
        path_in_root(sock, sizeof(sock), SIM_CONTROL_SOCKET);
        path_in_root(sys, sizeof(sys), "sys");
        path_in_root(dev, sizeof(dev), "dev");
        int r = control_request(sock, "stop", NULL, err, sizeof(err));
        if (r == 0) {
                /* the server unmounts and exits: wait for the socket to go */
                for (int i = 0; i < 3000; i++) {
                        if (access(sock, F_OK) < 0 && !is_mountpoint(sys) && !is_mountpoint(dev))
                                return 0;
                        struct timespec ts = { 0, 10 * 1000 * 1000 };
                        nanosleep(&ts, NULL);
                }
                log_error("the simulator in %s did not stop within 30 s", root_dir);
                return 1;
        }
        /* no server: clean up after a killed one */
        bool cleaned = false;
        const char *mps[] = { sys, dev };
        for (size_t i = 0; i < ARRAY_SIZE(mps); i++)
                if (is_mountpoint(mps[i])) {
                        int u = lazy_unmount(mps[i]);
                        if (u < 0)
                                return log_error_errno(u, "cannot unmount %s", mps[i]), 1;
                        cleaned = true;
                }
        char pidfile[PATH_MAX];
        path_in_root(pidfile, sizeof(pidfile), "mxgpu-sim.pid");
        if (unlink(sock) == 0)
                cleaned = true;
        (void)unlink(pidfile);
        if (!cleaned) {
                log_error("no simulator runs in %s", root_dir);
                return 1;
        }
        log_notice("the simulator in %s was not running; its mounts were detached", root_dir);
        return 0;
}

/* --- status and the other control verbs --- */

static const char *jstr(struct json_object *o, const char *k) {
        struct json_object *v;
        if (!json_object_object_get_ex(o, k, &v) || !v)
                return "-";
        return json_object_get_string(v);
}

static void print_scalars(struct json_object *o, const char *const *skip, const char *indent) {
        int col = 0;
        json_object_object_foreach(o, k, v) {
                bool s = false;
                for (size_t i = 0; skip && skip[i]; i++)
                        s |= streq(skip[i], k);
                if (s || (v && (json_object_is_type(v, json_type_object) || json_object_is_type(v, json_type_array))))
                        continue;
                if (col == 0)
                        printf("%s", indent);
                col += printf("%s=%s ", k, v ? json_object_get_string(v) : "null");
                if (col > 90) {
                        printf("\n");
                        col = 0;
                }
        }
        if (col)
                printf("\n");
}

static void print_status(struct json_object *st) {
        struct json_object *host, *pfs;
        if (json_object_object_get_ex(st, "host", &host)) {
                printf("host %s\n", jstr(host, "spec"));
                static const char *const skip[] = { "spec", NULL };
                print_scalars(host, skip, "  ");
        }
        if (!json_object_object_get_ex(st, "pfs", &pfs))
                return;
        for (size_t i = 0; i < json_object_array_length(pfs); i++) {
                struct json_object *pf = json_object_array_get_idx(pfs, i), *card, *vfs;
                printf("\nPF %s  %s  %s:%s  driver %s  VFs %s/%s  autoprobe %s  group %s  resets %s\n",
                       jstr(pf, "address"), jstr(pf, "model"), jstr(pf, "vendor"), jstr(pf, "device"), jstr(pf, "driver"),
                       jstr(pf, "numvfs"), jstr(pf, "totalvfs"), jstr(pf, "autoprobe"), jstr(pf, "iommu_group"),
                       jstr(pf, "resets"));
                if (json_object_object_get_ex(pf, "gpuiov", &card) && card) {
                        printf("  GPU-IOV:\n");
                        static const char *const skip[] = { "vfs", NULL };
                        print_scalars(card, skip, "    ");
                        json_object_object_foreach(card, k, v) {
                                if (v && json_object_is_type(v, json_type_object)) {
                                        char ind[64];
                                        snprintf(ind, sizeof(ind), "    %s: ", k);
                                        print_scalars(v, NULL, ind);
                                }
                        }
                }
                if (!json_object_object_get_ex(pf, "vfs", &vfs) || json_object_array_length(vfs) == 0)
                        continue;
                bool gpu = card != NULL;
                printf("  %-3s %-13s %-9s %-5s %-13s %-5s %-6s", "VF", "ADDRESS", "DRIVER", "GROUP", "VFIO", "OPEN", "RESETS");
                if (gpu)
                        printf(" %-18s %-6s %-6s %-5s %s", "FB MiB (OFF+SIZE)", "SLICE", "SHARE", "LOAD", "CLEARED");
                printf("\n");
                for (size_t j = 0; j < json_object_array_length(vfs); j++) {
                        struct json_object *vf = json_object_array_get_idx(vfs, j), *fb = NULL;
                        printf("  %-3s %-13s %-9s %-5s %-13s %-5s %-6s", jstr(vf, "index"), jstr(vf, "address"),
                               jstr(vf, "driver"), jstr(vf, "iommu_group"), jstr(vf, "vfio"), jstr(vf, "vfio_open"),
                               jstr(vf, "resets"));
                        if (gpu) {
                                char fbs[32] = "-", slice[16] = "-", share[16] = "-";
                                if (json_object_object_get_ex(vf, "fb", &fb) && fb)
                                        snprintf(fbs, sizeof(fbs), "%s+%s", jstr(fb, "offset_mib"), jstr(fb, "size_mib"));
                                struct json_object *q = json_object_object_get(vf, "time_quantum_ms");
                                if (q)
                                        snprintf(slice, sizeof(slice), "%d ms", json_object_get_int(q));
                                struct json_object *sh = json_object_object_get(vf, "share");
                                if (sh)
                                        snprintf(share, sizeof(share), "%.1f%%", 100.0 * json_object_get_double(sh));
                                printf(" %-18s %-6s %-6s %-5s %s", fbs, slice, share, jstr(vf, "load"), jstr(vf, "fb_cleared"));
                        }
                        printf("\n");
                }
        }
}

static int request(const char *line, char **ret_body) {
        char sock[PATH_MAX], err[1024];
        path_in_root(sock, sizeof(sock), SIM_CONTROL_SOCKET);
        int r = control_request(sock, line, ret_body, err, sizeof(err));
        if (r < 0) {
                log_error("%s", err[0] ? err : strerror(-r));
                return 1;
        }
        return 0;
}

static int verb_status(const struct opts *o) {
        _cleanup_free_ char *body = NULL;
        if (request("status", &body))
                return 1;
        if (o->json) {
                printf("%s\n", body);
                return 0;
        }
        struct json_object *st = json_tokener_parse(body);
        if (!st) {
                log_error("the simulator sent a status that is not JSON");
                return 1;
        }
        print_status(st);
        json_object_put(st);
        return 0;
}

static int verb_forward(const char *verb, const struct opts *o, int min_args, const char *usage) {
        if (o->argc < min_args) {
                log_error("usage: mxgpu-sim %s --root DIR %s", verb, usage);
                return 2;
        }
        char line[4096];
        size_t n = (size_t)snprintf(line, sizeof(line), "%s", verb);
        for (int i = 0; i < o->argc; i++) {
                if (strpbrk(o->argv[i], " \t\n")) {
                        log_error("argument '%s' may not contain blanks", o->argv[i]);
                        return 2;
                }
                int m = snprintf(line + n, sizeof(line) - n, " %s", o->argv[i]);
                if (m < 0 || (size_t)m >= sizeof(line) - n) {
                        log_error("too many arguments");
                        return 2;
                }
                n += (size_t)m;
        }
        return request(line, NULL);
}

/* rescan: the same write a user makes, through the simulated sysfs (the file is the interface) */
static int verb_rescan(const struct opts *o) {
        if (o->argc) {
                log_error("unexpected argument '%s'; usage: mxgpu-sim rescan --root DIR", o->argv[0]);
                return 2;
        }
        char path[PATH_MAX];
        /* the name below the root, without its leading slash */
        if (path_in_root(path, sizeof(path), &SYS_PCI_RESCAN[1]) < 0) {
                log_error("--root %s: path too long", root_dir);
                return 2;
        }
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return log_error_errno(negative_errno(), "cannot open %s (is the simulator running?)", path), 1;
        if (write(fd, "1\n", 2) != 2)
                return log_error_errno(negative_errno(), "write 1 to %s", path), 1;
        return 0;
}

/* --- command line --- */

static void usage(FILE *f) {
        fprintf(f,
                "Usage: mxgpu-sim VERB [OPTIONS] [ARGS]\n"
                "Simulates a Linux host's PCI sysfs and /dev/vfio for MxGPU SR-IOV cards (FUSE at DIR/sys and DIR/dev).\n\n"
                "  start   --host SPEC --root DIR [--latency L] [--uevents]   mount and run in the background\n"
                "  run     --host SPEC --root DIR [--latency L] [--uevents]   the same, in the foreground\n"
                "  stop    --root DIR                       stop (or clean up after a killed simulator)\n"
                "  status  --root DIR [--json]              the host as the hardware sees it\n"
                "  load    --root DIR TARGET=busy|idle ...  TARGET: PF/INDEX, PF/all or all\n"
                "  fault   --root DIR write ADDR ATTR ERRNO [COUNT] | cmd-hang PF [COUNT] | cmd-stuck PF [COUNT]\n"
                "                     | vf-missing PF INDEX | remove PF | clear\n"
                "  latency --root DIR realistic|zero|OP=DURATION,...   OP: vf_enable, vf_enable_per_vf, vf_disable, bind, cmd\n"
                "  rescan  --root DIR                       echo 1 > DIR/sys/bus/pci/rescan: removed PFs come back\n\n"
                "SPEC: %s.\n"
                "DIR defaults to $" ENV_ROOT ". See mxgpu-sim(1) and docs/simulator.md.\n",
                sim_host_presets_help());
}

int main(int argc, char **argv) {
        mx_log_set_ident("mxgpu-sim");
        if (argc < 2 || streq(argv[1], "--help") || streq(argv[1], "-h") || streq(argv[1], "help")) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? 2 : 0;
        }
        const char *verb = argv[1];
        struct opts o = { .root = getenv(ENV_ROOT) };
        static const struct option longopts[] = {
                { "host", required_argument, NULL, 'H' },
                { "root", required_argument, NULL, 'r' },
                { "latency", required_argument, NULL, 'l' },
                { "uevents", no_argument, NULL, 'u' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        int c;
        optind = 2;
        /* "+" stops at the first argument: fault/load arguments pass through untouched */
        while ((c = getopt_long(argc, argv, "+", longopts, NULL)) != -1) {
                switch (c) {
                case 'H': o.host = optarg; break;
                case 'r': o.root = optarg; break;
                case 'l': o.latency = optarg; break;
                case 'u': o.uevents = true; break;
                case 'j': o.json = true; break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        o.argc = argc - optind;
        o.argv = argv + optind;
        if (!o.root || !*o.root) {
                log_error("--root DIR is required (or set $" ENV_ROOT ")");
                return 2;
        }
        if (!realpath(o.root, root_dir)) {
                log_error_errno(negative_errno(), "--root %s", o.root);
                return 2;
        }
        bool server = streq(verb, "start") || streq(verb, "run");
        if (!server && (o.host || o.latency || o.uevents)) {
                log_error("--host, --latency and --uevents belong to start and run");
                return 2;
        }
        if (server && o.argc) {
                log_error("unexpected argument '%s'", o.argv[0]);
                return 2;
        }
        if (streq(verb, "start"))
                return verb_start(&o, true);
        if (streq(verb, "run"))
                return verb_start(&o, false);
        if (streq(verb, "stop"))
                return verb_stop(&o);
        if (streq(verb, "status"))
                return verb_status(&o);
        if (streq(verb, "load"))
                return verb_forward("load", &o, 1, "TARGET=busy|idle ...");
        if (streq(verb, "fault"))
                return verb_forward("fault", &o, 1, "write ADDR ATTR ERRNO [COUNT] | cmd-hang PF [COUNT] | cmd-stuck PF [COUNT] | "
                                                   "vf-missing PF INDEX | remove PF | clear");
        if (streq(verb, "latency"))
                return verb_forward("latency", &o, 1, "realistic|zero|OP=DURATION,...");
        if (streq(verb, "rescan"))
                return verb_rescan(&o);
        log_error("unknown verb '%s'", verb);
        usage(stderr);
        return 2;
}
