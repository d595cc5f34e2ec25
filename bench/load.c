// SPDX-License-Identifier: MIT
/* A bounded load generator for mxgpud's control socket: N clients, each on its own connection, call
 * one read-only method M times (or until the time limit) and the round trips are reported as a
 * distribution. Local Unix socket only; used by bench/bench.sh.
 *
 * Usage: load --socket PATH [--clients N (1..1000)] [--calls M (1..100000)] [--seconds S (1..300)]
 *             [--method NAME (default List)] [--reconnect]
 * Prints one line: "calls=.. errors=.. clients=.. p50_us=.. p99_us=.. max_us=.. per_s=.." */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mxgpu/clock.h"
#include "mxgpu/ctlclient.h"
#include "mxgpu/macro.h"
#include "latency.h"

struct client {
        pthread_t thread;
        uint64_t *lat_ns;
        unsigned done, errors;
};

static const char *sock_path, *method = MX_INTERFACE ".List";
static unsigned n_calls = 1000;
static uint64_t deadline_ns;
static bool reconnect;
static pthread_barrier_t start;

static int call_once(struct ctl_client **c) {
        if (!*c) {
                int r = ctl_client_connect(sock_path, c);
                if (r < 0)
                        return r;
                ctl_client_set_timeout(*c, 120 * 1000000ull);
        }
        struct ctl_reply reply = {};
        int r = ctl_client_call(*c, method, NULL, &reply);
        if (r >= 0 && reply.error)
                r = -EIO;
        if (r >= 0 || reply.root)
                ctl_reply_done(&reply);
        if (r < 0 || reconnect)
                *c = ctl_client_free(*c);
        return r;
}

static void *run(void *arg) {
        struct client *cl = arg;
        struct ctl_client *c = NULL;
        pthread_barrier_wait(&start);
        for (unsigned i = 0; i < n_calls && mx_now_nsec() < deadline_ns; i++) {
                uint64_t t0 = mx_now_nsec();
                int r = call_once(&c);
                uint64_t t1 = mx_now_nsec();
                if (r < 0)
                        cl->errors++;
                else
                        cl->lat_ns[cl->done++] = t1 - t0;
        }
        ctl_client_free(c);
        return NULL;
}

static unsigned arg_num(const char *opt, const char *v, unsigned lo, unsigned hi) {
        char *end;
        unsigned long n = v ? strtoul(v, &end, 10) : 0;
        if (!v || *end || n < lo || n > hi) {
                fprintf(stderr, "load: %s needs a number from %u to %u\n", opt, lo, hi);
                exit(2);
        }
        return (unsigned)n;
}

int main(int argc, char **argv) {
        unsigned n_clients = 1, seconds = 60;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
                if (streq(a, "--socket") && v)
                        sock_path = argv[++i];
                else if (streq(a, "--clients"))
                        n_clients = arg_num(a, v, 1, 1000), i++;
                else if (streq(a, "--calls"))
                        n_calls = arg_num(a, v, 1, 100000), i++;
                else if (streq(a, "--seconds"))
                        seconds = arg_num(a, v, 1, 300), i++;
                else if (streq(a, "--method") && v)
                        method = argv[++i];
                else if (streq(a, "--reconnect"))
                        reconnect = true;
                else {
                        fprintf(stderr, "load: unknown argument '%s'\n", a);
                        return 2;
                }
        }
        if (!sock_path) {
                fprintf(stderr, "load: --socket PATH is required\n");
                return 2;
        }
        struct client *cl = calloc(n_clients, sizeof(*cl));
        if (!cl)
                return 1;
        pthread_barrier_init(&start, NULL, n_clients + 1);
        for (unsigned i = 0; i < n_clients; i++) {
                cl[i].lat_ns = calloc(n_calls, sizeof(uint64_t));
                if (!cl[i].lat_ns || pthread_create(&cl[i].thread, NULL, run, &cl[i]) != 0) {
                        fprintf(stderr, "load: cannot start client %u\n", i);
                        return 1;
                }
        }
        deadline_ns = mx_now_nsec() + (uint64_t)seconds * 1000000000u;
        uint64_t t0 = mx_now_nsec();
        pthread_barrier_wait(&start);
        size_t total = 0;
        unsigned errors = 0;
        for (unsigned i = 0; i < n_clients; i++) {
                pthread_join(cl[i].thread, NULL);
                total += cl[i].done;
                errors += cl[i].errors;
        }
        double wall_s = (double)(mx_now_nsec() - t0) / 1e9;
        uint64_t *all = calloc(total ? total : 1, sizeof(uint64_t));
        if (!all)
                return 1;
        size_t k = 0;
        for (unsigned i = 0; i < n_clients; i++) {
                memcpy(all + k, cl[i].lat_ns, cl[i].done * sizeof(uint64_t));
                k += cl[i].done;
                free(cl[i].lat_ns);
        }
        free(cl);
        struct latency_summary s = latency_summarize(all, total);
        printf("calls=%zu errors=%u clients=%u p50_us=%.1f p99_us=%.1f max_us=%.1f per_s=%.0f\n", total, errors,
               n_clients, s.p50 / 1e3, s.p99 / 1e3, s.max / 1e3, total / wall_s);
        free(all);
        return errors ? 1 : 0;
}
