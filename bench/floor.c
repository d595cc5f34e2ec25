// SPDX-License-Identifier: MIT
/* The floor of a bring-up: only the writes the kernel and the card need, one thread per PF, no checks
 * beyond errno. mxgpud's bring-up time is compared with this program's (bench/bench.sh).
 *
 * Usage: floor [--root DIR] [--vfs N] [--no-bind] [PF...]   (no PF: every function with sriov_totalvfs)
 * Per PF: sriov_drivers_autoprobe = 0; sriov_numvfs = N; on a Tonga GPU-IOV PF the framebuffer partition
 * (TOTAL_FB_CONSUMED, CNTXT, each VF) and the scheduler block (quanta, active mask, then the command
 * ENABLE_AUTO_HW_SWITCH, polled to completion; the Tonga set has no mode command); then per VF
 * driver_override = vfio-pci and drivers_probe, up to BIND_PARALLEL VFs at once (as mxgpud binds).
 * Stand-alone (no libmxgpu) so that it builds statically for the busybox guest of the real-kernel
 * benchmark. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mxgpu/gpuiov.h"

#define MAX_PFS 64

static char root[1024] = "";
static int want_vfs = -1;
static int do_bind = 1;

struct pf {
        char addr[32];
        pthread_t thread;
        int err;
        char what[512];
};

static int write_at(int dfd, const char *attr, const char *val) {
        int fd = openat(dfd, attr, O_WRONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = write(fd, val, strlen(val));
        int r = n < 0 ? -errno : 0;
        close(fd);
        return r;
}

static int read_at(int dfd, const char *attr, char *buf, size_t size) {
        int fd = openat(dfd, attr, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        ssize_t n = read(fd, buf, size - 1);
        int r = n < 0 ? -errno : 0;
        close(fd);
        if (n >= 0)
                buf[n] = 0;
        return r;
}

static int cfg_rd(int fd, unsigned off, void *v, size_t len) {
        return pread(fd, v, len, off) == (ssize_t)len ? 0 : -EIO;
}
static int cfg_wr(int fd, unsigned off, const void *v, size_t len) {
        return pwrite(fd, v, len, off) == (ssize_t)len ? 0 : (errno ? -errno : -EIO);
}

/* A command in a scheduler block: write the dword, poll until EXECUTE clears, then check the status. */
static int command(int fd, unsigned block, enum gpuiov_cmd cmd, uint8_t next) {
        uint32_t word = gpuiov_cmd_word(cmd, GPUIOV_FUNC_PF, next);
        int r = cfg_wr(fd, block + SCH_CMD_CONTROL, &word, 4);
        for (unsigned i = 0; r == 0; i++) {
                uint8_t ctl;
                r = cfg_rd(fd, block + SCH_CMD_CONTROL, &ctl, 1);
                if (r == 0 && !(ctl & GPUIOV_CMD_EXECUTE))
                        break;
                if (i > 100000)
                        return -ETIMEDOUT;
                usleep(100);
        }
        uint8_t status = 0;
        if (r == 0)
                r = cfg_rd(fd, block + SCH_CMD_STATUS, &status, 1);
        return r < 0 ? r : status ? -EIO : 0;
}

/* Tonga only (the benchmark's S7150 hosts); other PFs get no register writes. */
static int program_gpuiov(int pfd, unsigned n, uint32_t bar0_mib, char *what, size_t wsize) {
        int fd = openat(pfd, "config", O_RDWR | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        int r = 0;
        unsigned cap = 0;
        for (unsigned off = 0x100, hops = 0; off && hops < 64; hops++) {
                uint32_t hdr, vsec;
                if ((r = cfg_rd(fd, off, &hdr, 4)) < 0)
                        goto out;
                if ((hdr & 0xffff) == GPUIOV_EXT_CAP_ID && cfg_rd(fd, off + 4, &vsec, 4) == 0 &&
                    (vsec & 0xffff) == GPUIOV_VSEC_ID) {
                        cap = off;
                        break;
                }
                off = hdr >> 20;
        }
        uint16_t vendor_device[2];
        if (!cap || (r = cfg_rd(fd, 0, vendor_device, 4)) < 0 || vendor_device[0] != 0x1002 ||
            (vendor_device[1] != 0x6929 && vendor_device[1] != 0x692f))
                goto out; /* no GPU-IOV, or not Tonga: nothing to program */

        /* hardware.md 4: reserve = BAR0 size, 8 MiB context after it, VFs from roundup(reserve + 8, 16). */
        uint16_t avail;
        uint8_t sch;
        if ((r = cfg_rd(fd, cap + TONGA_TOTAL_FB_AVAILABLE, &avail, 2)) < 0 ||
            (r = cfg_rd(fd, cap + TONGA_AUTO_SCH_OFFSET, &sch, 1)) < 0)
                goto out;
        uint32_t reserve = bar0_mib, start = (reserve + 8 + 15) / 16 * 16;
        uint32_t size = n ? (avail - start) / n / 16 * 16 : 0;
        uint16_t consumed = (uint16_t)(avail - reserve);
        uint32_t cntxt = (GPUIOV_CNTXT_MIB * 4) | (reserve * 4) << 10;
        if ((r = cfg_wr(fd, cap + TONGA_TOTAL_FB_CONSUMED, &consumed, 2)) < 0 ||
            (r = cfg_wr(fd, cap + TONGA_CNTXT, &cntxt, 4)) < 0)
                goto out;
        for (unsigned i = 0; i < n && i < TONGA_MAX_VFS; i++) {
                uint32_t fb = ((size >> 4) - 1) | ((start + i * size) >> 4) << 16;
                if ((r = cfg_wr(fd, cap + TONGA_VF_FB(i), &fb, 4)) < 0)
                        goto out;
        }
        if (!sch)
                goto out;
        unsigned block = cap + ((unsigned)sch << 4);
        uint32_t options = 6, per_vf = 0, pf_quanta, active = n >= 32 ? ~0u : (1u << n) - 1;
        if ((r = cfg_wr(fd, block + SCH_TIME_QUANTA_OPTION, &options, 4)) < 0 ||
            (r = cfg_wr(fd, block + SCH_TIME_QUANTA_PER_VF, &per_vf, 4)) < 0 ||
            (r = cfg_rd(fd, block + SCH_PF_QUANTA, &pf_quanta, 4)) < 0)
                goto out;
        pf_quanta &= 0x3fffffffu;
        if ((r = cfg_wr(fd, block + SCH_PF_QUANTA, &pf_quanta, 4)) < 0 ||
            (r = cfg_wr(fd, block + SCH_ACTIVE_FUNCTIONS, &active, 4)) < 0)
                goto out;
        /* no CONFIG_AUTO_HW_SCHED_MODE: not in the Tonga set (the block runs solid), as in mxgpud */
        if ((r = command(fd, block, GPUIOV_CMD_ENABLE_AUTO_HW_SWITCH, 0)) < 0)
                snprintf(what, wsize, "ENABLE_AUTO_HW_SWITCH");
out:
        if (r < 0 && !what[0])
                snprintf(what, wsize, "GPU-IOV registers");
        close(fd);
        return r;
}

/* VFs of one PF bound at once: mxgpud's BIND_PARALLEL (src/daemon/apply.c). */
#define BIND_PARALLEL 8

struct binds {
        int pfd;
        unsigned n, next; /* next: the first VF nobody has taken */
        int err;          /* the first failure */
        char what[512];
        pthread_mutex_t lock;
};

static void *bind_worker(void *arg) {
        struct binds *b = arg;
        char probe[PATH_MAX];
        snprintf(probe, sizeof(probe), "%s/sys/bus/pci/drivers_probe", root);
        for (unsigned i; (i = __atomic_fetch_add(&b->next, 1, __ATOMIC_RELAXED)) < b->n;) {
                char link[32], target[256], path[64];
                int r;
                snprintf(link, sizeof(link), "virtfn%u", i);
                ssize_t len = readlinkat(b->pfd, link, target, sizeof(target) - 1);
                if (len < 0) {
                        r = -errno;
                        snprintf(target, sizeof(target), "%s", link);
                } else {
                        target[len] = 0;
                        const char *vf = strrchr(target, '/') ? strrchr(target, '/') + 1 : target;
                        memmove(target, vf, strlen(vf) + 1);
                        snprintf(path, sizeof(path), "%s/driver_override", link);
                        if ((r = write_at(b->pfd, path, "vfio-pci")) == 0)
                                r = write_at(AT_FDCWD, probe, target);
                }
                if (r < 0) {
                        pthread_mutex_lock(&b->lock);
                        if (!b->err) {
                                b->err = r;
                                snprintf(b->what, sizeof(b->what), "%s: bind", target);
                        }
                        pthread_mutex_unlock(&b->lock);
                }
        }
        return NULL;
}

static int bind_vfs(int pfd, unsigned n, char *what, size_t wsize) {
        struct binds b = { .pfd = pfd, .n = n, .lock = PTHREAD_MUTEX_INITIALIZER };
        pthread_t t[BIND_PARALLEL - 1];
        unsigned started = 0;
        while (started < BIND_PARALLEL - 1 && started + 1 < n && pthread_create(&t[started], NULL, bind_worker, &b) == 0)
                started++;
        bind_worker(&b);
        for (unsigned i = 0; i < started; i++)
                pthread_join(t[i], NULL);
        if (b.err)
                snprintf(what, wsize, "%s", b.what);
        return b.err;
}

static void *bring_up(void *arg) {
        struct pf *p = arg;
        char path[PATH_MAX], buf[256];
        snprintf(path, sizeof(path), "%s/sys/bus/pci/devices/%s", root, p->addr);
        int pfd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (pfd < 0) {
                p->err = -errno;
                snprintf(p->what, sizeof(p->what), "cannot open the PF");
                return NULL;
        }
        int r = 0;
        unsigned n = (unsigned)want_vfs;
        if (want_vfs < 0) {
                if ((r = read_at(pfd, "sriov_totalvfs", buf, sizeof(buf))) < 0) {
                        snprintf(p->what, sizeof(p->what), "sriov_totalvfs");
                        goto out;
                }
                n = (unsigned)strtoul(buf, NULL, 10);
        }
        if ((r = write_at(pfd, "sriov_drivers_autoprobe", "0")) < 0) {
                snprintf(p->what, sizeof(p->what), "sriov_drivers_autoprobe");
                goto out;
        }
        snprintf(buf, sizeof(buf), "%u", n);
        if ((r = write_at(pfd, "sriov_numvfs", buf)) < 0) {
                snprintf(p->what, sizeof(p->what), "sriov_numvfs");
                goto out;
        }
        unsigned long long b0s = 0, b0e = 0;
        if (read_at(pfd, "resource", buf, sizeof(buf)) == 0)
                sscanf(buf, "%llx %llx", &b0s, &b0e);
        if ((r = program_gpuiov(pfd, n, b0e > b0s ? (uint32_t)((b0e - b0s + 1) >> 20) : 0, p->what, sizeof(p->what))) < 0)
                goto out;
        if (!do_bind)
                goto out;
        r = bind_vfs(pfd, n, p->what, sizeof(p->what));
out:
        p->err = r;
        close(pfd);
        return NULL;
}

int main(int argc, char **argv) {
        static struct pf pfs[MAX_PFS];
        int n = 0;
        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--root") && i + 1 < argc)
                        snprintf(root, sizeof(root), "%s", argv[++i]);
                else if (!strcmp(argv[i], "--vfs") && i + 1 < argc)
                        want_vfs = atoi(argv[++i]);
                else if (!strcmp(argv[i], "--no-bind"))
                        do_bind = 0;
                else if (argv[i][0] == '-') {
                        fprintf(stderr, "usage: floor [--root DIR] [--vfs N] [--no-bind] [PF...]\n");
                        return 2;
                } else if (n < MAX_PFS)
                        snprintf(pfs[n++].addr, sizeof(pfs[0].addr), "%.31s", argv[i]);
        }
        if (n == 0) {
                char path[PATH_MAX];
                snprintf(path, sizeof(path), "%s/sys/bus/pci/devices", root);
                DIR *d = opendir(path);
                if (!d) {
                        perror(path);
                        return 1;
                }
                int dfd = dirfd(d);
                for (struct dirent *e; (e = readdir(d)) && n < MAX_PFS;) {
                        char attr[300];
                        snprintf(attr, sizeof(attr), "%s/sriov_totalvfs", e->d_name);
                        if (e->d_name[0] != '.' && faccessat(dfd, attr, F_OK, 0) == 0)
                                snprintf(pfs[n++].addr, sizeof(pfs[0].addr), "%.31s", e->d_name);
                }
                closedir(d);
        }
        for (int i = 0; i < n; i++)
                if (pthread_create(&pfs[i].thread, NULL, bring_up, &pfs[i]) != 0)
                        return 1;
        int rc = 0;
        for (int i = 0; i < n; i++) {
                pthread_join(pfs[i].thread, NULL);
                if (pfs[i].err < 0) {
                        fprintf(stderr, "floor: %s: %s: %s\n", pfs[i].addr, pfs[i].what, strerror(-pfs[i].err));
                        rc = 1;
                }
        }
        return rc;
}
