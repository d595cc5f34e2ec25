// SPDX-License-Identifier: MIT
// Run independent jobs on a few threads at once: the kernel binds different devices concurrently.
#pragma once
#include <stddef.h>

/* Calls fn(i, userdata) once for every i in [0, n), on up to max_threads threads (the caller's own
 * thread among them), and returns when all calls have returned. Order between calls is not defined;
 * fn must be safe to run concurrently. If no thread can be started the caller runs every job. */
void mx_parallel_for(size_t n, unsigned max_threads, void (*fn)(size_t i, void *userdata), void *userdata);
