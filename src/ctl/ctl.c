// SPDX-License-Identifier: MIT
// mxgpuctl's framework: global options (anywhere before "--"), help generated from the command table,
// the connection to mxgpud, and the error handling every verb shares.
#include <ctype.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "mxgpu/log.h"
#include "mxgpu/names.h"
#include "mxgpu/paths.h"
#include "ctl.h"

#define CTL_VERB_ENTRY(n) &verb_##n,
static const struct ctl_verb *const verbs[] = { CTL_VERBS(CTL_VERB_ENTRY) };

/* --json once the verb is known: errors then also go to stdout as a JSON error object. Process-wide
 * because usage errors are found deep in the verbs' argument checks. */
static bool json_errors;
/* Set by a verb that prints one JSON object per line (monitor): its error is one line too. */
static bool json_errors_plain;
/* Set by a verb that prints its own object even on failure (version): the error's members go there. */
static struct json_object *json_errors_into;

static void print_json(struct json_object *o, bool plain) {
        puts(json_object_to_json_string_ext(o, plain ? JSON_C_TO_STRING_PLAIN :
                                            JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Print an error object, or hand its members to the verb's object. */
static void emit_json_error(struct json_object *o) {
        if (json_errors_into) {
                json_object_object_foreach(o, key, value)
                        json_object_object_add(json_errors_into, key, json_object_get(value));
                return;
        }
        print_json(o, json_errors_plain);
}

/* mxgpuctl's own errors in the shape of the daemon's: {"error": NAME, "parameters": {"message", "errno"}}. */
static void print_json_error(enum mx_exit code, int err, const char *message) {
        if (!json_errors)
                return;
        const char *name = code == MX_EXIT_USAGE ? CTL_ERROR_USAGE : code == MX_EXIT_UNREACHABLE ? CTL_ERROR_UNREACHABLE :
                           CTL_ERROR_FAILED;
        struct json_object *o = json_object_new_object(), *p = json_object_new_object();
        json_object_object_add(p, "message", json_object_new_string(message));
        json_object_object_add(p, "errno", json_object_new_int(err));
        json_object_object_add(o, "error", json_object_new_string(name));
        json_object_object_add(o, "parameters", p);
        emit_json_error(o);
        json_object_put(o);
}

static void print_verb_usage(FILE *f, const char *lead, const struct ctl_verb *v);

/* One client-side error: on stderr, the verb's usage line after it when v is given, and as the JSON
 * error object under --json. Returns code. */
static int verror(enum mx_exit code, int err, const struct ctl_verb *v, const char *fmt, va_list ap) {
        _cleanup_free_ char *msg = NULL;
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        fprintf(stderr, "mxgpuctl: %s\n", msg ?: fmt);
        if (v)
                print_verb_usage(stderr, "Usage: mxgpuctl ", v);
        print_json_error(code, err, msg ?: fmt);
        return code;
}

int ctl_error(enum mx_exit code, int err, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = verror(code, err, NULL, fmt, ap);
        va_end(ap);
        return r;
}

void ctl_json_lines(void) {
        json_errors_plain = true;
}

void ctl_json_errors_into(struct json_object *o) {
        json_errors_into = o;
}

/* The verb column of --help: a verb with a longer usage line has its summary on the next line. */
#define HELP_VERB_COLUMN 30

static void print_help(void) {
        printf("Usage: mxgpuctl [OPTIONS] VERB [ARGS]\n\n"
               "Inspect and control mxgpud, the MxGPU SR-IOV daemon.\n\n"
               "Verbs:\n");
        int w = 0;
        char head[ARRAY_SIZE(verbs)][160];
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
                snprintf(head[i], sizeof(head[i]), "%s%s%s", verbs[i]->name, verbs[i]->usage[0] ? " " : "", verbs[i]->usage);
                if (strlen(head[i]) <= HELP_VERB_COLUMN)
                        w = MAX(w, (int)strlen(head[i]));
        }
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++) {
                if ((int)strlen(head[i]) > w)
                        printf("  %s\n  %-*s  %s\n", head[i], w, "", verbs[i]->summary);
                else
                        printf("  %-*s  %s\n", w, head[i], verbs[i]->summary);
        }
        printf("\nOptions (also accepted after the verb):\n"
               "  --socket PATH  talk to mxgpud at PATH (default $" ENV_SOCKET " or " DEFAULT_SOCKET ")\n"
               "  --root DIR     look for sysfs and /dev below DIR (verbs that work without the daemon)\n"
               "  --json         print JSON for scripts instead of tables\n"
               "  -h, --help     this help, or a verb's help after the verb\n"
               "  --version      print mxgpuctl's version\n"
               "  --             end of the options: every word after it is an argument\n\n"
               "Exit codes: 0 ok, 1 failed, 2 usage or invalid value, 3 daemon unreachable or incompatible,\n"
               "4 permission denied, 5 not found, 6 in use or exists, 7 does not fit. See mxgpuctl(8).\n");
}

/* lead, then "NAME USAGE", or "NAME" alone for a verb without arguments */
static void print_verb_usage(FILE *f, const char *lead, const struct ctl_verb *v) {
        fprintf(f, "%s%s%s%s\n", lead, v->name, v->usage[0] ? " " : "", v->usage);
}

void ctl_print_verb_help(const struct ctl_verb *v) {
        /* The summary is a table cell ("list GPUs ..."); alone under the usage line it is a sentence. */
        print_verb_usage(stdout, "Usage: mxgpuctl [OPTIONS] ", v);
        printf("\n%c%s.\n", toupper((unsigned char)v->summary[0]), v->summary + 1);
        if (v->help)
                printf("\n%s\n", v->help);
}

bool ctl_wants_help(int argc, char **argv) {
        for (int i = 1; i < argc; i++) {
                if (streq(argv[i], "--"))
                        break;
                if (streq(argv[i], "-h") || streq(argv[i], "--help"))
                        return true;
        }
        return false;
}

int ctl_usage_error(const struct ctl_verb *v, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        int r = verror(MX_EXIT_USAGE, EINVAL, v, fmt, ap);
        va_end(ap);
        return r;
}

/* An option word: "-x" or "--x", but neither "-", "--" nor a negative number (a bad count, not an option). */
static bool is_option(const char *a) {
        return a[0] == '-' && a[1] && !isdigit((unsigned char)a[1]) && !streq(a, "--");
}

int ctl_parse_args(const struct ctl_verb *v, int argc, char **argv, const struct ctl_option *opts,
                   const char **pos, size_t max_pos) {
        size_t n_pos = 0;
        bool dashdash = false;
        for (int i = 1; i < argc; i++) {
                const char *a = argv[i];
                if (!dashdash && streq(a, "--")) {
                        dashdash = true;
                        continue;
                }
                if (dashdash || !is_option(a)) {
                        if (n_pos >= max_pos) {
                                ctl_usage_error(v, "unexpected argument '%s'", a);
                                return -EINVAL;
                        }
                        pos[n_pos++] = a;
                        continue;
                }
                const struct ctl_option *o = NULL;
                const char *eq = NULL;
                for (size_t k = 0; opts && opts[k].name && !o; k++) {
                        size_t len = strlen(opts[k].name);
                        if (strncmp(a, opts[k].name, len) == 0 && (a[len] == 0 || a[len] == '=')) {
                                o = &opts[k];
                                eq = a[len] == '=' ? a + len + 1 : NULL;
                        }
                }
                if (!o) {
                        ctl_usage_error(v, "unknown option %s", a);
                        return -EINVAL;
                }
                if (o->flag) {
                        if (eq) {
                                ctl_usage_error(v, "%s takes no value", o->name);
                                return -EINVAL;
                        }
                        *o->flag = true;
                        continue;
                }
                if (!eq && i + 1 >= argc) {
                        ctl_usage_error(v, "%s needs a value", o->name);
                        return -EINVAL;
                }
                const char *value = eq ? eq : argv[++i];
                if (!*value) {
                        ctl_usage_error(v, "%s needs a non-empty value", o->name);
                        return -EINVAL;
                }
                *o->value = value;
        }
        return (int)n_pos;
}

static const struct ctl_verb *verb_find(const char *name) {
        for (size_t i = 0; i < ARRAY_SIZE(verbs); i++)
                if (streq(verbs[i]->name, name))
                        return verbs[i];
        return NULL;
}

/* Take a global option at argv[*i] (and its value); false if argv[*i] is not one. */
static int global_option(struct ctl_context *ctx, int argc, char **argv, int *i, bool *help, bool *version) {
        const char *a = argv[*i];
        const char *const with_value[] = { "--socket", "--root" };
        for (size_t k = 0; k < ARRAY_SIZE(with_value); k++) {
                size_t n = strlen(with_value[k]);
                const char *value = NULL;
                if (streq(a, with_value[k])) {
                        if (*i + 1 >= argc) {
                                fprintf(stderr, "mxgpuctl: %s needs a value\n", a);
                                return -EINVAL;
                        }
                        value = argv[++*i];
                } else if (strncmp(a, with_value[k], n) == 0 && a[n] == '=')
                        value = a + n + 1;
                else
                        continue;
                if (!*value) {
                        fprintf(stderr, "mxgpuctl: %s needs a non-empty value\n", with_value[k]);
                        return -EINVAL;
                }
                if (k == 0)
                        ctx->socket_path = value;
                else
                        ctx->root = value;
                return 1;
        }
        if (streq(a, "--json"))
                ctx->json = true;
        else if (streq(a, "-h") || streq(a, "--help"))
                *help = true;
        else if (streq(a, "--version"))
                *version = true;
        else
                return 0;
        return 1;
}

int ctl_main(int argc, char **argv);
int ctl_main(int argc, char **argv) {
        struct ctl_context ctx = {};
        bool help = false, version = false, dashdash = false;
        mx_log_set_ident("mxgpuctl");
        const char *nc = getenv("NO_COLOR");
        ctx.color = isatty(STDOUT_FILENO) && !(nc && *nc);

        /* Global options may stand anywhere before "--"; everything else goes to the verb. */
        _cleanup_free_ char **args = calloc(argc + 1, sizeof(char *));
        if (!args)
                return MX_EXIT_FAILED;
        int n = 0;
        const struct ctl_verb *verb = NULL;
        for (int i = 1; i < argc; i++) {
                if (!dashdash && streq(argv[i], "--")) {
                        dashdash = true;
                        /* Before the verb it ends the global options only; the verb's own "--" follows the verb. */
                        if (verb)
                                args[n++] = argv[i];
                        continue;
                }
                bool verb_help = false;
                int r = dashdash ? 0 : global_option(&ctx, argc, argv, &i, verb ? &verb_help : &help, &version);
                if (r < 0)
                        return MX_EXIT_USAGE;
                if (verb_help)
                        args[n++] = argv[i]; /* the verb prints its own help */
                else if (r == 0) {
                        if (!verb && argv[i][0] == '-') {
                                fprintf(stderr, "mxgpuctl: unknown option %s (see mxgpuctl --help)\n", argv[i]);
                                return MX_EXIT_USAGE;
                        }
                        if (!verb) {
                                verb = verb_find(argv[i]);
                                if (!verb) {
                                        fprintf(stderr, "mxgpuctl: unknown verb '%s' (see mxgpuctl --help)\n", argv[i]);
                                        return MX_EXIT_USAGE;
                                }
                                args[n++] = argv[i];
                                if (dashdash)
                                        args[n++] = "--";
                                continue;
                        }
                        args[n++] = argv[i];
                }
        }
        if (version) {
                printf("mxgpuctl %s (protocol %s, version %d)\n", MXGPU_VERSION, MX_INTERFACE, MX_PROTOCOL_VERSION);
                return MX_EXIT_OK;
        }
        if (help) {
                print_help();
                return MX_EXIT_OK;
        }
        if (!verb) {
                fprintf(stderr, "mxgpuctl: no verb given; see mxgpuctl --help\n");
                return MX_EXIT_USAGE;
        }
        if (ctl_wants_help(n, args)) {
                ctl_print_verb_help(verb);
                return MX_EXIT_OK;
        }
        json_errors = ctx.json;
        /* $MXGPU_ROOT stands for --root, as for mxgpud; either must name a directory that exists. */
        int r = ctx.root ? mx_root_set(ctx.root) : mx_root_from_env();
        if (r < 0) {
                if (ctx.root)
                        return ctl_error(MX_EXIT_USAGE, -r, "--root %s: %s", ctx.root, mx_root_error(r));
                return ctl_error(MX_EXIT_USAGE, -r, "$" ENV_ROOT "=%s: %s", getenv(ENV_ROOT), mx_root_error(r));
        }

        r = verb->run(&ctx, n, args);
        ctl_client_free(ctx.client);
        fflush(stdout);
        return r;
}

/* Connected on the first call, so that a verb checks its arguments before the daemon is needed. */
static int ctl_connect(struct ctl_context *ctx) {
        if (ctx->client)
                return MX_EXIT_OK;
        int r = ctl_client_connect(ctx->socket_path, &ctx->client);
        if (r < 0) {
                char buf[512];
                return ctl_error(MX_EXIT_UNREACHABLE, -r, "%s", ctl_client_connect_hint(ctx->socket_path, r, buf, sizeof(buf)));
        }
        return MX_EXIT_OK;
}

/* A call that got no reply: the connection, not the daemon, failed. */
static int transport_error(struct ctl_context *ctx, const char *method, int r) {
        const char *what = r == -ETIMEDOUT ? "no answer in time" :
                           r == -EBADMSG || r == -EMSGSIZE ? "the answer is not a valid Varlink reply" :
                           strerror(-r);
        return ctl_error(MX_EXIT_UNREACHABLE, -r, "calling %s at %s failed: %s", method, ctl_client_path(ctx->client), what);
}

/* An error reply: as JSON on stdout under --json (as it came), in words on stderr; returns its exit code. */
static int reply_error(struct ctl_context *ctx, const struct ctl_reply *reply, const char *method) {
        if (ctx->json)
                emit_json_error(reply->root);
        const struct mx_error *e = mx_error_from_name(reply->error);
        fprintf(stderr, "mxgpuctl: %s (%s)\n", reply->message ?: e ? e->meaning : "failed", reply->error);
        /* Config problems come as a list, each naming its file:line. */
        struct json_object *problems = json_object_object_get(reply->parameters, "problems");
        for (size_t i = 0; !ctx->json && problems && json_object_is_type(problems, json_type_array) &&
                           i < json_object_array_length(problems); i++) {
                struct json_object *p = json_object_array_get_idx(problems, i);
                const char *file = ctl_json_str(p, "file", NULL), *key = ctl_json_str(p, "key", NULL);
                const char *value = ctl_json_str(p, "value", NULL);
                long long line = ctl_json_int(p, "line", 0);
                fprintf(stderr, "  ");
                if (file && line > 0)
                        fprintf(stderr, "%s:%lld: ", file, line);
                else if (file)
                        fprintf(stderr, "%s: ", file);
                if (key)
                        fprintf(stderr, "%s = %s: ", key, value ?: "");
                fprintf(stderr, "%s\n", ctl_json_str(p, "message", "?"));
        }
        if (streq(reply->error, VARLINK_ERROR_METHOD_NOT_FOUND) || streq(reply->error, VARLINK_ERROR_INTERFACE_NOT_FOUND))
                fprintf(stderr, "mxgpuctl: mxgpud does not know %s: are mxgpuctl and mxgpud the same version?\n", method);
        return ctl_reply_exit_code(reply);
}

int ctl_call(struct ctl_context *ctx, const char *method, struct json_object *params, struct ctl_reply *ret) {
        struct ctl_reply reply;
        int r = ctl_connect(ctx);
        if (r != MX_EXIT_OK)
                return r;
        r = ctl_client_call(ctx->client, method, params, &reply);
        if (r < 0)
                return transport_error(ctx, method, r);
        if (reply.error) {
                int code = reply_error(ctx, &reply, method);
                ctl_reply_done(&reply);
                return code;
        }
        *ret = reply;
        return MX_EXIT_OK;
}

struct stream {
        struct ctl_context *ctx;
        const char *method;
        ctl_reply_cb cb;
        void *userdata;
        int exit_code;
};

static int stream_reply(const struct ctl_reply *reply, void *userdata) {
        struct stream *s = userdata;
        if (reply->error) {
                s->exit_code = reply_error(s->ctx, reply, s->method);
                return -ECANCELED;
        }
        int r = s->cb(reply, s->userdata);
        if (r < 0)
                s->exit_code = MX_EXIT_FAILED;
        return r;
}

int ctl_stream(struct ctl_context *ctx, const char *method, struct json_object *params, ctl_reply_cb cb, void *userdata) {
        int r = ctl_connect(ctx);
        if (r != MX_EXIT_OK)
                return r;
        struct stream s = { ctx, method, cb, userdata, MX_EXIT_OK };
        r = ctl_client_call_more(ctx->client, method, params, stream_reply, &s);
        if (s.exit_code != MX_EXIT_OK)
                return s.exit_code;
        if (r < 0)
                return transport_error(ctx, method, r);
        return MX_EXIT_OK;
}

void ctl_print_json(struct json_object *o) {
        print_json(o, false);
}

const char *ctl_json_str(struct json_object *o, const char *key, const char *fallback) {
        struct json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !v || !json_object_is_type(v, json_type_string))
                return fallback;
        const char *s = json_object_get_string(v);
        return *s ? s : fallback;
}

double ctl_json_double(struct json_object *o, const char *key, double fallback) {
        struct json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !v ||
            !(json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double)))
                return fallback;
        return json_object_get_double(v);
}

long long ctl_json_int(struct json_object *o, const char *key, long long fallback) {
        struct json_object *v;
        if (!o || !json_object_object_get_ex(o, key, &v) || !v || !json_object_is_type(v, json_type_int))
                return fallback;
        return (long long)json_object_get_int64(v);
}
