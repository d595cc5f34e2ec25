/* SPDX-License-Identifier: MIT */
/* The one root below which every sysfs and /dev path lives: "" on a real host, a simulator's folder in tests. */
#pragma once

#include <stddef.h>
#include "mxgpu/macro.h"

/* Set the root ("" or "/" or NULL mean the real host). dir must be an absolute path of an existing
 * directory (trailing slashes are ignored). Returns 0, or without changing the root: -EINVAL (not
 * absolute), -ENAMETOOLONG, -ENOENT (no such path), -ENOTDIR (not a directory) or another -errno of
 * stat() (-EACCES, ...). mx_root_error() says which in words. */
int mx_root_set(const char *dir);
/* Set the root from $MXGPU_ROOT when it is set (as mx_root_set()); 0 when unset. */
int mx_root_from_env(void);
/* What a failure of mx_root_set() means, for a message "--root DIR: <this>". */
const char *mx_root_error(int r);
/* The root without a trailing slash; "" on a real host. */
const char *mx_root(void);

/* Write root + formatted path into buf. Returns the length, or -ENAMETOOLONG. */
int mx_path(char *buf, size_t size, const char *fmt, ...) _printf_(3, 4);
/* The same, freshly allocated; NULL on allocation failure. */
char *mx_path_alloc(const char *fmt, ...) _printf_(1, 2);

/* A PCI function's sysfs directory: root/sys/bus/pci/devices/<bdf>. */
int mx_pci_dev_path(char *buf, size_t size, const char *bdf, const char *attr);

#define MX_PATH_MAX 512
