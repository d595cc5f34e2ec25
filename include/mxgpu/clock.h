// SPDX-License-Identifier: MIT
// The monotonic clock in the units the code needs: deadlines and phase timings.
#pragma once
#include <stdint.h>
#include <time.h>

static inline uint64_t mx_now_nsec(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t mx_now_usec(void) { return mx_now_nsec() / 1000u; }

static inline uint64_t mx_now_msec(void) { return mx_now_usec() / 1000u; }
