// SPDX-License-Identifier: MIT
// mxgpuctl doctor: check the platform (stub).
#include "ctl.h"
static int run_doctor(struct ctl_context *ctx, int argc, char **argv) { return 0; }
const struct ctl_verb verb_doctor = { .name = "doctor", .summary = "check the platform", .usage = "", .run = run_doctor };
