// SPDX-License-Identifier: MIT
// Unit tests for mx_parallel_for: every job runs exactly once, on no more threads than allowed.
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "mxgpu/parallel.h"

struct jobs {
        unsigned calls[300];
        pthread_t seen[300];
        unsigned running, peak;
        pthread_mutex_t lock;
};

static void job(size_t i, void *userdata) {
        struct jobs *j = userdata;
        pthread_mutex_lock(&j->lock);
        j->calls[i]++;
        j->seen[i] = pthread_self();
        if (++j->running > j->peak)
                j->peak = j->running;
        pthread_mutex_unlock(&j->lock);
        sched_yield();
        pthread_mutex_lock(&j->lock);
        j->running--;
        pthread_mutex_unlock(&j->lock);
}

static size_t distinct_threads(const struct jobs *j, size_t n) {
        size_t d = 0;
        for (size_t i = 0; i < n; i++) {
                bool first = true;
                for (size_t k = 0; k < i && first; k++)
                        first = !pthread_equal(j->seen[k], j->seen[i]);
                d += first;
        }
        return d;
}

static void each_job_once(void **state) {
        static struct jobs j = { .lock = PTHREAD_MUTEX_INITIALIZER };
        mx_parallel_for(300, 8, job, &j);
        for (size_t i = 0; i < 300; i++)
                assert_int_equal(j.calls[i], 1);
        assert_true(j.peak <= 8);
        assert_true(distinct_threads(&j, 300) <= 8);
        assert_int_equal(j.running, 0);
}

static void one_thread_is_the_caller(void **state) {
        static struct jobs j = { .lock = PTHREAD_MUTEX_INITIALIZER };
        mx_parallel_for(20, 1, job, &j);
        for (size_t i = 0; i < 20; i++) {
                assert_int_equal(j.calls[i], 1);
                assert_true(pthread_equal(j.seen[i], pthread_self()));
        }
        /* 0 threads means 1: the caller */
        memset(j.calls, 0, sizeof(j.calls));
        mx_parallel_for(5, 0, job, &j);
        for (size_t i = 0; i < 5; i++)
                assert_int_equal(j.calls[i], 1);
        assert_int_equal(j.calls[5], 0);
}

static void no_jobs(void **state) {
        static struct jobs j = { .lock = PTHREAD_MUTEX_INITIALIZER };
        mx_parallel_for(0, 8, job, &j);
        assert_int_equal(j.calls[0], 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(each_job_once),
                cmocka_unit_test(one_thread_is_the_caller),
                cmocka_unit_test(no_jobs),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
