// SPDX-License-Identifier: MIT
// The process-wide root that every sysfs and /dev path (and libpci's sysfs.path) is resolved under.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mxgpu/names.h"
#include "mxgpu/paths.h"

static char root[MX_PATH_MAX];

int mx_root_set(const char *dir) {
        if (!dir || !*dir) {
                root[0] = 0;
                return 0;
        }
        if (dir[0] != '/')
                return -EINVAL;
        size_t n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/')
                n--;
        if (n == 1) { /* "/" is the real host */
                root[0] = 0;
                return 0;
        }
        if (n >= sizeof(root) - 64) /* leave room for the longest sysfs path below it */
                return -ENAMETOOLONG;
        /* A root that is not there would make every check below it fail for the wrong reason. */
        struct stat st;
        if (stat(dir, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        memcpy(root, dir, n);
        root[n] = 0;
        return 0;
}

int mx_root_from_env(void) {
        const char *e = getenv(ENV_ROOT);
        return e ? mx_root_set(e) : 0;
}

const char *mx_root_error(int r) {
        switch (r) {
        case -EINVAL:
                return "must be an absolute path of a directory";
        case -ENAMETOOLONG:
                return "the path is too long";
        case -ENOENT:
                return "no such directory";
        case -ENOTDIR:
                return "not a directory";
        default:
                return strerror(-r);
        }
}

const char *mx_root(void) { return root; }

static int vpath(char *buf, size_t size, const char *fmt, va_list ap) {
        int n = snprintf(buf, size, "%s", root);
        if (n < 0 || (size_t)n >= size)
                return -ENAMETOOLONG;
        int m = vsnprintf(buf + n, size - n, fmt, ap);
        if (m < 0 || (size_t)(n + m) >= size)
                return -ENAMETOOLONG;
        return n + m;
}

int mx_path(char *buf, size_t size, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = vpath(buf, size, fmt, ap);
        va_end(ap);
        return r;
}

char *mx_path_alloc(const char *fmt, ...) {
        char buf[MX_PATH_MAX * 2];
        va_list ap;
        va_start(ap, fmt);
        int r = vpath(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        return r < 0 ? NULL : strdup(buf);
}

int mx_pci_dev_path(char *buf, size_t size, const char *bdf, const char *attr) {
        if (attr)
                return mx_path(buf, size, SYS_PCI_DEVICES "/%s/%s", bdf, attr);
        return mx_path(buf, size, SYS_PCI_DEVICES "/%s", bdf);
}
