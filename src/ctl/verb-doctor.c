// SPDX-License-Identifier: MIT
// mxgpuctl doctor: check the platform before anything is touched, without the daemon (src/lib/doctor.c).
#include <string.h>

#include "ctl.h"
#include "mxgpu/doctor.h"

static int run_doctor(struct ctl_context *ctx, int argc, char **argv) {
        const char *sock = NULL;
        const struct ctl_option opts[] = { { "--libvirt-socket", .value = &sock }, {} };
        if (ctl_parse_args(&verb_doctor, argc, argv, opts, NULL, 0) < 0)
                return MX_EXIT_USAGE;
        struct doctor_report rep;
        if (doctor_run(sock, &rep) < 0)
                return ctl_error(MX_EXIT_FAILED, ENOMEM, "doctor: out of memory");
        unsigned count[3] = {};
        for (size_t i = 0; i < rep.n; i++)
                count[rep.checks[i].status]++;
        enum doctor_status worst = doctor_worst(&rep);
        if (ctx->json) {
                struct json_object *o = json_object_new_object(), *arr = json_object_new_array(), *sum = json_object_new_object();
                for (size_t i = 0; i < rep.n; i++) {
                        const struct doctor_check *c = &rep.checks[i];
                        struct json_object *j = json_object_new_object();
                        json_object_object_add(j, "check", json_object_new_string(c->name));
                        json_object_object_add(j, "device", c->device[0] ? json_object_new_string(c->device) : NULL);
                        json_object_object_add(j, "status", json_object_new_string(doctor_status_name(c->status)));
                        json_object_object_add(j, "message", json_object_new_string(c->message));
                        json_object_object_add(j, "fix", c->fix[0] ? json_object_new_string(c->fix) : NULL);
                        json_object_array_add(arr, j);
                }
                json_object_object_add(o, "ok", json_object_new_boolean(worst != DOCTOR_FAIL));
                json_object_object_add(o, "checks", arr);
                for (int s = DOCTOR_OK; s <= DOCTOR_FAIL; s++)
                        json_object_object_add(sum, doctor_status_name((enum doctor_status)s), json_object_new_int((int)count[s]));
                json_object_object_add(o, "summary", sum);
                ctl_print_json(o);
                json_object_put(o);
        } else {
                static const char *const colors[] = { "\033[32m", "\033[33m", "\033[31m" };
                int w = 0; /* the check names' column: as wide as the longest */
                for (size_t i = 0; i < rep.n; i++)
                        w = MAX(w, (int)strlen(rep.checks[i].name));
                for (size_t i = 0; i < rep.n; i++) {
                        const struct doctor_check *c = &rep.checks[i];
                        printf("%s%-4s%s  %-*s  %s%s%s\n", ctx->color ? colors[c->status] : "", doctor_status_name(c->status),
                               ctx->color ? CTL_COLOR_RESET : "", w, c->name, c->device[0] ? c->device : "",
                               c->device[0] ? ": " : "", c->message);
                        if (c->fix[0])
                                printf("      %-*s  fix: %s\n", w, "", c->fix);
                }
                printf("%u ok, %u warning%s, %u failed\n", count[DOCTOR_OK], count[DOCTOR_WARN], count[DOCTOR_WARN] == 1 ? "" : "s",
                       count[DOCTOR_FAIL]);
        }
        doctor_report_done(&rep);
        return worst == DOCTOR_FAIL ? MX_EXIT_FAILED : MX_EXIT_OK;
}

const struct ctl_verb verb_doctor = {
        .name = "doctor",
        .summary = "check the platform (IOMMU, drivers, SR-IOV, ARI, MMIO room, host drivers, libvirt); no daemon needed",
        .usage = "[--libvirt-socket PATH]",
        .help = "  --libvirt-socket PATH  the libvirt socket to try (default " DEFAULT_LIBVIRT_SOCK " below --root)\n"
                "Read-only. Each check says ok, warn or fail with a fix. Exit status 1 when a check fails.",
        .run = run_doctor,
        .needs_daemon = false,
};
