/* SPDX-License-Identifier: MIT */
/* Shared by the bench programs: the median, 99th percentile and maximum of a set of latencies. */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

struct latency_summary {
        uint64_t p50, p99, max; /* in the unit of the samples; all 0 for no samples */
};

static int latency_cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

/* Sorts v in place. */
static inline struct latency_summary latency_summarize(uint64_t *v, size_t n) {
        if (!n)
                return (struct latency_summary){ 0 };
        qsort(v, n, sizeof(*v), latency_cmp);
        return (struct latency_summary){ v[n / 2], v[n * 99 / 100], v[n - 1] }; /* n * 99 / 100 < n */
}
