// SPDX-License-Identifier: MIT
// Unit tests for the state file: round trip, atomic replacement across a crash, corrupt files kept aside.
// WRAP: rename fsync
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "fake-sysfs.h"
#include "mxgpu/state.h"

/* rename() is the commit point of a save: failing it stands for a crash just before it. */
int __real_rename(const char *from, const char *to);
int __wrap_rename(const char *from, const char *to);
static bool crash_before_rename;
int __wrap_rename(const char *from, const char *to) {
        if (crash_before_rename)
                return errno = EIO, -1;
        return __real_rename(from, to);
}

/* fsync() calls, counted: a durable save syncs the file and then its folder. */
int __real_fsync(int fd);
int __wrap_fsync(int fd);
static unsigned fsyncs;
int __wrap_fsync(int fd) {
        fsyncs++;
        return __real_fsync(fd);
}

static int setup(void **state) {
        crash_before_rename = false;
        fsyncs = 0;
        return fake_setup(state);
}

static void fill(struct mx_state *s) {
        state_init(s);
        struct state_pf *pf = state_pf_add(s, "03:00.0");
        assert_non_null(pf);
        snprintf(pf->card, sizeof(pf->card), "s7150");
        pf->phase = STATE_PHASE_APPLIED;
        pf->generation = 3;
        pf->num_vfs = 2;
        snprintf(pf->pf_driver, sizeof(pf->pf_driver), "pci-pf-stub");
        pf->pf_reserve_mib = 256;
        pf->context_offset_mib = 256;
        pf->context_size_mib = 8;
        pf->sched_mode = 2;
        memcpy(pf->quanta_ms, (uint8_t[]){ 6, 10, 20, 40 }, 4);
        struct state_vf vfs[2] = {
                { .index = 0, .addr = "0000:03:02.0", .fb_offset_mib = 272, .fb_size_mib = 3952,
                  .quanta_index = 1, .driver = "vfio-pci", .bound_by_us = true },
                { .index = 1, .addr = "0000:03:02.1", .fb_offset_mib = 4224, .fb_size_mib = 3952 },
        };
        assert_int_equal(state_pf_set_vfs(pf, vfs, 2), 0);
        pf = state_pf_add(s, "0000:04:00.0");
        assert_non_null(pf);
        pf->phase = STATE_PHASE_APPLYING;
}

static void missing_is_empty(void **state) {
        struct mx_state s;
        assert_int_equal(state_load(fake_root, &s, NULL), 0);
        assert_int_equal(s.n_pfs, 0);
        assert_int_equal(s.version, STATE_VERSION);
        state_done(&s);
        assert_int_equal(state_load("/nonexistent-mxgpu-dir", &s, NULL), -ENOENT);
}

static void round_trip(void **state) {
        struct mx_state s, t;
        fill(&s);
        assert_int_equal(state_save(fake_root, &s), 0);
        assert_int_equal(s.generation, 1);
        assert_int_equal(state_save(fake_root, &s), 0);
        assert_int_equal(s.generation, 2);

        assert_int_equal(state_load(fake_root, &t, NULL), 0);
        assert_int_equal(t.generation, 2);
        assert_int_equal(t.n_pfs, 2);
        struct state_pf *pf = state_pf_get(&t, "0000:03:00.0");
        assert_non_null(pf);
        assert_string_equal(pf->card, "s7150");
        assert_int_equal(pf->phase, STATE_PHASE_APPLIED);
        assert_int_equal(pf->generation, 3);
        assert_string_equal(pf->pf_driver, "pci-pf-stub");
        assert_int_equal(pf->sched_mode, 2);
        assert_int_equal(pf->quanta_ms[3], 40);
        assert_int_equal(pf->n_vfs, 2);
        assert_string_equal(pf->vfs[0].addr, "0000:03:02.0");
        assert_int_equal(pf->vfs[0].fb_size_mib, 3952);
        assert_int_equal(pf->vfs[0].quanta_index, 1);
        assert_true(pf->vfs[0].bound_by_us);
        assert_false(pf->vfs[1].bound_by_us);
        assert_string_equal(pf->vfs[1].driver, "");
        assert_ptr_equal(state_vf_get(pf, "0000:03:02.1"), &pf->vfs[1]);
        assert_null(state_vf_get(pf, "0000:03:02.2"));
        assert_null(state_vf_get(NULL, "0000:03:02.0"));
        assert_int_equal(state_pf_get(&t, "0000:04:00.0")->phase, STATE_PHASE_APPLYING);

        assert_int_equal(state_pf_remove(&t, "0000:03:00.0"), 0);
        assert_int_equal(state_pf_remove(&t, "0000:03:00.0"), -ENOENT);
        assert_int_equal(t.n_pfs, 1);
        assert_string_equal(t.pfs[0].addr, "0000:04:00.0");
        assert_null(state_pf_add(&t, "bogus"));
        state_done(&s);
        state_done(&t);
}

static unsigned count_files(const char *prefix) {
        DIR *d = opendir(fake_root);
        assert_non_null(d);
        unsigned n = 0;
        struct dirent *de;
        while ((de = readdir(d)))
                if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
                        n++;
        closedir(d);
        return n;
}

/* A mark waits for the file's data, not for the rename: the same file, one fsync fewer. */
static void mark_is_a_save_without_folder_sync(void **state) {
        struct mx_state s, t;
        fill(&s);
        assert_int_equal(state_save(fake_root, &s), 0);
        assert_int_equal(fsyncs, 2);
        s.pfs[0].phase = STATE_PHASE_APPLYING;
        assert_int_equal(state_save_mark(fake_root, &s), 0);
        assert_int_equal(fsyncs, 3);
        assert_int_equal(s.generation, 2);
        assert_int_equal(state_load(fake_root, &t, NULL), 0);
        assert_int_equal(t.generation, 2);
        assert_int_equal(t.pfs[0].phase, STATE_PHASE_APPLYING);
        state_done(&s);
        state_done(&t);
}

/* The generation stops at the largest value a load takes back (json-c reads larger numbers as it);
 * one past it would be written negative and the next load would call the file corrupt. */
static void generation_stops_at_its_largest(void **state) {
        struct mx_state s, t;
        fill(&s);
        s.generation = INT64_MAX - 1;
        assert_int_equal(state_save(fake_root, &s), 0);
        assert_true(s.generation == INT64_MAX);
        assert_int_equal(state_save(fake_root, &s), 0);
        assert_true(s.generation == INT64_MAX);
        assert_int_equal(state_load(fake_root, &t, NULL), 0);
        assert_true(t.generation == INT64_MAX);
        state_done(&s);
        state_done(&t);
}

static void crash_keeps_old_file(void **state) {
        struct mx_state s, t;
        fill(&s);
        assert_int_equal(state_save(fake_root, &s), 0);
        char before[8192], after[8192];
        fake_read("state.json", before, sizeof(before));

        s.pfs[0].phase = STATE_PHASE_TEARING_DOWN;
        crash_before_rename = true;
        assert_int_equal(state_save(fake_root, &s), -EIO);
        assert_int_equal(s.generation, 1); /* not bumped: not written */
        assert_string_equal(fake_read("state.json", after, sizeof(after)), before);
        assert_int_equal(count_files(".state.json."), 0); /* its temporary file is gone */

        /* a real crash leaves the temporary file behind: load ignores and removes it */
        fake_file(".state.json.Ab12Cd", "{ half a fil");
        crash_before_rename = false;
        assert_int_equal(state_load(fake_root, &t, NULL), 0);
        assert_int_equal(t.pfs[0].phase, STATE_PHASE_APPLIED);
        assert_int_equal(count_files(".state.json."), 0);
        state_done(&s);
        state_done(&t);
}

/* The policy is kept by name (and number, for older mxgpud); files with only the number still load. */
static void scheduler_names(void **state) {
        struct mx_state s, t;
        char text[8192];
        fill(&s);
        s.pfs[0].sched_mode = 4;
        assert_int_equal(state_save(fake_root, &s), 0);
        assert_non_null(strstr(fake_read("state.json", text, sizeof(text)), "\"scheduler\": \"round_robin\""));
        assert_int_equal(state_load(fake_root, &t, NULL), 0);
        assert_int_equal(state_pf_get(&t, "0000:03:00.0")->sched_mode, 4);
        state_done(&t);

        /* a file written before the names: the number */
        s.pfs[0].sched_mode = 0;
        assert_int_equal(state_save(fake_root, &s), 0);
        fake_read("state.json", text, sizeof(text));
        assert_null(strstr(text, "\"scheduler\""));
        char *n = strstr(text, "\"sched_mode\": 0");
        assert_non_null(n);
        n[strlen("\"sched_mode\": ")] = '2';
        fake_file("state.json", "%s", text);
        assert_int_equal(state_load(fake_root, &t, NULL), 0);
        assert_int_equal(state_pf_get(&t, "0000:03:00.0")->sched_mode, 2);
        state_done(&t);
        state_done(&s);
}

static void corrupt_moved_aside(const char *content) {
        struct mx_state s;
        char *moved = NULL, buf[1024];
        fake_file("state.json", "%s", content);
        /* peeking (--check-config) reports it and moves nothing */
        s.n_pfs = 12345;
        assert_int_equal(state_peek(fake_root, &s), -EBADMSG);
        assert_int_equal(s.n_pfs, 12345);
        assert_true(fake_exists("state.json"));
        s.n_pfs = 12345; /* untouched on failure */
        assert_int_equal(state_load(fake_root, &s, &moved), -EBADMSG);
        assert_int_equal(s.n_pfs, 12345);
        assert_non_null(moved);
        assert_non_null(strstr(moved, "/state.json.corrupt-"));
        assert_false(fake_exists("state.json"));
        assert_string_equal(fake_read(moved + strlen(fake_root), buf, sizeof(buf)), content);
        free(moved);
        /* then the next load starts empty */
        assert_int_equal(state_load(fake_root, &s, NULL), 0);
        assert_int_equal(s.n_pfs, 0);
        state_done(&s);
}

static void corrupt_files(void **state) {
        corrupt_moved_aside("{ \"version\": 1, \"generation\": 4, \"pfs\": [");       /* truncated */
        corrupt_moved_aside("");                                                     /* empty */
        corrupt_moved_aside("{ \"version\": 1, \"generation\": 4, \"pfs\": [ { \"address\": \"x\" } ] }");
        corrupt_moved_aside("{ \"version\": 1, \"generation\": -1, \"pfs\": [] }");
        corrupt_moved_aside("{ \"version\": 1, \"generation\": 1, \"pfs\": [] } trailing");
        corrupt_moved_aside("[ 1, 2 ]");
        /* two in the same second get distinct names */
        assert_true(count_files("state.json.corrupt-") >= 2);
}

static void newer_version_left_alone(void **state) {
        struct mx_state s;
        fake_file("state.json", "{ \"version\": 99, \"generation\": 1, \"pfs\": [] }");
        assert_int_equal(state_load(fake_root, &s, NULL), -EPROTONOSUPPORT);
        assert_true(fake_exists("state.json"));
}

static void assignments_round_trip(void **state) {
        struct mx_state s, t;
        fill(&s);
        assert_int_equal(state_save(fake_root, &s), 0);
        char buf[8192];
        /* no VM assigned: the file has no "assignments" key, as older versions wrote it */
        assert_null(strstr(fake_read("state.json", buf, sizeof(buf)), "assignments"));
        struct state_assignment a = { .vf = "03:02.1", .pool = "gold", .domain = "web01",
                                      .uuid = "6695eb01-f6a4-8304-79aa-97f2502e193f", .persistent = true };
        assert_int_equal(state_assignment_set(&s, &a), 0);
        struct state_assignment b = { .vf = "0000:03:02.0", .pool = "gold", .domain = "" };
        assert_int_equal(state_assignment_set(&s, &b), 0);
        a.live = true;
        assert_int_equal(state_assignment_set(&s, &a), 0); /* replaces */
        assert_int_equal(s.n_assignments, 2);
        struct state_assignment bad = { .vf = "nope" };
        assert_int_equal(state_assignment_set(&s, &bad), -EINVAL);
        assert_int_equal(state_save(fake_root, &s), 0);

        assert_int_equal(state_load(fake_root, &t, NULL), 0);
        assert_int_equal(t.n_assignments, 2);
        struct state_assignment *x = state_assignment_get(&t, "0000:03:02.1");
        assert_non_null(x);
        assert_string_equal(x->domain, "web01");
        assert_string_equal(x->pool, "gold");
        assert_string_equal(x->uuid, "6695eb01-f6a4-8304-79aa-97f2502e193f");
        assert_true(x->persistent);
        assert_true(x->live);
        assert_string_equal(state_assignment_get(&t, "0000:03:02.0")->domain, "");
        assert_int_equal(state_assignment_remove(&t, "0000:03:02.1"), 0);
        assert_int_equal(state_assignment_remove(&t, "0000:03:02.1"), -ENOENT);
        assert_int_equal(t.n_assignments, 1);
        assert_string_equal(t.assignments[0].vf, "0000:03:02.0");
        state_done(&s);
        state_done(&t);
}

static void assignments_checked(void **state) {
        /* a file of an older version (no "assignments") loads as nothing assigned */
        struct mx_state s;
        fake_file("state.json", "{ \"version\": 1, \"generation\": 1, \"pfs\": [] }");
        assert_int_equal(state_load(fake_root, &s, NULL), 0);
        assert_int_equal(s.n_assignments, 0);
        state_done(&s);
        const char *ok = "{ \"vf\": \"0000:03:02.0\", \"pool\": \"p\", \"domain\": \"d\", \"uuid\": \"\", "
                         "\"persistent\": true, \"live\": false }";
        char text[1024];
        snprintf(text, sizeof(text), "{ \"version\": 1, \"generation\": 1, \"pfs\": [], \"assignments\": [ %s ] }", ok);
        fake_file("state.json", "%s", text);
        assert_int_equal(state_load(fake_root, &s, NULL), 0);
        assert_int_equal(s.n_assignments, 1);
        state_done(&s);
        /* the same VF twice, a wrong type, a bad address: corrupt */
        snprintf(text, sizeof(text), "{ \"version\": 1, \"generation\": 1, \"pfs\": [], \"assignments\": [ %s, %s ] }", ok, ok);
        corrupt_moved_aside(text);
        corrupt_moved_aside("{ \"version\": 1, \"generation\": 1, \"pfs\": [], \"assignments\": {} }");
        corrupt_moved_aside("{ \"version\": 1, \"generation\": 1, \"pfs\": [], \"assignments\": [ { \"vf\": \"x\", "
                            "\"pool\": \"p\", \"domain\": \"d\", \"uuid\": \"\", \"persistent\": true, \"live\": false } ] }");
}

static void phase_names(void **state) {
        for (int p = 0; p < _STATE_PHASE_MAX; p++)
                assert_int_equal(state_phase_from_name(state_phase_name(p)), p);
        assert_int_equal(state_phase_from_name("applying"), STATE_PHASE_APPLYING);
        assert_int_equal(state_phase_from_name("x"), -EINVAL);
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, fake_teardown)
        const struct CMUnitTest tests[] = {
                T(missing_is_empty), T(round_trip), T(mark_is_a_save_without_folder_sync), T(generation_stops_at_its_largest),
                T(crash_keeps_old_file), T(corrupt_files),
                T(newer_version_left_alone), T(phase_names), T(assignments_round_trip), T(assignments_checked),
                T(scheduler_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
