// SPDX-License-Identifier: MIT
// Unit tests for the live-resize framebuffer allocator, with minimality checked against a brute force.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "mxgpu/fballoc.h"

#define G 1024

static struct fb_layout layout(uint32_t start, uint32_t end) {
        return (struct fb_layout){ .area_start_mib = start, .area_end_mib = end };
}

static void add(struct fb_layout *l, uint32_t off, uint32_t size, bool in_use) {
        l->vf[l->n_vfs++] = (struct fb_vf){ off, size, in_use };
}

/* The result is valid: checked layout, target resized, in-use VFs untouched, moves list = offset changes. */
static void check_result(const struct fb_layout *cur, unsigned vf, uint32_t size, const struct fb_layout *out,
                         const struct fb_move *moves, unsigned n_moves) {
        assert_int_equal(fb_layout_check(out), 0);
        assert_int_equal(out->n_vfs, cur->n_vfs);
        assert_int_equal(out->vf[vf].size_mib, size);
        unsigned changed = 0;
        for (unsigned i = 0; i < cur->n_vfs; i++) {
                if (i == vf)
                        continue;
                assert_int_equal(out->vf[i].size_mib, cur->vf[i].size_mib);
                if (cur->vf[i].in_use)
                        assert_int_equal(out->vf[i].offset_mib, cur->vf[i].offset_mib);
                if (out->vf[i].offset_mib != cur->vf[i].offset_mib) {
                        assert_true(changed < n_moves);
                        assert_int_equal(moves[changed].vf, i);
                        assert_int_equal(moves[changed].from_mib, cur->vf[i].offset_mib);
                        assert_int_equal(moves[changed].to_mib, out->vf[i].offset_mib);
                        changed++;
                }
        }
        assert_int_equal(changed, n_moves);
}

static void fits_in_place(void **state) {
        /* S7150-like: 4 VFs of 1 GiB, free space after VF 3 */
        struct fb_layout l = layout(272, 8192);
        for (unsigned i = 0; i < 4; i++)
                add(&l, 272 + i * G, G, i == 0);
        struct fb_layout out;
        struct fb_move moves[MX_MAX_GPU_VFS];
        unsigned n = 99;
        assert_int_equal(fb_resize(&l, 3, 3 * G, &out, moves, &n), 0);   /* grow into the free tail */
        check_result(&l, 3, 3 * G, &out, moves, n);
        assert_int_equal(n, 0);
        assert_int_equal(out.vf[3].offset_mib, 272 + 3 * G);
        assert_int_equal(fb_resize(&l, 1, 512, &out, moves, &n), 0);     /* shrink: always in place */
        assert_int_equal(n, 0);
        assert_int_equal(out.vf[1].offset_mib, 272 + G);
        assert_int_equal(out.vf[1].size_mib, 512);
}

static void moves_to_a_free_gap_without_moving_others(void **state) {
        struct fb_layout l = layout(0, 4 * G);
        add(&l, 0, G, true);
        add(&l, G, G, false);         /* VF 1 boxed in by in-use neighbours */
        add(&l, 2 * G, 512, true);
        struct fb_layout out;
        struct fb_move moves[MX_MAX_GPU_VFS];
        unsigned n;
        assert_int_equal(fb_resize(&l, 1, 1536, &out, moves, &n), 0);
        check_result(&l, 1, 1536, &out, moves, n);
        assert_int_equal(n, 0);
        assert_int_equal(out.vf[1].offset_mib, 2 * G + 512);
}

static void moves_one_idle_vf(void **state) {
        /* [A 1G busy][B 1G][C 1G idle][free 1G]: growing B to 2G needs C out of the way */
        struct fb_layout l = layout(0, 4 * G);
        add(&l, 0, G, true);
        add(&l, G, G, false);
        add(&l, 2 * G, G, false);
        struct fb_layout out;
        struct fb_move moves[MX_MAX_GPU_VFS];
        unsigned n;
        assert_int_equal(fb_resize(&l, 1, 2 * G, &out, moves, &n), 0);
        check_result(&l, 1, 2 * G, &out, moves, n);
        /* B can also move to [2G,4G) if C moves... either way exactly one other VF moves */
        assert_int_equal(n, 1);
        assert_int_equal(moves[0].vf, 2);
}

static void in_use_vf_blocks(void **state) {
        struct fb_layout l = layout(0, 4 * G);
        add(&l, 0, G, false);
        add(&l, G, G, true);          /* in the middle, busy: no 3G hole can exist */
        add(&l, 2 * G, G, false);
        struct fb_layout out;
        struct fb_move moves[MX_MAX_GPU_VFS];
        unsigned n;
        assert_int_equal(fb_resize(&l, 0, 3 * G, &out, moves, &n), -ENOSPC);
        assert_int_equal(fb_resize(&l, 1, 512, &out, moves, &n), -EBUSY);  /* resizing a busy VF */
        /* but 2G fits by moving VF 2 into VF 0's old place? no: VF 0 grows; it goes to [2G,4G) after moving VF 2 to [0,1G) */
        assert_int_equal(fb_resize(&l, 0, 2 * G, &out, moves, &n), 0);
        check_result(&l, 0, 2 * G, &out, moves, n);
        assert_int_equal(n, 1);
}

static void cannot_fit(void **state) {
        struct fb_layout l = layout(272, 8192);
        for (unsigned i = 0; i < 16; i++)
                add(&l, 272 + i * 480, 480, false);
        struct fb_layout out;
        struct fb_move moves[MX_MAX_GPU_VFS];
        unsigned n;
        /* 16 x 480 = 7680 of 7920: 240 free; VF 0 can grow by 224 (16 MiB steps) at most */
        assert_int_equal(fb_resize(&l, 0, 480 + 240, &out, moves, &n), 0);
        check_result(&l, 0, 720, &out, moves, n);
        assert_int_equal(fb_resize(&l, 0, 480 + 256, &out, moves, &n), -ENOSPC);
}

static void bad_arguments(void **state) {
        struct fb_layout l = layout(0, 4 * G);
        add(&l, 0, G, false);
        struct fb_layout out;
        struct fb_move moves[MX_MAX_GPU_VFS];
        unsigned n;
        assert_int_equal(fb_resize(&l, 0, 100, &out, moves, &n), -EINVAL);     /* below 256 MiB */
        assert_int_equal(fb_resize(&l, 0, 520, &out, moves, &n), -EINVAL);     /* not 16 MiB aligned */
        assert_int_equal(fb_resize(&l, 1, 512, &out, moves, &n), -EINVAL);     /* no such VF */
        add(&l, 512, G, false);                                                 /* overlaps VF 0 */
        assert_int_equal(fb_resize(&l, 0, 512, &out, moves, &n), -EINVAL);
}

/* --- brute force: the fewest other VFs that must move, found by trying every placement --- */

struct bf {
        uint32_t start, end;
        unsigned n_fixed, n_items;
        uint32_t fixed_off[MX_MAX_GPU_VFS], fixed_size[MX_MAX_GPU_VFS];
        uint32_t item_size[MX_MAX_GPU_VFS], item_off[MX_MAX_GPU_VFS];
        bool item_placed[MX_MAX_GPU_VFS];
};

static bool bf_free(const struct bf *b, uint32_t off, uint32_t size) {
        if (off < b->start || off + size > b->end)
                return false;
        for (unsigned i = 0; i < b->n_fixed; i++)
                if (off < b->fixed_off[i] + b->fixed_size[i] && b->fixed_off[i] < off + size)
                        return false;
        for (unsigned i = 0; i < b->n_items; i++)
                if (b->item_placed[i] && off < b->item_off[i] + b->item_size[i] && b->item_off[i] < off + size)
                        return false;
        return true;
}

/* Any valid placement can be pushed left until each item touches the area start, a fixed VF or an
 * item placed before it: trying those points, in every item order, is exhaustive. */
static bool bf_place(struct bf *b, unsigned left) {
        if (left == 0)
                return true;
        for (unsigned i = 0; i < b->n_items; i++) {
                if (b->item_placed[i])
                        continue;
                uint32_t cand[2 * MX_MAX_GPU_VFS + 1];
                unsigned nc = 0;
                cand[nc++] = b->start;
                for (unsigned j = 0; j < b->n_fixed; j++)
                        cand[nc++] = b->fixed_off[j] + b->fixed_size[j];
                for (unsigned j = 0; j < b->n_items; j++)
                        if (b->item_placed[j])
                                cand[nc++] = b->item_off[j] + b->item_size[j];
                for (unsigned c = 0; c < nc; c++) {
                        if (!bf_free(b, cand[c], b->item_size[i]))
                                continue;
                        b->item_placed[i] = true;
                        b->item_off[i] = cand[c];
                        if (bf_place(b, left - 1))
                                return true;
                        b->item_placed[i] = false;
                }
        }
        return false;
}

/* Fewest moves, or -1 when nothing fits. */
static int brute_force_min_moves(const struct fb_layout *l, unsigned vf, uint32_t size) {
        int best = -1;
        for (uint32_t m = 0; m < (1u << l->n_vfs); m++) {
                if ((m >> vf) & 1)
                        continue;
                bool ok = true;
                for (unsigned i = 0; i < l->n_vfs; i++)
                        if (((m >> i) & 1) && (l->vf[i].in_use || !l->vf[i].size_mib))
                                ok = false;
                int k = __builtin_popcount(m);
                if (!ok || (best >= 0 && k >= best))
                        continue;
                struct bf b = { .start = l->area_start_mib, .end = l->area_end_mib };
                for (unsigned i = 0; i < l->n_vfs; i++) {
                        if (i == vf || !l->vf[i].size_mib)
                                continue;
                        if ((m >> i) & 1)
                                b.item_size[b.n_items++] = l->vf[i].size_mib;
                        else {
                                b.fixed_off[b.n_fixed] = l->vf[i].offset_mib;
                                b.fixed_size[b.n_fixed++] = l->vf[i].size_mib;
                        }
                }
                b.item_size[b.n_items++] = size;
                if (bf_place(&b, b.n_items))
                        best = k;
        }
        return best;
}

static uint32_t rnd(uint32_t n) {
        return (uint32_t)(random() % n);
}

static void minimal_moves_match_brute_force(void **state) {
        srandom(12345);
        unsigned solved = 0, moved = 0, nospc = 0;
        for (unsigned iter = 0; iter < 600; iter++) {
                /* areas of 1.5-3.5 GiB, VFs of 256-640 MiB with holes between them */
                uint32_t area = (uint32_t)(6 + rnd(8)) * 256;
                struct fb_layout l = layout(0, area);
                unsigned nvf = 2 + rnd(4);
                uint32_t pos = 0;
                for (unsigned i = 0; i < nvf; i++) {
                        pos += rnd(3) * 128;                      /* a hole of 0, 128 or 256 MiB */
                        uint32_t size = 256 + rnd(4) * 128;       /* 256..640 */
                        if (pos + size > area)
                                break;
                        add(&l, pos, size, rnd(4) == 0);
                        pos += size;
                }
                if (l.n_vfs < 2)
                        continue;
                /* shuffle offsets so VF index order is not address order */
                for (unsigned i = l.n_vfs - 1; i > 0; i--) {
                        unsigned j = rnd(i + 1);
                        struct fb_vf t = l.vf[i];
                        l.vf[i] = l.vf[j];
                        l.vf[j] = t;
                }
                unsigned vf = rnd(l.n_vfs);
                l.vf[vf].in_use = false;
                uint32_t size = 256 + rnd(12) * 64;
                struct fb_layout out;
                struct fb_move moves[MX_MAX_GPU_VFS];
                unsigned n = 0;
                int r = fb_resize(&l, vf, size, &out, moves, &n);
                int best = brute_force_min_moves(&l, vf, size);
                if (best < 0) {
                        assert_int_equal(r, -ENOSPC);
                        nospc++;
                        continue;
                }
                assert_int_equal(r, 0);
                check_result(&l, vf, size, &out, moves, n);
                assert_int_equal(n, (unsigned)best);
                solved++;
                moved += n > 0;
        }
        /* the generator produces every kind of case */
        assert_true(solved > 100);
        assert_true(moved > 20);
        assert_true(nospc > 20);
}

static void sixteen_vfs_are_fast_enough_to_search(void **state) {
        /* worst shape for the search: many small idle VFs, one needs a big hole */
        struct fb_layout l = layout(272, 8192);
        for (unsigned i = 0; i < 16; i++)
                add(&l, 272 + i * 480, 256, false);  /* 224 MiB holes after each */
        struct fb_layout out;
        struct fb_move moves[MX_MAX_GPU_VFS];
        unsigned n;
        /* 7920 - 15 x 256 = 4080 MiB could hold VF 0 at most: 4G cannot fit, 3G can */
        assert_int_equal(fb_resize(&l, 0, 4 * G, &out, moves, &n), -ENOSPC);
        assert_int_equal(fb_resize(&l, 0, 4080, &out, moves, &n), 0);
        check_result(&l, 0, 4080, &out, moves, n);
        assert_int_equal(fb_resize(&l, 0, 3 * G, &out, moves, &n), 0);
        check_result(&l, 0, 3 * G, &out, moves, n);
        assert_true(n > 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(fits_in_place),
                cmocka_unit_test(moves_to_a_free_gap_without_moving_others),
                cmocka_unit_test(moves_one_idle_vf),
                cmocka_unit_test(in_use_vf_blocks),
                cmocka_unit_test(cannot_fit),
                cmocka_unit_test(bad_arguments),
                cmocka_unit_test(minimal_moves_match_brute_force),
                cmocka_unit_test(sixteen_vfs_are_fast_enough_to_search),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
