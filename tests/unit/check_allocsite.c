/* check_allocsite: unit tests for core/allocsite.
 *
 * Linked without the preload, so the hooks are called directly (the heap
 * is not involved: any 8-aligned address can be recorded) and stacks come
 * from this program (libgrun's own-frame filter is off in a static link).
 * Sites: the same call path gives the same id, another path another id;
 * skip drops frames. Records: lookup after a sampled allocation, removal
 * by free, realloc's move, and many records through growth and
 * backward-shift deletion. Sampling: rate 1 samples everything (size 0
 * too), rate 0 nothing, 64 KiB over 64 MiB of 64-byte allocations about
 * 1024 times. Leak aggregation: the report's order (bytes, then site id),
 * its totals and unsampled line, and pprof's scaling formula. Fork: the
 * child's locks are usable.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/allocsite.h"
#include "core/proc.h"

/* traceback.c reads the scheduler's per-thread slots; this test runs
 * without the scheduler (its objects are not linked), as a plain thread.
 * gr_arch_gstart (switch.S) would pull the scheduler in: traceback.c only
 * compares addresses with it. */
__thread struct gr_g *gr_curg;
__thread struct gr_m *gr_curm;
struct gr_sched gr_sched;
void gr_arch_gstart(void);
void gr_arch_gstart(void)
{
}

/* --- helpers with distinct call sites -------------------------------------- */

static __attribute__((noinline)) uint32_t site_a(void)
{
	uint32_t id = gr_allocsite_capture(0);
	__asm__ volatile("" ::: "memory");	/* no tail call: keep this frame */
	return id;
}

static __attribute__((noinline)) uint32_t site_b(void)
{
	uint32_t id = gr_allocsite_capture(0);
	__asm__ volatile("" ::: "memory");
	return id;
}

static __attribute__((noinline)) uint32_t via_c(void)
{
	uint32_t id = site_a();
	__asm__ volatile("" ::: "memory");
	return id;
}

/* The hook as a shim calls it: ret is our caller's return address. */
static __attribute__((noinline)) void *alloc_at(void *p, size_t n)
{
	void *q = gr_allocsite_alloc(p, n, __builtin_return_address(0));
	__asm__ volatile("" ::: "memory");
	return q;
}

static __attribute__((noinline)) void *alloc_one(void *p, size_t n)
{
	void *q = alloc_at(p, n);
	__asm__ volatile("" ::: "memory");
	return q;
}

static __attribute__((noinline)) void *alloc_two(void *p, size_t n)
{
	void *q = alloc_at(p, n);
	__asm__ volatile("" ::: "memory");
	return q;
}

/* Aligned fake objects: records need an 8-aligned address only. */
static uint64_t arena[1 << 18];

/* Loop counts the compiler cannot see: an unrolled loop would make each
 * iteration a call site of its own, hence a stack of its own. */
static volatile int two = 2, three = 3;

/* --- sites ---------------------------------------------------------------- */

START_TEST(test_allocsite_same_path_same_site)
{
	gr_allocsite_init(1);
	uint32_t a[3];
	for (int i = 0; i < three; i++)
		a[i] = site_a();
	uint32_t b = site_b();
	uint32_t c = via_c();
	ck_assert_uint_ne(a[0], 0);
	ck_assert_uint_eq(a[0], a[1]);
	ck_assert_uint_eq(a[0], a[2]);
	ck_assert_uint_ne(b, 0);
	ck_assert_uint_ne(a[0], b);
	ck_assert_uint_ne(c, 0);
	ck_assert_uint_ne(c, a[0]);	/* same function, another caller */
	ck_assert_uint_eq(gr_allocsite_nsites(), 3);
	/* Frame #0 is the call inside site_a (a return address just past it). */
	const uintptr_t *pcs;
	int n = gr_allocsite_frames(a[0], &pcs);
	ck_assert_int_ge(n, 2);
	ck_assert_uint_gt(pcs[0], (uintptr_t)site_a);
	ck_assert_uint_lt(pcs[0], (uintptr_t)site_a + 64);
	ck_assert_int_eq(gr_allocsite_frames(0, &pcs), 0);
	ck_assert_int_eq(gr_allocsite_frames(1000, &pcs), 0);
}
END_TEST

static __attribute__((noinline)) void two_captures(uint32_t *id0, uint32_t *id1)
{
	*id0 = gr_allocsite_capture(0);
	*id1 = gr_allocsite_capture(1);
	__asm__ volatile("" ::: "memory");
}

START_TEST(test_allocsite_skip_drops_frames)
{
	gr_allocsite_init(1);
	uint32_t id0, id1;
	two_captures(&id0, &id1);
	const uintptr_t *p0, *p1;
	int n0 = gr_allocsite_frames(id0, &p0), n1 = gr_allocsite_frames(id1, &p1);
	ck_assert_int_ge(n0, 2);
	ck_assert_int_eq(n1, n0 - 1);
	for (int i = 0; i < n1; i++)
		ck_assert_uint_eq(p1[i], p0[i + 1]);
}
END_TEST

/* --- object records ---------------------------------------------------------- */

START_TEST(test_allocsite_record_lookup_remove)
{
	gr_allocsite_init(1);
	void *p = &arena[10], *q = &arena[20], *r = &arena[30];
	void *pr[2] = { p, r };
	ck_assert_uint_eq(gr_allocsite_of((uintptr_t)p), 0);
	for (int i = 0; i < two; i++)	/* p and r: one call path */
		ck_assert_ptr_eq(alloc_one(pr[i], 64), pr[i]);
	ck_assert_ptr_eq(alloc_two(q, 64), q);
	uint32_t sp = gr_allocsite_of((uintptr_t)p), sq = gr_allocsite_of((uintptr_t)q);
	ck_assert_uint_ne(sp, 0);
	ck_assert_uint_ne(sq, 0);
	ck_assert_uint_ne(sp, sq);
	/* Frame #0 of p's site is the call of alloc_at in alloc_one. */
	const uintptr_t *pcs;
	ck_assert_int_ge(gr_allocsite_frames(sp, &pcs), 1);
	ck_assert_uint_gt(pcs[0], (uintptr_t)alloc_one);
	ck_assert_uint_lt(pcs[0], (uintptr_t)alloc_one + 64);
	ck_assert_uint_eq(gr_allocsite_of((uintptr_t)r), sp);
	gr_allocsite_free(p);
	ck_assert_uint_eq(gr_allocsite_of((uintptr_t)p), 0);
	ck_assert_uint_eq(gr_allocsite_of((uintptr_t)q), sq);
	ck_assert_uint_eq(gr_allocsite_of((uintptr_t)r), sp);
	gr_allocsite_free(q);
	gr_allocsite_free(r);
	gr_allocsite_free(NULL);
	ck_assert_uint_eq(gr_allocsite_of((uintptr_t)q), 0);
	ck_assert_uint_eq(gr_allocsite_of((uintptr_t)r), 0);
	/* Every filter bit is clear again. */
	for (size_t i = 0; i < sizeof gr_allocsite_filter / sizeof gr_allocsite_filter[0]; i++)
		ck_assert_uint_eq(atomic_load(&gr_allocsite_filter[i]), 0);
}
END_TEST

START_TEST(test_allocsite_realloc_moves_record)
{
	gr_allocsite_init(1);
	void *p = &arena[100], *q = &arena[200], *u = &arena[300], *v = &arena[400];
	alloc_one(p, 100);
	uint32_t sp = gr_allocsite_of((uintptr_t)p);
	alloc_two(q, 200);	/* realloc's new block got a sample of its own */
	ck_assert_uint_ne(gr_allocsite_of((uintptr_t)q), sp);
	gr_allocsite_move(p, q, false);
	ck_assert_uint_eq(gr_allocsite_of((uintptr_t)p), 0);
	ck_assert_uint_eq(gr_allocsite_of((uintptr_t)q), sp);
	/* Quarantine: the old block keeps its record too. */
	void *w = &arena[500];
	gr_allocsite_move(q, w, true);
	ck_assert_uint_eq(gr_allocsite_of((uintptr_t)q), sp);
	ck_assert_uint_eq(gr_allocsite_of((uintptr_t)w), sp);
	gr_allocsite_free(w);
	/* An unsampled old block leaves the new block's record alone. */
	alloc_two(v, 8);
	uint32_t sv = gr_allocsite_of((uintptr_t)v);
	gr_allocsite_move(u, v, false);
	ck_assert_uint_eq(gr_allocsite_of((uintptr_t)v), sv);
	gr_allocsite_free(q);
	gr_allocsite_free(v);
	ck_assert_uint_eq(gr_allocsite_of((uintptr_t)q), 0);
}
END_TEST

START_TEST(test_allocsite_many_records_grow_and_delete)
{
	gr_allocsite_init(1);
	enum { N = 100000 };
	for (int i = 0; i < N; i++)
		alloc_one(&arena[2 * i], 16);
	uint32_t s = gr_allocsite_of((uintptr_t)&arena[0]);
	ck_assert_uint_ne(s, 0);
	ck_assert_uint_eq(gr_allocsite_nsites(), 1);
	for (int i = 0; i < N; i++)
		ck_assert_uint_eq(gr_allocsite_of((uintptr_t)&arena[2 * i]), s);
	ck_assert_uint_eq(gr_allocsite_of((uintptr_t)&arena[1]), 0);
	for (int i = 0; i < N; i += 2)
		gr_allocsite_free(&arena[2 * i]);
	for (int i = 0; i < N; i++)
		ck_assert_uint_eq(gr_allocsite_of((uintptr_t)&arena[2 * i]), i % 2 ? s : 0);
	for (int i = 1; i < N; i += 2)
		gr_allocsite_free(&arena[2 * i]);
	for (int i = 0; i < N; i++)
		ck_assert_uint_eq(gr_allocsite_of((uintptr_t)&arena[2 * i]), 0);
	for (size_t i = 0; i < sizeof gr_allocsite_filter / sizeof gr_allocsite_filter[0]; i++)
		ck_assert_uint_eq(atomic_load(&gr_allocsite_filter[i]), 0);
}
END_TEST

/* --- sampling ---------------------------------------------------------------- */

START_TEST(test_allocsite_rate_one_samples_everything)
{
	gr_allocsite_init(1);
	ck_assert_uint_eq(gr_allocsite_rate(), 1);
	uint64_t before = gr_allocsite_nsamples();
	for (int i = 0; i < 1000; i++) {
		alloc_one(&arena[8], (size_t)(i % 3 == 0 ? 0 : i));	/* size 0 is sampled too */
		gr_allocsite_free(&arena[8]);
	}
	ck_assert_uint_eq(gr_allocsite_nsamples() - before, 1000);
	ck_assert_uint_eq(gr_allocsite_nsites(), 1);
}
END_TEST

START_TEST(test_allocsite_rate_zero_samples_nothing)
{
	gr_allocsite_init(0);
	ck_assert_uint_eq(gr_allocsite_rate(), 0);
	for (int i = 0; i < 100000; i++)
		alloc_one(&arena[8], 1000);
	ck_assert_uint_eq(gr_allocsite_nsamples(), 0);
	ck_assert_uint_eq(gr_allocsite_of((uintptr_t)&arena[8]), 0);
}
END_TEST

START_TEST(test_allocsite_rate_64k_statistics)
{
	/* 64 MiB in 64-byte allocations at a mean of 64 KiB between samples:
	 * 1M allocations, each sampled with probability 1 - exp(-64/65536):
	 * 1023.5 expected, standard deviation 32. */
	gr_allocsite_init(64 << 10);
	ck_assert_uint_eq(gr_allocsite_rate(), 64 << 10);
	for (int i = 0; i < (1 << 20); i++)
		alloc_one(&arena[8], 64);
	uint64_t n = gr_allocsite_nsamples();
	ck_assert_uint_ge(n, 850);
	ck_assert_uint_le(n, 1200);
	/* 4 KiB allocations at 1 MiB: 64 MiB -> about 64 samples. */
	gr_allocsite_init(1 << 20);
	uint64_t before = gr_allocsite_nsamples();
	for (int i = 0; i < (1 << 14); i++)
		alloc_one(&arena[8], 4096);
	n = gr_allocsite_nsamples() - before;
	ck_assert_uint_ge(n, 35);
	ck_assert_uint_le(n, 100);
	gr_allocsite_free(&arena[8]);
}
END_TEST

/* --- leak aggregation ------------------------------------------------------------ */

static char *report(uint64_t objects, uint64_t bytes)
{
	FILE *f = tmpfile();
	ck_assert_ptr_nonnull(f);
	gr_leakagg_report(fileno(f), objects, bytes);
	long len = lseek(fileno(f), 0, SEEK_END);
	char *s = calloc(1, (size_t)len + 1);
	ck_assert_int_eq(pread(fileno(f), s, (size_t)len, 0), len);
	fclose(f);
	return s;
}

START_TEST(test_allocsite_leak_report_order)
{
	gr_allocsite_init(1);
	uint32_t a = site_a(), b = site_b(), c = via_c();
	ck_assert_uint_lt(a, b);
	ck_assert_uint_lt(b, c);
	gr_leakagg_reset();
	/* c: 300 bytes, a: 300 bytes (a tie: lower id first), b: 1000. */
	gr_leakagg_add(c, 100);
	gr_leakagg_add(a, 100);
	gr_leakagg_add(c, 200);
	gr_leakagg_add(b, 1000);
	gr_leakagg_add(a, 200);
	gr_leakagg_add(0, 64);
	gr_leakagg_add(0, 64);
	char *s = report(7, 1728);
	ck_assert_ptr_nonnull(strstr(s, "leak report: 7 objects, 1728 bytes leaked; 3 allocation sites"));
	char *pb = strstr(s, "1000 bytes in 1 objects allocated at:\n\t#0 0x");
	char *pa = strstr(s, "300 bytes in 2 objects allocated at:\n\t#0 0x");
	ck_assert_ptr_nonnull(pb);
	ck_assert_ptr_nonnull(pa);
	char *pc = strstr(pa + 1, "300 bytes in 2 objects allocated at:\n\t#0 0x");
	char *pu = strstr(s, "128 bytes in 2 objects at unsampled sites\n");
	ck_assert_ptr_nonnull(pc);
	ck_assert_ptr_nonnull(pu);
	ck_assert(pb < pa && pa < pc && pc < pu);
	ck_assert_ptr_null(strstr(s, "estimated"));
	/* The tie is broken by site id: a's block names site_a's caller
	 * (this test), c's names via_c: their second frames differ. */
	const uintptr_t *fa, *fc;
	ck_assert_int_ge(gr_allocsite_frames(a, &fa), 2);
	ck_assert_int_ge(gr_allocsite_frames(c, &fc), 2);
	char wa[64], wc[64];
	snprintf(wa, sizeof wa, "#1 %p ", (void *)fa[1]);
	snprintf(wc, sizeof wc, "#1 %p ", (void *)fc[1]);
	char *xa = strstr(s, wa), *xc = strstr(s, wc);
	ck_assert_ptr_nonnull(xa);
	ck_assert_ptr_nonnull(xc);
	ck_assert(pa < xa && xa < pc && pc < xc && xc < pu);
	free(s);
	/* A reset forgets everything. */
	gr_leakagg_reset();
	s = report(0, 0);
	ck_assert_ptr_nonnull(strstr(s, "0 allocation sites"));
	ck_assert_ptr_null(strstr(s, "allocated at"));
	free(s);
}
END_TEST

START_TEST(test_allocsite_leak_report_estimates)
{
	gr_allocsite_init(512 << 10);
	uint32_t a = site_a();
	ck_assert_uint_ne(a, 0);
	gr_leakagg_reset();
	gr_leakagg_add(a, 100);
	gr_leakagg_add(0, 100);
	char *s = report(2, 200);
	/* 1 / (1 - exp(-100 / 524288)) = 5243.38 */
	ck_assert_ptr_nonnull(strstr(s, "(sampled every 524288 bytes on average"));
	ck_assert_ptr_nonnull(strstr(s, "524338 bytes in 5243 objects allocated at: "
					"(estimated from 1 samples, rate 524288 bytes)\n\t#0 0x"));
	ck_assert_ptr_nonnull(strstr(s, "100 bytes in 1 objects at unsampled sites"));
	free(s);
}
END_TEST

static void check_scale(uint64_t c, uint64_t b, uint64_t r, uint64_t wc, uint64_t wb)
{
	uint64_t ec, eb;
	gr_allocsite_scale(c, b, r, &ec, &eb);
	ck_assert_uint_le(ec > wc ? ec - wc : wc - ec, 1);
	ck_assert_uint_le(eb > wb ? eb - wb : wb - eb, 1);
}

START_TEST(test_allocsite_scale_formula)
{
	/* count / (1 - exp(-(bytes / count) / rate)), as pprof's
	 * scaleHeapSample; expected values from Python's math.exp. */
	check_scale(10, 640, 65536, 10245, 655680);
	check_scale(3, 3 * 4096, 1 << 20, 769, 3151876);
	check_scale(1, 100, 512 << 10, 5243, 524338);
	check_scale(7, 7000000, 512 << 10, 8, 8220531);
	check_scale(5, 500, 1, 5, 500);		/* exact */
	check_scale(5, 500, 0, 5, 500);
	check_scale(0, 0, 512 << 10, 0, 0);
}
END_TEST

/* --- fork -------------------------------------------------------------------------- */

/* Twice the same call path: the second finds the first's site. */
static __attribute__((noinline)) bool same_twice(void)
{
	uint32_t id[2];
	for (int i = 0; i < two; i++)
		id[i] = site_a();
	return id[0] != 0 && id[0] == id[1];
}

START_TEST(test_allocsite_fork_child_locks_usable)
{
	gr_allocsite_init(1);
	uint32_t a = site_a();
	gr_allocsite_fork_prepare();
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		gr_allocsite_fork_child();
		uint32_t b = site_b();
		alloc_one(&arena[50], 10);
		bool rec = gr_allocsite_of((uintptr_t)&arena[50]) != 0;
		gr_allocsite_free(&arena[50]);
		_exit(b != 0 && b != a && rec && same_twice() ? 0 : 1);
	}
	gr_allocsite_fork_parent();
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_uint_ne(site_b(), 0);	/* the parent's locks were released */
}
END_TEST

static Suite *allocsite_suite(void)
{
	Suite *s = suite_create("allocsite");
	TCase *tc = tcase_create("sites");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_allocsite_same_path_same_site);
	tcase_add_test(tc, test_allocsite_skip_drops_frames);
	suite_add_tcase(s, tc);
	TCase *tr = tcase_create("records");
	tcase_set_timeout(tr, 60);
	tcase_add_test(tr, test_allocsite_record_lookup_remove);
	tcase_add_test(tr, test_allocsite_realloc_moves_record);
	tcase_add_test(tr, test_allocsite_many_records_grow_and_delete);
	suite_add_tcase(s, tr);
	TCase *ts = tcase_create("sampling");
	tcase_set_timeout(ts, 60);
	tcase_add_test(ts, test_allocsite_rate_one_samples_everything);
	tcase_add_test(ts, test_allocsite_rate_zero_samples_nothing);
	tcase_add_test(ts, test_allocsite_rate_64k_statistics);
	suite_add_tcase(s, ts);
	TCase *tl = tcase_create("leaks");
	tcase_set_timeout(tl, 60);
	tcase_add_test(tl, test_allocsite_leak_report_order);
	tcase_add_test(tl, test_allocsite_leak_report_estimates);
	tcase_add_test(tl, test_allocsite_scale_formula);
	suite_add_tcase(s, tl);
	TCase *tf = tcase_create("fork");
	tcase_set_timeout(tf, 60);
	tcase_add_test(tf, test_allocsite_fork_child_locks_usable);
	suite_add_tcase(s, tf);
	return s;
}

int main(void)
{
	/* Fork mode stays on (Check's default): each case starts with empty
	 * tables, and a gr_throw fails one case. */
	SRunner *sr = srunner_create(allocsite_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
