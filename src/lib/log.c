// SPDX-License-Identifier: MIT
// Log lines to stderr, with syslog priority prefixes when journald reads them, and the device first.
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mxgpu/log.h"
#include "mxgpu/names.h"

static int max_level = -1;
static const char *ident;

static int level_from_env(void) {
        const char *e = getenv(ENV_LOG_LEVEL);
        int l = e ? mx_log_parse_level(e) : -EINVAL;
        return l >= 0 ? l : LOG_INFO;
}

void mx_log_set_level(int level) { max_level = level; }
int mx_log_get_level(void) {
        if (max_level < 0)
                max_level = level_from_env();
        return max_level;
}
void mx_log_set_ident(const char *i) { ident = i; }

int mx_log_parse_level(const char *s) {
        static const char *const names[] = { "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug" };
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (streq(s, names[i]))
                        return (int)i;
        if (streq(s, "error"))
                return LOG_ERR;
        if (s[0] >= '0' && s[0] <= '7' && s[1] == 0)
                return s[0] - '0';
        return -EINVAL;
}

/* JOURNAL_STREAM names the journal's stream by "device:inode"; it is inherited by children whose stderr
 * is elsewhere (a terminal under systemd-run, a pipe to a test), so it counts only when stderr is that
 * stream (systemd.exec(5)). Asked per line: stderr may be reopened, and log lines are few. */
static bool stderr_is_journal(void) {
        const char *e = getenv("JOURNAL_STREAM");
        uintmax_t dev, ino;
        char end;
        if (!e || sscanf(e, "%ju:%ju%c", &dev, &ino, &end) != 2)
                return false;
        struct stat st;
        return fstat(STDERR_FILENO, &st) == 0 && (uintmax_t)st.st_dev == dev && (uintmax_t)st.st_ino == ino;
}

int mx_log_full(int level, int err, const char *dev, int vf, const char *fmt, ...) {
        if (level > mx_log_get_level())
                return err;
        static const char *const words[] = { "emergency", "alert", "critical", "error", "warning", "notice", "info", "debug" };
        char msg[1024];
        int saved = errno;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);

        /* journald reads "<N>" prefixes from a stream; a terminal reader wants words. The line goes out in
         * one write, so lines of processes sharing a file or pipe do not interleave. */
        char line[1536];
        size_t n = 0;
#define LINE_ADD(...) do { \
                int w_ = snprintf(line + n, sizeof(line) - n, __VA_ARGS__); \
                n = w_ < 0 ? n : MIN(n + (size_t)w_, sizeof(line) - 2); \
        } while (0)
        if (stderr_is_journal())
                LINE_ADD("<%d>", level);
        else {
                if (ident)
                        LINE_ADD("%s: ", ident);
                if (level <= LOG_WARNING)
                        LINE_ADD("%s: ", words[level & 7]);
        }
        if (dev && vf >= 0)
                LINE_ADD("%s vf%d: ", dev, vf);
        else if (dev)
                LINE_ADD("%s: ", dev);
        LINE_ADD("%s", msg);
        if (err)
                LINE_ADD(": %s", strerror(err < 0 ? -err : err));
#undef LINE_ADD
        line[n++] = '\n';
        line[n] = 0;
        fputs(line, stderr);
        errno = saved;
        return err;
}
