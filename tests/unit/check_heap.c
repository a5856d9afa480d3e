/* check_heap: unit tests for core/heap_sizeclass and core/heap.
 *
 * The size-class table's promises (heap_sizeclass.h): classes increase,
 * every class over 8 bytes is a multiple of 16, internal waste above 128
 * bytes is at most 1/8, each span wastes at most 1/16 in its tail, nelems
 * matches, the lookup returns the smallest class that fits, and divmul
 * divides exactly for every offset of every span. The heap (linked here
 * without the preload, so from a plain thread: the main cache): the page
 * map finds the span and object base of every interior address of small
 * and large objects, freed objects are no longer bases, aligned
 * allocations are aligned, calloc returns zero after dirty reuse, and
 * trim returns pages.
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/heap.h"

/* The heap reads the scheduler's per-thread slots; this test runs without
 * the scheduler (its objects are not linked), as a plain thread would. */
__thread struct gr_g *gr_curg;
__thread struct gr_m *gr_curm;
struct gr_sched gr_sched;

START_TEST(test_heap_sizeclass_table)
{
	gr_sizeclass_init();
	for (unsigned k = 1; k < GR_NCLASSES; k++) {
		const struct gr_sizeclass *c = &gr_class[k];
		size_t span = (size_t)c->npages * GR_PAGESIZE;
		ck_assert_uint_gt(c->size, gr_class[k - 1].size);
		if (c->size > 8)
			ck_assert_uint_eq(c->size % 16, 0);
		ck_assert_uint_eq(c->nelems, span / c->size);
		ck_assert_uint_le((span - (size_t)c->nelems * c->size) * 16, span);
		if (gr_class[k - 1].size >= 128)
			ck_assert_uint_le((c->size - gr_class[k - 1].size - 1) * 8, c->size);
		ck_assert_uint_ge(c->batch, 2);
	}
	ck_assert_uint_eq(gr_class[GR_NCLASSES - 1].size, GR_MAXSMALL);
}
END_TEST

START_TEST(test_heap_sizeclass_lookup_smallest_fit)
{
	gr_sizeclass_init();
	for (size_t n = 0; n <= GR_MAXSMALL; n++) {
		unsigned k = gr_size_to_class(n);
		ck_assert_uint_ge(gr_class[k].size, n);
		ck_assert(k == 1 || gr_class[k - 1].size < n);
	}
}
END_TEST

START_TEST(test_heap_sizeclass_divmul_exact)
{
	gr_sizeclass_init();
	for (unsigned k = 1; k < GR_NCLASSES; k++) {
		const struct gr_sizeclass *c = &gr_class[k];
		uint64_t span = (uint64_t)c->npages * GR_PAGESIZE;
		for (uint64_t off = 0; off < span; off++)
			ck_assert_uint_eq((off * c->divmul) >> 32, off / c->size);
	}
}
END_TEST

START_TEST(test_heap_spanof_interior_pointers)
{
	size_t sizes[] = { 1, 8, 16, 17, 100, 1000, 4096, 5000, 32768, 40000, 300000, 5u << 20 };
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		char *p[5];
		for (int j = 0; j < 5; j++)
			p[j] = gr_heap_alloc(sizes[i]);
		for (int j = 0; j < 5; j++) {
			size_t u = gr_heap_usable(p[j]);
			ck_assert_uint_ge(u, sizes[i]);
			struct gr_span *s = gr_heap_spanof(p[j]);
			ck_assert_ptr_nonnull(s);
			ck_assert(s->state == SPAN_SMALL || s->state == SPAN_LARGE);
			size_t step = u > 4096 ? 61 : 1;
			for (size_t off = 0; off < u; off += step) {
				ck_assert_ptr_eq(gr_heap_spanof(p[j] + off), s);
				ck_assert_ptr_eq(gr_heap_base(p[j] + off), p[j]);
			}
		}
		for (int j = 0; j < 5; j++)
			gr_heap_free(p[j]);
	}
	int on_stack;
	ck_assert_ptr_null(gr_heap_base(&on_stack));
	ck_assert(!gr_heap_owns(&on_stack));
}
END_TEST

START_TEST(test_heap_freed_object_is_not_a_base)
{
	char *big = gr_heap_alloc(100000);
	ck_assert_ptr_eq(gr_heap_base(big + 5000), big);
	gr_heap_free(big);
	ck_assert_ptr_null(gr_heap_base(big + 5000));
	/* A small object: flushed to its span by trim, its bit is clear. */
	char *p = gr_heap_alloc(48);
	ck_assert_ptr_eq(gr_heap_base(p + 47), p);
	gr_heap_free(p);
	gr_heap_trim();
	ck_assert_ptr_null(gr_heap_base(p + 1));
}
END_TEST

START_TEST(test_heap_aligned_allocations)
{
	for (size_t a = 16; a <= (1u << 20); a <<= 1) {
		for (size_t n = 1; n < 3 * a; n = n * 2 + 7) {
			void *p = gr_heap_alloc_aligned(n, a);
			ck_assert_ptr_nonnull(p);
			ck_assert_uint_eq((uintptr_t)p & (a - 1), 0);
			ck_assert_uint_ge(gr_heap_usable(p), n);
			memset(p, 1, gr_heap_usable(p));
			gr_heap_free(p);
		}
	}
}
END_TEST

START_TEST(test_heap_calloc_zero_after_reuse)
{
	size_t sizes[] = { 8, 100, 3000, 20000, 70000, 2u << 20 };
	for (int r = 0; r < 3; r++) {
		for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
			unsigned char *p = gr_heap_alloc(sizes[i]);
			memset(p, 0xff, gr_heap_usable(p));
			gr_heap_free(p);
			p = gr_heap_calloc(sizes[i]);
			for (size_t k = 0; k < gr_heap_usable(p); k++)
				ck_assert_uint_eq(p[k], 0);
			gr_heap_free(p);
		}
	}
}
END_TEST

START_TEST(test_heap_trim_releases_pages)
{
	void *p[100];
	for (int i = 0; i < 100; i++) {
		p[i] = gr_heap_alloc(1 << 20);
		memset(p[i], 1, 1 << 20);
	}
	for (int i = 0; i < 100; i++)
		gr_heap_free(p[i]);
	ck_assert(gr_heap_trim());
	struct gr_heap_stats st;
	gr_heap_read_stats(&st);
	ck_assert_uint_ge(st.released_bytes, 100u << 20);
	ck_assert_uint_lt(st.free_bytes, 1u << 20);
}
END_TEST

START_TEST(test_heap_large_grows_in_place)
{
	char *p = gr_heap_alloc(100000);
	memset(p, 3, 100000);
	bool grew = gr_heap_resize_inplace(p, 1u << 20);
	if (grew) {
		ck_assert_uint_ge(gr_heap_usable(p), 1u << 20);
		ck_assert_ptr_eq(gr_heap_base(p + 1000000), p);
		memset(p, 4, 1u << 20);
	}
	gr_heap_free(p);
}
END_TEST

static Suite *heap_suite(void)
{
	Suite *s = suite_create("heap");
	TCase *tc = tcase_create("sizeclass");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_heap_sizeclass_table);
	tcase_add_test(tc, test_heap_sizeclass_lookup_smallest_fit);
	tcase_add_test(tc, test_heap_sizeclass_divmul_exact);
	suite_add_tcase(s, tc);
	TCase *th = tcase_create("heap");
	tcase_set_timeout(th, 60);
	tcase_add_test(th, test_heap_spanof_interior_pointers);
	tcase_add_test(th, test_heap_freed_object_is_not_a_base);
	tcase_add_test(th, test_heap_aligned_allocations);
	tcase_add_test(th, test_heap_calloc_zero_after_reuse);
	tcase_add_test(th, test_heap_trim_releases_pages);
	tcase_add_test(th, test_heap_large_grows_in_place);
	suite_add_tcase(s, th);
	return s;
}

int main(void)
{
	/* Fork mode stays on (Check's default): a gr_throw fails one case. */
	SRunner *sr = srunner_create(heap_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
