// SPDX-License-Identifier: MIT
// Unit tests for log lines (src/lib/log.c): words for a reader, "<N>" only when stderr is the journal's stream.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "mxgpu/log.h"

/* Log one line with stderr sent to a fresh file, and return what reached it. */
static char *logged(const char *journal_stream, int level, int err, const char *dev, int vf, const char *msg,
                    char *buf, size_t size) {
        char path[] = "/tmp/mxgpu-log-XXXXXX";
        int fd = mkstemp(path), saved = dup(STDERR_FILENO);
        assert_true(fd >= 0 && saved >= 0);
        assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
        char env[64];
        if (journal_stream && streq(journal_stream, "self")) {
                struct stat st;
                assert_int_equal(fstat(fd, &st), 0);
                snprintf(env, sizeof(env), "%ju:%ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
                journal_stream = env;
        }
        if (journal_stream)
                setenv("JOURNAL_STREAM", journal_stream, 1);
        else
                unsetenv("JOURNAL_STREAM");
        assert_int_equal(mx_log_full(level, err, dev, vf, "%s", msg), err);
        dup2(saved, STDERR_FILENO);
        close(saved);
        ssize_t n = pread(fd, buf, size - 1, 0);
        assert_true(n >= 0);
        buf[n] = 0;
        close(fd);
        unlink(path);
        return buf;
}

static void words_without_the_journal(void **state) {
        char buf[512];
        mx_log_set_level(LOG_DEBUG);
        assert_string_equal(logged(NULL, LOG_WARNING, 0, "0000:03:00.0", 2, "slow", buf, sizeof(buf)),
                            "warning: 0000:03:00.0 vf2: slow\n");
        assert_string_equal(logged(NULL, LOG_INFO, 0, "0000:03:00.0", -1, "ready", buf, sizeof(buf)),
                            "0000:03:00.0: ready\n");
        assert_string_equal(logged(NULL, LOG_ERR, -ENODEV, NULL, -1, "gone", buf, sizeof(buf)),
                            "error: gone: No such device\n");
        /* Below the level in force nothing is written, and the error still comes back. */
        mx_log_set_level(LOG_NOTICE);
        assert_string_equal(logged(NULL, LOG_INFO, -EIO, NULL, -1, "hidden", buf, sizeof(buf)), "");
        mx_log_set_level(LOG_DEBUG);
}

static void priority_prefix_only_on_the_journal_stream(void **state) {
        char buf[512];
        mx_log_set_level(LOG_DEBUG);
        assert_string_equal(logged("self", LOG_WARNING, 0, "0000:03:00.0", -1, "slow", buf, sizeof(buf)),
                            "<4>0000:03:00.0: slow\n");
        assert_string_equal(logged("self", LOG_DEBUG, 0, NULL, -1, "detail", buf, sizeof(buf)), "<7>detail\n");
        /* Inherited from a parent whose stderr was the journal, but ours is elsewhere: words. */
        assert_string_equal(logged("1:1", LOG_WARNING, 0, NULL, -1, "slow", buf, sizeof(buf)), "warning: slow\n");
        /* Not "device:inode": words. */
        assert_string_equal(logged("", LOG_WARNING, 0, NULL, -1, "a", buf, sizeof(buf)), "warning: a\n");
        assert_string_equal(logged("12", LOG_WARNING, 0, NULL, -1, "b", buf, sizeof(buf)), "warning: b\n");
        assert_string_equal(logged("1:2x", LOG_WARNING, 0, NULL, -1, "c", buf, sizeof(buf)), "warning: c\n");
        unsetenv("JOURNAL_STREAM");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(words_without_the_journal),
                cmocka_unit_test(priority_prefix_only_on_the_journal_stream),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
