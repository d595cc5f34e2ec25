/* SPDX-License-Identifier: MIT */
/* Logging with the device in every line: "0000:03:00.0 vf2: message". One failure is logged once, by the caller. */
#pragma once

#include <syslog.h>
#include "mxgpu/macro.h"

void mx_log_set_level(int level);
/* Parse "err", "warning", "notice", "info", "debug" or a number 0-7; -EINVAL otherwise. */
int mx_log_parse_level(const char *s);
int mx_log_get_level(void);
/* Prefix lines with the program's name (for programs run from a terminal). */
void mx_log_set_ident(const char *ident);

/* dev may be NULL; vf < 0 means "not a VF line". err (negative errno or 0) appends ": <strerror>".
 * Returns err so callers can `return log_dev_error_errno(...)`. */
int mx_log_full(int level, int err, const char *dev, int vf, const char *fmt, ...) _printf_(5, 6);

#define log_full(l, ...)               mx_log_full(l, 0, NULL, -1, __VA_ARGS__)
#define log_error(...)                 log_full(LOG_ERR, __VA_ARGS__)
#define log_warning(...)               log_full(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)                log_full(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)                  log_full(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                 log_full(LOG_DEBUG, __VA_ARGS__)
#define log_error_errno(r, ...)        mx_log_full(LOG_ERR, r, NULL, -1, __VA_ARGS__)
#define log_warning_errno(r, ...)      mx_log_full(LOG_WARNING, r, NULL, -1, __VA_ARGS__)

#define log_oom()                      mx_log_full(LOG_ERR, -ENOMEM, NULL, -1, "out of memory")
#define log_dev(l, dev, ...)           mx_log_full(l, 0, dev, -1, __VA_ARGS__)
#define log_dev_errno(l, dev, r, ...)  mx_log_full(l, r, dev, -1, __VA_ARGS__)
#define log_vf(l, dev, vf, ...)        mx_log_full(l, 0, dev, vf, __VA_ARGS__)
#define log_vf_errno(l, dev, vf, r, ...) mx_log_full(l, r, dev, vf, __VA_ARGS__)
