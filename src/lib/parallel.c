// SPDX-License-Identifier: MIT
// Run independent jobs on a few threads at once: the kernel binds different devices concurrently.
#include <pthread.h>
#include <stdlib.h>

#include "mxgpu/macro.h"
#include "mxgpu/parallel.h"

struct pool {
        size_t n, next; /* next: the first job nobody has taken, advanced atomically */
        void (*fn)(size_t i, void *userdata);
        void *userdata;
};

static void *worker(void *arg) {
        struct pool *p = arg;
        for (size_t i; (i = __atomic_fetch_add(&p->next, 1, __ATOMIC_RELAXED)) < p->n;)
                p->fn(i, p->userdata);
        return NULL;
}

void mx_parallel_for(size_t n, unsigned max_threads, void (*fn)(size_t i, void *userdata), void *userdata) {
        struct pool p = { .n = n, .next = 0, .fn = fn, .userdata = userdata };
        size_t extra = MIN(n, (size_t)(max_threads ? max_threads : 1)) - (n ? 1 : 0);
        pthread_t *threads = extra ? calloc(extra, sizeof(*threads)) : NULL;
        size_t started = 0;
        /* Small stacks: a job here is a handful of sysfs writes. */
        pthread_attr_t attr;
        bool have_attr = threads && pthread_attr_init(&attr) == 0;
        if (have_attr)
                (void)pthread_attr_setstacksize(&attr, 256 * 1024);
        for (; threads && started < extra; started++)
                if (pthread_create(&threads[started], have_attr ? &attr : NULL, worker, &p) != 0)
                        break;
        if (have_attr)
                pthread_attr_destroy(&attr);
        worker(&p);
        for (size_t t = 0; t < started; t++)
                pthread_join(threads[t], NULL);
        free(threads);
}
