/* check_stack: unit tests for core/stack (G stack mappings and the cache).
 *
 * Covers the contract in stack.h: gr_stack_map maps size + guard bytes,
 * each rounded up to whole pages, with the guard page(s) at base PROT_NONE
 * (checked in /proc/self/maps, and by a child that touches the guard and
 * must die of SIGSEGV) and the rest writable; gr_stack_nguarded counts
 * guarded mappings, and past GR_STACK_GUARDED_MAX new stacks get no guard
 * with one warning on stderr; a failed map returns a negative errno.
 * The cache returns the stack put for the same (size, guard), NULL for any
 * other, is LIFO, keeps s->owner, and refuses puts past c->max.
 * gr_stack_scavenge marks cached stacks scavenged, keeps the contents of
 * the top `keep` bytes (rounded up to pages) and zeroes the pages below.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/stack.h"

static size_t ps;	/* the page size; gr_pagesize is set to it in main */

/* Permissions ("rw-p", "---p", ...) of the mapping that contains addr, from
 * /proc/self/maps; false if addr is not mapped. */
static bool maps_perms(const void *addr, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	ck_assert_ptr_nonnull(f);
	char line[512];
	bool found = false;
	while (fgets(line, sizeof line, f)) {
		uintptr_t lo, hi;
		char p[5];
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) != 3)
			continue;
		if ((uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
			memcpy(perms, p, 5);
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

static bool is_mapped(void *addr)
{
	unsigned char vec;
	void *page = (void *)((uintptr_t)addr & ~(uintptr_t)(ps - 1));
	return mincore(page, ps, &vec) == 0;	/* ENOMEM when unmapped */
}

/* Run fn(arg) in a child process; returns its wait status. */
static int in_child(void (*fn)(char *), char *arg)
{
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		fn(arg);
		_exit(0);
	}
	int status;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static void touch(char *p)
{
	*(volatile char *)p = 1;
}

/* --- mapping ------------------------------------------------------------- */

START_TEST(test_stack_map_rounds_to_pages)
{
	struct gr_stack s;
	long before = atomic_load(&gr_stack_nguarded);
	ck_assert_int_eq(gr_stack_map(&s, 16 * ps + 1, 100), 0);
	ck_assert_uint_eq(s.guard, ps);
	ck_assert_uint_eq(s.size, 17 * ps + ps);
	ck_assert_uint_eq((uintptr_t)s.base % ps, 0);
	ck_assert(!s.scavenged);
	ck_assert_int_eq(atomic_load(&gr_stack_nguarded), before + 1);
	gr_stack_unmap(&s);
	ck_assert_int_eq(atomic_load(&gr_stack_nguarded), before);
}
END_TEST

START_TEST(test_stack_guard_is_prot_none)
{
	struct gr_stack s;
	char perms[5];
	ck_assert_int_eq(gr_stack_map(&s, 8 * ps, 2 * ps), 0);
	char *b = s.base;
	ck_assert(maps_perms(b, perms));
	ck_assert_msg(strncmp(perms, "---", 3) == 0, "guard page is %s", perms);
	ck_assert(maps_perms(b + 2 * ps - 1, perms));
	ck_assert_msg(strncmp(perms, "---", 3) == 0, "second guard page is %s", perms);
	ck_assert(maps_perms(b + 2 * ps, perms));
	ck_assert_msg(strncmp(perms, "rw", 2) == 0, "stack bottom is %s", perms);
	ck_assert(maps_perms(b + s.size - 1, perms));
	ck_assert_msg(strncmp(perms, "rw", 2) == 0, "stack top is %s", perms);
	gr_stack_unmap(&s);
}
END_TEST

START_TEST(test_stack_guard_faults)
{
	struct gr_stack s;
	ck_assert_int_eq(gr_stack_map(&s, 4 * ps, ps), 0);
	char *b = s.base;
	int st = in_child(touch, b + ps - 1);	/* top byte of the guard */
	ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
		      "touching the guard did not fault (status %#x)", st);
	st = in_child(touch, b + ps);		/* lowest stack byte */
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "touching the stack bottom failed (status %#x)", st);
	gr_stack_unmap(&s);
}
END_TEST

START_TEST(test_stack_rest_is_writable)
{
	struct gr_stack s;
	ck_assert_int_eq(gr_stack_map(&s, 32 * ps, ps), 0);
	char *lo = (char *)s.base + s.guard, *hi = (char *)s.base + s.size;
	memset(lo, 0x5a, (size_t)(hi - lo));
	for (char *p = lo; p < hi; p += 997)
		ck_assert_int_eq((unsigned char)*p, 0x5a);
	ck_assert_int_eq((unsigned char)hi[-1], 0x5a);
	gr_stack_unmap(&s);
}
END_TEST

START_TEST(test_stack_map_unguarded)
{
	struct gr_stack s;
	long before = atomic_load(&gr_stack_nguarded);
	ck_assert_int_eq(gr_stack_map(&s, 4 * ps, 0), 0);
	ck_assert_uint_eq(s.guard, 0);
	ck_assert_uint_eq(s.size, 4 * ps);
	ck_assert_int_eq(atomic_load(&gr_stack_nguarded), before);
	memset(s.base, 1, s.size);	/* all of it writable */
	gr_stack_unmap(&s);
	ck_assert_int_eq(atomic_load(&gr_stack_nguarded), before);
}
END_TEST

START_TEST(test_stack_unmap_releases)
{
	struct gr_stack s;
	ck_assert_int_eq(gr_stack_map(&s, 4 * ps, ps), 0);
	void *b = s.base;
	ck_assert(is_mapped(b));
	ck_assert(is_mapped((char *)b + s.size - 1));
	gr_stack_unmap(&s);
	ck_assert_ptr_null(s.base);
	ck_assert(!is_mapped(b));
	ck_assert(!is_mapped((char *)b + 4 * ps));
}
END_TEST

START_TEST(test_stack_map_failure_returns_errno)
{
	struct gr_stack s = { 0 };
	long before = atomic_load(&gr_stack_nguarded);
	int r = gr_stack_map(&s, (size_t)1 << 60, ps);	/* 1 EiB: more than the address space */
	ck_assert_msg(r == -ENOMEM || r == -EAGAIN, "map of 1 EiB returned %d", r);
	ck_assert_int_eq(atomic_load(&gr_stack_nguarded), before);
}
END_TEST

/* Past GR_STACK_GUARDED_MAX guarded stacks, new stacks have no guard and
 * libgrun says so once on stderr. */
START_TEST(test_stack_guard_budget_exhausted)
{
	struct gr_stack a, b;
	atomic_store(&gr_stack_nguarded, GR_STACK_GUARDED_MAX);

	FILE *log = tmpfile();
	ck_assert_ptr_nonnull(log);
	int saved = dup(2);
	dup2(fileno(log), 2);
	int ra = gr_stack_map(&a, 4 * ps, ps);
	int rb = gr_stack_map(&b, 4 * ps, ps);
	dup2(saved, 2);
	close(saved);

	ck_assert_int_eq(ra, 0);
	ck_assert_int_eq(rb, 0);
	ck_assert_uint_eq(a.guard, 0);
	ck_assert_uint_eq(b.guard, 0);
	ck_assert_int_eq(atomic_load(&gr_stack_nguarded), GR_STACK_GUARDED_MAX);
	memset(a.base, 1, a.size);	/* no PROT_NONE page left in it */

	char buf[1024] = { 0 };
	rewind(log);
	size_t n = fread(buf, 1, sizeof buf - 1, log);
	fclose(log);
	int lines = 0;
	for (size_t i = 0; i < n; i++)
		lines += buf[i] == '\n';
	ck_assert_msg(lines == 1, "expected one warning line, got %d: %s", lines, buf);
	ck_assert_msg(strstr(buf, "guard") != NULL, "warning does not mention the guard: %s", buf);

	gr_stack_unmap(&a);
	gr_stack_unmap(&b);
	ck_assert_int_eq(atomic_load(&gr_stack_nguarded), GR_STACK_GUARDED_MAX);
}
END_TEST

/* --- cache --------------------------------------------------------------- */

static struct gr_stackcache cache;

static void setup(void)
{
	memset(&cache, 0, sizeof cache);
}

START_TEST(test_stack_cache_get_empty_returns_null)
{
	ck_assert_ptr_null(gr_stackcache_get(&cache, 8 * ps, ps));
}
END_TEST

START_TEST(test_stack_cache_returns_same_stack)
{
	struct gr_stack s;
	int owner;
	ck_assert_int_eq(gr_stack_map(&s, 8 * ps + 10, 100), 0);
	s.owner = &owner;
	ck_assert(gr_stackcache_put(&cache, &s));
	/* Looked up with the same (size, guard) that was mapped, unrounded. */
	struct gr_stack *got = gr_stackcache_get(&cache, 8 * ps + 10, 100);
	ck_assert_ptr_eq(got, &s);
	ck_assert_ptr_eq(got->owner, &owner);
	ck_assert_ptr_null(gr_stackcache_get(&cache, 8 * ps + 10, 100));
	gr_stack_unmap(&s);
}
END_TEST

START_TEST(test_stack_cache_other_size_returns_null)
{
	struct gr_stack s;
	ck_assert_int_eq(gr_stack_map(&s, 8 * ps, ps), 0);
	ck_assert(gr_stackcache_put(&cache, &s));
	ck_assert_ptr_null(gr_stackcache_get(&cache, 16 * ps, ps));
	ck_assert_ptr_null(gr_stackcache_get(&cache, 4 * ps, ps));
	ck_assert_ptr_null(gr_stackcache_get(&cache, 9 * ps, 0));	/* same total, no guard */
	ck_assert_ptr_null(gr_stackcache_get(&cache, 7 * ps, 2 * ps));	/* same total, other guard */
	ck_assert_ptr_eq(gr_stackcache_get(&cache, 8 * ps, ps), &s);
	gr_stack_unmap(&s);
}
END_TEST

START_TEST(test_stack_cache_lifo)
{
	struct gr_stack s[3], small;
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(gr_stack_map(&s[i], 8 * ps, ps), 0);
		ck_assert(gr_stackcache_put(&cache, &s[i]));
	}
	ck_assert_int_eq(gr_stack_map(&small, 2 * ps, ps), 0);
	ck_assert(gr_stackcache_put(&cache, &small));	/* on top, other size */
	ck_assert_ptr_eq(gr_stackcache_get(&cache, 8 * ps, ps), &s[2]);
	ck_assert_ptr_eq(gr_stackcache_get(&cache, 8 * ps, ps), &s[1]);
	ck_assert(gr_stackcache_put(&cache, &s[2]));
	ck_assert_ptr_eq(gr_stackcache_get(&cache, 8 * ps, ps), &s[2]);
	ck_assert_ptr_eq(gr_stackcache_get(&cache, 8 * ps, ps), &s[0]);
	ck_assert_ptr_null(gr_stackcache_get(&cache, 8 * ps, ps));
	ck_assert_ptr_eq(gr_stackcache_get(&cache, 2 * ps, ps), &small);
	for (int i = 0; i < 3; i++)
		gr_stack_unmap(&s[i]);
	gr_stack_unmap(&small);
}
END_TEST

START_TEST(test_stack_cache_put_full_returns_false)
{
	struct gr_stack s[3];
	cache.max = 2;
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(gr_stack_map(&s[i], 4 * ps, ps), 0);
	ck_assert(gr_stackcache_put(&cache, &s[0]));
	ck_assert(gr_stackcache_put(&cache, &s[1]));
	ck_assert(!gr_stackcache_put(&cache, &s[2]));
	ck_assert_int_eq(cache.n, 2);
	ck_assert_ptr_eq(gr_stackcache_get(&cache, 4 * ps, ps), &s[1]);	/* s[2] not in it */
	ck_assert(gr_stackcache_put(&cache, &s[2]));
	ck_assert(!gr_stackcache_put(&cache, &s[1]));
	for (int i = 0; i < 3; i++)
		gr_stack_unmap(&s[i]);
}
END_TEST

/* When the guard budget is exhausted, gr_stack_map(size, guard) returns an
 * unguarded stack; put back, it must be found again by the same request
 * (stack.c: "an unguarded stack stands in for a guarded one"). */
START_TEST(test_stack_cache_unguarded_stands_in_when_exhausted)
{
	struct gr_stack s;
	atomic_store(&gr_stack_nguarded, GR_STACK_GUARDED_MAX);
	int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, 2);	/* the one-time warning */
	int r = gr_stack_map(&s, 8 * ps, ps);
	dup2(saved, 2);
	close(saved);
	close(devnull);
	ck_assert_int_eq(r, 0);
	ck_assert_uint_eq(s.guard, 0);
	ck_assert(gr_stackcache_put(&cache, &s));
	ck_assert_ptr_eq(gr_stackcache_get(&cache, 8 * ps, ps), &s);
	gr_stack_unmap(&s);
}
END_TEST

/* --- scavenge ------------------------------------------------------------ */

START_TEST(test_stack_scavenge_keeps_top)
{
	struct gr_stack s;
	ck_assert_int_eq(gr_stack_map(&s, 16 * ps, ps), 0);
	char *lo = (char *)s.base + s.guard, *hi = (char *)s.base + s.size;
	memset(lo, 0xab, (size_t)(hi - lo));
	ck_assert(gr_stackcache_put(&cache, &s));

	ck_assert_int_eq(gr_stack_scavenge(&cache, 2 * ps + 1), 1);	/* keeps 3 pages */
	ck_assert(s.scavenged);
	char *keep = hi - 3 * ps;
	for (char *p = keep; p < hi; p++)
		if ((unsigned char)*p != 0xab)
			ck_abort_msg("kept byte at top-%zu is %#x", (size_t)(hi - p),
				     (unsigned char)*p);
	for (char *p = lo; p < keep; p++)
		if (*p != 0)
			ck_abort_msg("scavenged byte at top-%zu is %#x", (size_t)(hi - p),
				     (unsigned char)*p);
	/* Still a stack: writable, and the guard is still a guard. */
	memset(lo, 1, (size_t)(keep - lo));
	char perms[5];
	ck_assert(maps_perms(s.base, perms));
	ck_assert_msg(strncmp(perms, "---", 3) == 0, "guard page is %s after scavenge", perms);
	ck_assert_ptr_eq(gr_stackcache_get(&cache, 16 * ps, ps), &s);
	gr_stack_unmap(&s);
}
END_TEST

START_TEST(test_stack_scavenge_skips_done_and_small)
{
	struct gr_stack big, small;
	ck_assert_int_eq(gr_stack_map(&big, 16 * ps, ps), 0);
	ck_assert_int_eq(gr_stack_map(&small, 2 * ps, ps), 0);
	char *slo = (char *)small.base + small.guard;
	memset(slo, 0xcd, 2 * ps);
	ck_assert(gr_stackcache_put(&cache, &big));
	ck_assert(gr_stackcache_put(&cache, &small));

	ck_assert_int_eq(gr_stack_scavenge(&cache, 4 * ps), 1);	/* only big */
	ck_assert(big.scavenged);
	ck_assert(!small.scavenged);
	for (size_t i = 0; i < 2 * ps; i++)
		if ((unsigned char)slo[i] != 0xcd)
			ck_abort_msg("small stack byte %zu changed to %#x", i, (unsigned char)slo[i]);
	ck_assert_int_eq(gr_stack_scavenge(&cache, 4 * ps), 0);	/* nothing left to do */

	gr_stack_unmap(&big);
	gr_stack_unmap(&small);
}
END_TEST

static Suite *stack_suite(void)
{
	Suite *s = suite_create("stack");
	TCase *tm = tcase_create("map");
	tcase_add_test(tm, test_stack_map_rounds_to_pages);
	tcase_add_test(tm, test_stack_guard_is_prot_none);
	tcase_add_test(tm, test_stack_guard_faults);
	tcase_add_test(tm, test_stack_rest_is_writable);
	tcase_add_test(tm, test_stack_map_unguarded);
	tcase_add_test(tm, test_stack_unmap_releases);
	tcase_add_test(tm, test_stack_map_failure_returns_errno);
	tcase_add_test(tm, test_stack_guard_budget_exhausted);
	suite_add_tcase(s, tm);

	TCase *tc = tcase_create("cache");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_stack_cache_get_empty_returns_null);
	tcase_add_test(tc, test_stack_cache_returns_same_stack);
	tcase_add_test(tc, test_stack_cache_other_size_returns_null);
	tcase_add_test(tc, test_stack_cache_lifo);
	tcase_add_test(tc, test_stack_cache_put_full_returns_false);
	tcase_add_test(tc, test_stack_cache_unguarded_stands_in_when_exhausted);
	tcase_add_test(tc, test_stack_scavenge_keeps_top);
	tcase_add_test(tc, test_stack_scavenge_skips_done_and_small);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* gr_pagesize defaults to 4096; the runtime sets it at start-up. */
	ps = (size_t)sysconf(_SC_PAGESIZE);
	gr_pagesize = ps;
	/* Fork mode stays on (Check's default): a gr_throw fails one case, and
	 * the cases that exhaust the guard budget do not leak into others. */
	SRunner *sr = srunner_create(stack_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
