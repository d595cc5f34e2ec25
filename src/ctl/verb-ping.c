// SPDX-License-Identifier: MIT
// mxgpuctl ping and version: ask the daemon who it is (org.varlink.service.GetInfo).
#include <string.h>
#include <time.h>

#include "ctl.h"

static int get_info(struct ctl_context *ctx, struct ctl_reply *ret, double *ret_ms) {
        struct timespec a, b;
        clock_gettime(CLOCK_MONOTONIC, &a);
        int r = ctl_call(ctx, VARLINK_SERVICE ".GetInfo", NULL, ret);
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (r != MX_EXIT_OK)
                return r;
        *ret_ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
        /* A service on that socket that is not mxgpud (or too old) does not list our interface. */
        struct json_object *ifaces = json_object_object_get(ret->parameters, "interfaces");
        for (size_t i = 0; ifaces && json_object_is_type(ifaces, json_type_array) && i < json_object_array_length(ifaces); i++)
                if (streq(json_object_get_string(json_object_array_get_idx(ifaces, i)) ?: "", MX_INTERFACE))
                        return MX_EXIT_OK;
        ctl_reply_done(ret);
        return ctl_error(MX_EXIT_UNREACHABLE, EPROTONOSUPPORT, "the service at %s does not implement %s",
                         ctl_client_path(ctx->client), MX_INTERFACE);
}

static int run_ping(struct ctl_context *ctx, int argc, char **argv) {
        if (ctl_parse_args(&verb_ping, argc, argv, NULL, NULL, 0) < 0)
                return MX_EXIT_USAGE;
        struct ctl_reply reply;
        double ms;
        int r = get_info(ctx, &reply, &ms);
        if (r != MX_EXIT_OK)
                return r;
        if (ctx->json)
                ctl_print_json(reply.parameters);
        else
                printf("%s %s at %s: answered in %.1f ms\n", ctl_json_str(reply.parameters, "product", "?"),
                       ctl_json_str(reply.parameters, "version", "?"), ctl_client_path(ctx->client), ms);
        ctl_reply_done(&reply);
        return MX_EXIT_OK;
}

/* The client's own version first: it is worth knowing when the daemon does not answer too. */
static int run_version(struct ctl_context *ctx, int argc, char **argv) {
        if (ctl_parse_args(&verb_version, argc, argv, NULL, NULL, 0) < 0)
                return MX_EXIT_USAGE;
        struct json_object *o = NULL;
        if (ctx->json) {
                o = json_object_new_object();
                json_object_object_add(o, "mxgpuctl", json_object_new_string(MXGPU_VERSION));
                json_object_object_add(o, "protocol", json_object_new_int(MX_PROTOCOL_VERSION));
                json_object_object_add(o, "daemon", NULL); /* filled when it answers */
                ctl_json_errors_into(o);
        } else {
                printf("mxgpuctl %s\n", MXGPU_VERSION);
                printf("interface %s, protocol %d\n", MX_INTERFACE, MX_PROTOCOL_VERSION);
                fflush(stdout); /* before a connection error on stderr */
        }
        struct ctl_reply reply;
        double ms;
        int r = get_info(ctx, &reply, &ms);
        if (ctx->json) {
                ctl_json_errors_into(NULL);
                json_object_object_add(o, "daemon", r == MX_EXIT_OK ? json_object_get(reply.parameters) : NULL);
                ctl_print_json(o);
                json_object_put(o);
        } else if (r == MX_EXIT_OK)
                printf("%s %s\n", ctl_json_str(reply.parameters, "product", "?"), ctl_json_str(reply.parameters, "version", "?"));
        if (r == MX_EXIT_OK)
                ctl_reply_done(&reply);
        return r;
}

const struct ctl_verb verb_ping = {
        .name = "ping",
        .summary = "check that mxgpud answers",
        .usage = "",
        .run = run_ping,
        .needs_daemon = true,
};

const struct ctl_verb verb_version = {
        .name = "version",
        .summary = "print the versions of mxgpuctl and mxgpud",
        .usage = "",
        .help = "mxgpuctl's version is printed first, also when the daemon does not answer (exit 3 then).\n"
                "mxgpuctl --version prints mxgpuctl's version without asking the daemon.",
        .run = run_version,
        .needs_daemon = true,
};
