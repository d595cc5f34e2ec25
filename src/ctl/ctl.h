/* SPDX-License-Identifier: MIT */
/* mxgpuctl's command table and what every verb shares: global options, the daemon connection, output. */
#pragma once

#include <stdbool.h>
#include <stdio.h>
#include <json-c/json.h>

#include "mxgpu/ctlclient.h"
#include "mxgpu/protocol.h"

struct ctl_context {
        const char *socket_path;  /* --socket, else $MXGPU_SOCKET, else the default */
        const char *root;         /* --root, for verbs that work without the daemon */
        bool json;                /* --json: machine-readable output */
        bool color;               /* stdout is a terminal and NO_COLOR is unset */
        struct ctl_client *client;/* connected by the first ctl_call(), after the verb checked its arguments */
};

struct ctl_verb {
        const char *name;
        const char *summary;      /* one line for the verb list */
        const char *usage;        /* arguments after the verb, e.g. "PF|VF" ("" = none) */
        const char *help;         /* further lines for `mxgpuctl VERB --help`, or NULL */
        int (*run)(struct ctl_context *ctx, int argc, char **argv); /* argv[0] is the verb; returns an exit code */
        bool needs_daemon;        /* false: works without mxgpud (with --root), e.g. doctor */
};

/* The command table: adding a verb is a file src/ctl/verb-NAME.c defining `const struct ctl_verb
 * verb_NAME` plus one X(NAME) here. The order is the order of `mxgpuctl --help`. */
#define CTL_VERBS(X) \
        X(list)      \
        X(show)      \
        X(plan)      \
        X(apply)     \
        X(reload)    \
        X(monitor)   \
        X(resize)    \
        X(set_vfs)   \
        X(doctor)    \
        X(attach)    \
        X(detach)    \
        X(pool)      \
        X(ping)      \
        X(version)

#define CTL_DECLARE_VERB(n) extern const struct ctl_verb verb_##n;
CTL_VERBS(CTL_DECLARE_VERB)

/* The error names of mxgpuctl's own errors under --json (man/mxgpuctl.8): a usage error or a value
 * refused before the daemon was asked (exit 2), the daemon unreachable (3), anything else (1). */
#define CTL_ERROR_USAGE       "io.mxgpu.Ctl.UsageError"
#define CTL_ERROR_UNREACHABLE "io.mxgpu.Ctl.Unreachable"
#define CTL_ERROR_FAILED      "io.mxgpu.Ctl.Failed"

/* Call a method and handle the failures every verb handles alike: transport errors are printed and
 * give MX_EXIT_UNREACHABLE, error replies are printed ("mxgpuctl: <message> (<error name>)") and give
 * their exit code; under --json the error object goes to stdout too. Returns MX_EXIT_OK with *ret
 * filled, or the exit code. */
int ctl_call(struct ctl_context *ctx, const char *method, struct json_object *params, struct ctl_reply *ret);
/* Call a streaming method; cb sees every reply until the stream ends or cb stops it. An error reply
 * ends the stream and is handled as by ctl_call(). Returns an exit code: the error's, MX_EXIT_UNREACHABLE
 * when the connection fails, MX_EXIT_FAILED when cb stopped with < 0. */
int ctl_stream(struct ctl_context *ctx, const char *method, struct json_object *params, ctl_reply_cb cb, void *userdata);
/* Print a reply's parameters as JSON (for --json). */
void ctl_print_json(struct json_object *o);
/* Usage error for a verb: prints the message and the verb's usage line (and under --json the error
 * object on stdout); returns MX_EXIT_USAGE. */
int ctl_usage_error(const struct ctl_verb *v, const char *fmt, ...) _printf_(2, 3);
/* Any other error of mxgpuctl's own: "mxgpuctl: <message>" on stderr, and under --json the error object
 * (CTL_ERROR_* by code, with the message and errno err) on stdout. Returns code. */
int ctl_error(enum mx_exit code, int err, const char *fmt, ...) _printf_(3, 4);
/* For a verb whose --json output is one object per line: its error objects are one line too. */
void ctl_json_lines(void);
/* For a verb that prints its own object on failure too: an error's "error" and "parameters" are added
 * to o (NULL: printed alone again) instead of printed. */
void ctl_json_errors_into(struct json_object *o);
/* One option of a verb: a flag, or one that takes a value ("--name VALUE" or "--name=VALUE"). */
struct ctl_option {
        const char *name;         /* "--memory"; NULL ends a table */
        bool *flag;               /* set to true for an option without a value */
        const char **value;       /* set to the value for an option with one */
};
/* Parse a verb's arguments (argv[0] is the verb) the same way for every verb: the options of opts
 * (NULL = none) anywhere before "--"; everything else, and everything after "--", is positional,
 * up to max_pos of them stored in pos in order ("-1" and "-" are positional too: no option starts
 * with a digit). Returns the number of positional arguments, or -EINVAL after printing the usage
 * error ("unknown option X", "X needs a value", "unexpected argument 'X'"). */
int ctl_parse_args(const struct ctl_verb *v, int argc, char **argv, const struct ctl_option *opts,
                   const char **pos, size_t max_pos);
/* True when argv has -h/--help after the verb (the verb then prints its help and returns 0). */
bool ctl_wants_help(int argc, char **argv);
void ctl_print_verb_help(const struct ctl_verb *v);

/* JSON accessors that tolerate missing members: the reply shape grows over time. */
const char *ctl_json_str(struct json_object *o, const char *key, const char *fallback);
long long ctl_json_int(struct json_object *o, const char *key, long long fallback);
/* A number (integer or not) at key, or fallback. */
double ctl_json_double(struct json_object *o, const char *key, double fallback);

/* An aligned text table: columns as wide as their widest cell, two spaces apart. */
struct ctl_table;
struct ctl_table *ctl_table_new(size_t n_columns, const char *const *headers);
/* Add a row of n_columns cells (copied; NULL prints as "-"). */
int ctl_table_add(struct ctl_table *t, const char *const *cells);
void ctl_table_print(struct ctl_table *t, FILE *f, bool color);
void ctl_table_free(struct ctl_table *t);
/* A state word, coloured on a terminal (ready green, degraded yellow, failed red). */
const char *ctl_state_color(const char *state, bool color);
#define CTL_COLOR_RESET "\033[0m"
