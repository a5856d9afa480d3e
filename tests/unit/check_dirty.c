/* check_dirty: unit tests for core/dirty (userfaultfd WP_ASYNC + PAGEMAP_SCAN).
 *
 * Covers the contract in dirty.h on a 64 MiB MAP_NORESERVE region: a
 * registered, never protected range reads as all written; after protect a
 * scan returns exactly the maximal runs of pages written since (populated
 * or not, across a 2 MiB boundary, first and last page), reads stay clean,
 * a scan without reprotect changes nothing, one with reprotect leaves only
 * later writes for the next scan; more runs than one ioctl's vector holds
 * come back whole; read(2) from a pipe into protected pages is reported;
 * MADV_DONTNEED'd pages read as written until the next protect; a
 * MAP_SHARED anonymous region is tracked for our own writes (not for a
 * child's, through its own mapping); two writer threads racing one or two
 * scanning threads lose no page; mapped-unregistered ranges fail with
 * EPERM, bad ranges with EINVAL, nothing crashes; calls before init fail
 * with ENODEV; after fork, gr_dirty_fork_child lets the child init again
 * while the parent's tracking is untouched.
 *
 * Each case runs in its own process (Check's fork mode) and initializes
 * the module there: descriptors inherited from the runner would act on the
 * runner's memory. main() tries init once to decide whether to run at
 * all, then undoes it with gr_dirty_fork_child. A kernel older than 6.7,
 * or a sandbox that forbids userfaultfd, skips every case with the reason
 * on stderr; on 6.7+ any other init failure is a test failure.
 */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/dirty.h"

#define PG GR_DIRTY_PAGE
#define REGION (64UL << 20)
#define NPAGES ((long)(REGION / PG))

/* What one scan reported. */
#define MAXRUNS 20000
struct runs {
	int n;
	uintptr_t lo[MAXRUNS], hi[MAXRUNS];
};
static struct runs got;

static void collect(uintptr_t lo, uintptr_t hi, void *arg)
{
	struct runs *r = arg;
	ck_assert_msg(r->n < MAXRUNS, "more than %d runs", MAXRUNS);
	ck_assert_msg(lo < hi && (lo | hi) % PG == 0, "bad run [%#lx, %#lx)", (unsigned long)lo,
		      (unsigned long)hi);
	/* Maximal and in address order: never adjacent to or before the last. */
	if (r->n > 0)
		ck_assert_msg(lo > r->hi[r->n - 1], "run at %#lx follows one ending at %#lx",
			      (unsigned long)lo, (unsigned long)r->hi[r->n - 1]);
	r->lo[r->n] = lo;
	r->hi[r->n] = hi;
	r->n++;
}

static long scan(char *base, size_t len, bool reprotect)
{
	got.n = 0;
	return gr_dirty_scan((uintptr_t)base, len, reprotect, collect, &got);
}

/* Expect exactly these runs, as page index pairs [lo, hi) from base. */
static void expect_runs(char *base, long npages, const long (*want)[2], int nwant)
{
	long total = 0;
	for (int i = 0; i < nwant; i++)
		total += want[i][1] - want[i][0];
	ck_assert_msg(npages == total, "scan returned %ld pages, want %ld", npages, total);
	ck_assert_msg(got.n == nwant, "scan returned %d runs, want %d (first [%ld,%ld))", got.n,
		      nwant, got.n ? (long)((got.lo[0] - (uintptr_t)base) / PG) : -1L,
		      got.n ? (long)((got.hi[0] - (uintptr_t)base) / PG) : -1L);
	for (int i = 0; i < nwant; i++) {
		long lo = (long)((got.lo[i] - (uintptr_t)base) / PG);
		long hi = (long)((got.hi[i] - (uintptr_t)base) / PG);
		ck_assert_msg(lo == want[i][0] && hi == want[i][1], "run %d is [%ld,%ld), want [%ld,%ld)",
			      i, lo, hi, want[i][0], want[i][1]);
	}
}

static void expect_clean(char *base, size_t len)
{
	long n = scan(base, len, false);
	ck_assert_msg(n == 0 && got.n == 0, "scan of a clean range returned %ld pages", n);
}

static char *map_region(size_t len, int flags)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert(p != MAP_FAILED);
	madvise(p, len, MADV_NOHUGEPAGE);	/* as the heap's arenas; THP is madvise-only here */
	return p;
}

static char *tracked_region(void)
{
	char *p = map_region(REGION, MAP_PRIVATE);
	ck_assert_int_eq(gr_dirty_register((uintptr_t)p, REGION), 0);
	return p;
}

static void touch(char *base, long page)
{
	((volatile char *)base)[page * PG + 17] = 1;
}

static void setup(void)
{
	ck_assert_msg(gr_dirty_init(), "gr_dirty_init: %s", gr_dirty_reason());
}

START_TEST(test_dirty_init_is_idempotent)
{
	ck_assert(gr_dirty_init());
	ck_assert(gr_dirty_init());
	ck_assert_str_eq(gr_dirty_reason(), "ok");
}
END_TEST

START_TEST(test_dirty_registered_unprotected_reads_all_written)
{
	char *p = map_region(REGION, MAP_PRIVATE);
	for (long i = 100; i < 200; i++)	/* some populated, most not */
		touch(p, i);
	ck_assert_int_eq(gr_dirty_register((uintptr_t)p, REGION), 0);
	static const long all[][2] = { { 0, NPAGES } };
	expect_runs(p, scan(p, REGION, false), all, 1);
	ck_assert_int_eq(gr_dirty_protect((uintptr_t)p, REGION), 0);
	expect_clean(p, REGION);
}
END_TEST

START_TEST(test_dirty_scan_reports_exact_runs)
{
	char *p = map_region(REGION, MAP_PRIVATE);
	for (long i = 2000; i < 2100; i++)	/* populated before protect */
		touch(p, i);
	ck_assert_int_eq(gr_dirty_register((uintptr_t)p, REGION), 0);
	ck_assert_int_eq(gr_dirty_protect((uintptr_t)p, REGION), 0);
	expect_clean(p, REGION);

	static const long want[][2] = {
		{ 0, 4 },		/* first page, never populated */
		{ 511, 513 },		/* across a 2 MiB (page table) boundary */
		{ 1000, 1001 },
		{ 2050, 2051 },		/* populated before protect */
		{ 5000, 5100 },
		{ 8192, 8193 },		/* page table never allocated before */
		{ NPAGES - 1, NPAGES },	/* last page */
	};
	enum { NW = sizeof want / sizeof want[0] };
	for (int i = 0; i < NW; i++)
		for (long pg = want[i][0]; pg < want[i][1]; pg++)
			touch(p, pg);
	expect_runs(p, scan(p, REGION, false), want, NW);
	/* Without reprotect nothing changes. */
	expect_runs(p, scan(p, REGION, false), want, NW);
	expect_runs(p, scan(p, REGION, true), want, NW);
	expect_clean(p, REGION);
	/* A sub-range sees only its part, with the runs clipped. */
	touch(p, 511), touch(p, 512), touch(p, 1000), touch(p, 1001);
	static const long part[][2] = { { 512, 513 }, { 1000, 1001 } };
	expect_runs(p, scan(p + 512 * PG, 489 * PG, true), part, 2);
	static const long rest[][2] = { { 511, 512 }, { 1001, 1002 } };
	expect_runs(p, scan(p, REGION, true), rest, 2);
}
END_TEST

START_TEST(test_dirty_reads_stay_clean)
{
	char *p = map_region(REGION, MAP_PRIVATE);
	touch(p, 7);
	ck_assert_int_eq(gr_dirty_register((uintptr_t)p, REGION), 0);
	ck_assert_int_eq(gr_dirty_protect((uintptr_t)p, REGION), 0);
	volatile char sum = 0;
	for (long i = 0; i < NPAGES; i += 97)	/* mostly never populated: the zero page */
		sum += p[i * PG];
	sum += p[7 * PG];
	(void)sum;
	expect_clean(p, REGION);
	/* A write after a read (zero page -> real page) is seen. */
	touch(p, 97);
	static const long want[][2] = { { 97, 98 } };
	expect_runs(p, scan(p, REGION, true), want, 1);
}
END_TEST

START_TEST(test_dirty_reprotect_leaves_only_new_writes)
{
	char *p = tracked_region();
	ck_assert_int_eq(gr_dirty_protect((uintptr_t)p, REGION), 0);
	for (long i = 10; i < 20; i++)
		touch(p, i);
	static const long first[][2] = { { 10, 20 } };
	expect_runs(p, scan(p, REGION, true), first, 1);
	touch(p, 15);		/* again: re-dirtied after reprotect */
	touch(p, 30);
	touch(p, 31);
	static const long second[][2] = { { 15, 16 }, { 30, 32 } };
	expect_runs(p, scan(p, REGION, true), second, 2);
	expect_clean(p, REGION);
}
END_TEST

/* More runs than one ioctl's vector (128) holds: the walk continues from
 * walk_end and every run comes back once. */
START_TEST(test_dirty_many_runs_span_ioctls)
{
	char *p = tracked_region();
	ck_assert_int_eq(gr_dirty_protect((uintptr_t)p, REGION), 0);
	static long want[1000][2];
	for (int i = 0; i < 1000; i++) {
		want[i][0] = 3 * i + 1;
		want[i][1] = 3 * i + (i % 2 ? 3 : 2);	/* alternately 1 and 2 pages */
		for (long pg = want[i][0]; pg < want[i][1]; pg++)
			touch(p, pg);
	}
	expect_runs(p, scan(p, REGION, true), (const long (*)[2])want, 1000);
	expect_clean(p, REGION);
	/* Every page written: one run. */
	for (long i = 0; i < NPAGES; i++)
		touch(p, i);
	static const long all[][2] = { { 0, NPAGES } };
	expect_runs(p, scan(p, REGION, true), all, 1);
	expect_clean(p, REGION);
}
END_TEST

START_TEST(test_dirty_kernel_write_is_reported)
{
	char *p = tracked_region();
	touch(p, 3);		/* populated before protect */
	ck_assert_int_eq(gr_dirty_protect((uintptr_t)p, REGION), 0);
	int fd[2];
	ck_assert_int_eq(pipe(fd), 0);
	ck_assert_int_eq(write(fd[1], "abcdefgh", 8), 8);
	/* Into a populated page, a never-populated one, and across two. */
	ck_assert_int_eq(read(fd[0], p + 3 * PG + 100, 2), 2);
	ck_assert_int_eq(read(fd[0], p + 9000 * PG + 5, 2), 2);
	ck_assert_int_eq(read(fd[0], p + 12001 * PG - 2, 4), 4);
	ck_assert(memcmp(p + 3 * PG + 100, "ab", 2) == 0);
	ck_assert(memcmp(p + 9000 * PG + 5, "cd", 2) == 0);
	ck_assert(memcmp(p + 12001 * PG - 2, "efgh", 4) == 0);
	static const long want[][2] = { { 3, 4 }, { 9000, 9001 }, { 12000, 12002 } };
	expect_runs(p, scan(p, REGION, true), want, 3);
	close(fd[0]);
	close(fd[1]);
}
END_TEST

/* As measured on 6.18: a zapped page has no page table entry left (no
 * uffd-wp marker either, for anonymous memory) and PAGEMAP_SCAN counts
 * that as not protected, so written, clean and never-touched pages all
 * read as written after MADV_DONTNEED, until the next protect. */
START_TEST(test_dirty_dontneed_reads_written)
{
	char *p = tracked_region();
	touch(p, 20);		/* populated, will be clean */
	ck_assert_int_eq(gr_dirty_protect((uintptr_t)p, REGION), 0);
	touch(p, 10);		/* written */
	ck_assert_int_eq(madvise(p + 10 * PG, PG, MADV_DONTNEED), 0);
	ck_assert_int_eq(madvise(p + 20 * PG, PG, MADV_DONTNEED), 0);
	ck_assert_int_eq(madvise(p + 30 * PG, PG, MADV_DONTNEED), 0);	/* never touched */
	ck_assert_int_eq(p[10 * PG + 17], 0);
	static const long want[][2] = { { 10, 11 }, { 20, 21 }, { 30, 31 } };
	expect_runs(p, scan(p, REGION, false), want, 3);
	/* Reading a zapped page does not change that. */
	volatile char c = p[20 * PG];
	(void)c;
	expect_runs(p, scan(p, REGION, false), want, 3);
	/* A protect (or a scan with reprotect) arms them again. */
	expect_runs(p, scan(p, REGION, true), want, 3);
	expect_clean(p, REGION);
	touch(p, 20);
	static const long again[][2] = { { 20, 21 } };
	expect_runs(p, scan(p, REGION, true), again, 1);
	/* A whole page table's worth zapped at once. */
	ck_assert_int_eq(madvise(p + 1024 * PG, 512 * PG, MADV_DONTNEED), 0);
	static const long table[][2] = { { 1024, 1536 } };
	expect_runs(p, scan(p, REGION, true), table, 1);
	expect_clean(p, REGION);
}
END_TEST

START_TEST(test_dirty_shared_anonymous)
{
	enum { LEN = 4 << 20 };
	char *p = map_region(LEN, MAP_SHARED);
	ck_assert_int_eq(gr_dirty_register((uintptr_t)p, LEN), 0);
	ck_assert_int_eq(gr_dirty_protect((uintptr_t)p, LEN), 0);
	expect_clean(p, LEN);
	touch(p, 0), touch(p, 1), touch(p, 600), touch(p, 1023);
	static const long want[][2] = { { 0, 2 }, { 600, 601 }, { 1023, 1024 } };
	expect_runs(p, scan(p, LEN, true), want, 3);
	expect_clean(p, LEN);
	/* A child writing through its own mapping of the same pages is not
	 * seen: our page table entries stay protected. (A limitation to know
	 * about, not a promise: the collector never relies on it.) */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		p[5 * PG] = 42;
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	ck_assert_int_eq(p[5 * PG], 42);
	expect_clean(p, LEN);
}
END_TEST

/* Two writers store into random pages and record each page after its
 * store; one or two scanners (disjoint halves) scan with reprotect in a
 * loop. The union of everything scanned, plus a final scan, must be
 * exactly the set of pages written. */
struct race {
	char *base;
	atomic_bool stop;
	_Atomic uint64_t wrote[NPAGES / 64];	/* set after the store */
	uint64_t seen[NPAGES / 64];		/* each half owned by one scanner */
	long scans[2];
	long err;
};
static struct race race;

struct writer { int id; };
static void *writer_main(void *arg)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * (uint64_t)(((struct writer *)arg)->id + 1);
	for (int i = 0; i < 200000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		long pg = (long)(x % NPAGES);
		((volatile uint64_t *)(race.base + pg * PG))[x % 512] = x;
		atomic_fetch_or_explicit(&race.wrote[pg / 64], 1ULL << (pg % 64), memory_order_relaxed);
	}
	return NULL;
}

static void mark_seen(uintptr_t lo, uintptr_t hi, void *arg)
{
	for (uintptr_t a = lo; a < hi; a += PG) {
		long pg = (long)((a - (uintptr_t)race.base) / PG);
		race.seen[pg / 64] |= 1ULL << (pg % 64);
	}
}

static void *scanner_main(void *arg)
{
	long half = (long)(intptr_t)arg;	/* -1: whole region */
	char *lo = half < 0 ? race.base : race.base + half * (REGION / 2);
	size_t len = half < 0 ? REGION : REGION / 2;
	int slot = half < 0 ? 0 : (int)half;
	while (!atomic_load(&race.stop)) {
		long n = gr_dirty_scan((uintptr_t)lo, len, true, mark_seen, NULL);
		if (n < 0) {
			race.err = n;
			break;
		}
		race.scans[slot]++;
	}
	return NULL;
}

static void race_run(int nscanners)
{
	race.base = tracked_region();
	ck_assert_int_eq(gr_dirty_protect((uintptr_t)race.base, REGION), 0);
	pthread_t w[2], s[2];
	struct writer wa[2] = { { 0 }, { 1 } };
	for (int i = 0; i < nscanners; i++)
		ck_assert_int_eq(pthread_create(&s[i], NULL, scanner_main,
						(void *)(intptr_t)(nscanners == 1 ? -1 : i)), 0);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(pthread_create(&w[i], NULL, writer_main, &wa[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(w[i], NULL);
	atomic_store(&race.stop, true);
	for (int i = 0; i < nscanners; i++)
		pthread_join(s[i], NULL);
	ck_assert_msg(race.err == 0, "concurrent scan failed: %ld", race.err);
	ck_assert_msg(race.scans[0] > 0 && (nscanners == 1 || race.scans[1] > 0),
		      "a scanner never completed a scan");
	long n = gr_dirty_scan((uintptr_t)race.base, REGION, true, mark_seen, NULL);
	ck_assert_int_ge(n, 0);
	long nwrote = 0;
	for (long i = 0; i < NPAGES / 64; i++) {
		uint64_t wr = atomic_load(&race.wrote[i]);
		nwrote += __builtin_popcountll(wr);
		ck_assert_msg(wr == race.seen[i], "pages %ld..%ld: written %#llx, scanned %#llx", i * 64,
			      i * 64 + 63, (unsigned long long)wr, (unsigned long long)race.seen[i]);
	}
	ck_assert_int_gt(nwrote, NPAGES / 2);
	expect_clean(race.base, REGION);
}

START_TEST(test_dirty_concurrent_writers_one_scanner)
{
	race_run(1);
}
END_TEST

START_TEST(test_dirty_concurrent_writers_two_scanners)
{
	race_run(2);
}
END_TEST

START_TEST(test_dirty_bad_ranges_fail)
{
	char *p = map_region(1 << 20, MAP_PRIVATE);	/* mapped, not registered */
	touch(p, 0);
	ck_assert_int_eq(gr_dirty_scan((uintptr_t)p, 1 << 20, false, collect, &got), -EPERM);
	ck_assert_int_eq(gr_dirty_scan((uintptr_t)p, 1 << 20, true, collect, &got), -EPERM);
	ck_assert_int_eq(gr_dirty_protect((uintptr_t)p, 1 << 20), -EPERM);
	ck_assert_int_eq(gr_dirty_unregister((uintptr_t)p, 1 << 20), 0);	/* nothing to undo */

	/* Unaligned. */
	ck_assert_int_eq(gr_dirty_register((uintptr_t)p + 1, PG), -EINVAL);
	ck_assert_int_eq(gr_dirty_register((uintptr_t)p, PG + 1), -EINVAL);
	ck_assert_int_eq(gr_dirty_protect((uintptr_t)p + 8, PG), -EINVAL);
	ck_assert_int_eq(gr_dirty_scan((uintptr_t)p, 100, true, collect, &got), -EINVAL);
	ck_assert_int_eq(gr_dirty_scan(UINTPTR_MAX & ~(PG - 1), 2 * PG, true, collect, &got), -EINVAL);
	ck_assert_int_eq(gr_dirty_scan((uintptr_t)p, 0, true, collect, &got), 0);

	/* Unmapped: registering fails; scan and protect skip holes. */
	char *hole = map_region(1 << 20, MAP_PRIVATE);
	ck_assert_int_eq(munmap(hole, 1 << 20), 0);
	ck_assert_int_lt(gr_dirty_register((uintptr_t)hole, 1 << 20), 0);
	ck_assert_int_eq(gr_dirty_scan((uintptr_t)hole, 1 << 20, true, collect, &got), 0);
	ck_assert_int_eq(gr_dirty_protect((uintptr_t)hole, 1 << 20), 0);

	/* Registered, then unmapped and mapped again in place: unregistered. */
	char *q = tracked_region();
	ck_assert_int_eq(gr_dirty_protect((uintptr_t)q, REGION), 0);
	ck_assert(mmap(q, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		       -1, 0) == q);
	ck_assert_int_eq(gr_dirty_scan((uintptr_t)q, REGION, true, collect, &got), -EPERM);
	ck_assert_int_eq(gr_dirty_scan((uintptr_t)q + (1 << 20), REGION - (1 << 20), true, collect,
				       &got), 0);
	/* Unregister, and the range is an ordinary mapping again. */
	ck_assert_int_eq(gr_dirty_unregister((uintptr_t)q, REGION), 0);
	ck_assert_int_eq(gr_dirty_scan((uintptr_t)q, REGION, false, collect, &got), -EPERM);
	touch(q, 9000);
}
END_TEST

static void child_runs(uintptr_t lo, uintptr_t hi, void *arg)
{
	uintptr_t *r = arg;
	if (r[0]++ == 0)
		r[1] = lo;
	r[2] = hi;
}

START_TEST(test_dirty_fork_child_can_init_again)
{
	char *p = tracked_region();
	ck_assert_int_eq(gr_dirty_protect((uintptr_t)p, REGION), 0);
	touch(p, 1);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* No Check asserts here: report through the exit status. */
		gr_dirty_fork_child();
		if (strcmp(gr_dirty_reason(), "not initialized") != 0)
			_exit(10);
		if (gr_dirty_register((uintptr_t)p, REGION) != -ENODEV)
			_exit(11);
		if (!gr_dirty_init())
			_exit(12);
		/* The parent's registration did not come along. */
		if (gr_dirty_scan((uintptr_t)p, REGION, true, NULL, NULL) != -EPERM)
			_exit(13);
		if (gr_dirty_register((uintptr_t)p, REGION) != 0 ||
		    gr_dirty_protect((uintptr_t)p, REGION) != 0)
			_exit(14);
		touch(p, 2), touch(p, 3), touch(p, 7000);
		uintptr_t r[3] = { 0 };	/* runs, first lo, last hi */
		long n = gr_dirty_scan((uintptr_t)p, REGION, true, child_runs, r);
		if (n != 3 || r[0] != 2 || r[1] != (uintptr_t)p + 2 * PG || r[2] != (uintptr_t)p + 7001 * PG)
			_exit(15);
		_exit(0);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed: status %#x", st);
	/* The parent's state is its own: its write before the fork is still
	 * pending, the child's writes (to its copies) are not seen. */
	static const long want[][2] = { { 1, 2 } };
	expect_runs(p, scan(p, REGION, true), want, 1);
	touch(p, 4);
	static const long after[][2] = { { 4, 5 } };
	expect_runs(p, scan(p, REGION, true), after, 1);
}
END_TEST

START_TEST(test_dirty_calls_before_init_fail)
{
	ck_assert_str_eq(gr_dirty_reason(), "not initialized");
	char *p = map_region(1 << 20, MAP_PRIVATE);
	ck_assert_int_eq(gr_dirty_register((uintptr_t)p, 1 << 20), -ENODEV);
	ck_assert_int_eq(gr_dirty_protect((uintptr_t)p, 1 << 20), -ENODEV);
	ck_assert_int_eq(gr_dirty_scan((uintptr_t)p, 1 << 20, true, collect, &got), -ENODEV);
	ck_assert_int_eq(gr_dirty_unregister((uintptr_t)p, 1 << 20), -ENODEV);
}
END_TEST

START_TEST(test_dirty_skipped)
{
	/* main() printed why. */
}
END_TEST

/* Whether an init failure may be the kernel's or the sandbox's: a kernel
 * before 6.7 (no WP_ASYNC / PAGEMAP_SCAN), or userfaultfd refused. */
static bool may_skip(const char *reason)
{
	struct utsname u;
	int major = 0, minor = 0;
	if (uname(&u) == 0)
		sscanf(u.release, "%d.%d", &major, &minor);
	return major < 6 || (major == 6 && minor < 7) || strncmp(reason, "userfaultfd:", 12) == 0;
}

static Suite *dirty_suite(bool available)
{
	Suite *s = suite_create("dirty");
	TCase *tc = tcase_create("core");
	tcase_set_timeout(tc, 60);
	if (!available) {
		tcase_add_test(tc, test_dirty_skipped);
		suite_add_tcase(s, tc);
		return s;
	}
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_dirty_init_is_idempotent);
	tcase_add_test(tc, test_dirty_registered_unprotected_reads_all_written);
	tcase_add_test(tc, test_dirty_scan_reports_exact_runs);
	tcase_add_test(tc, test_dirty_reads_stay_clean);
	tcase_add_test(tc, test_dirty_reprotect_leaves_only_new_writes);
	tcase_add_test(tc, test_dirty_many_runs_span_ioctls);
	tcase_add_test(tc, test_dirty_kernel_write_is_reported);
	tcase_add_test(tc, test_dirty_dontneed_reads_written);
	tcase_add_test(tc, test_dirty_shared_anonymous);
	tcase_add_test(tc, test_dirty_concurrent_writers_one_scanner);
	tcase_add_test(tc, test_dirty_concurrent_writers_two_scanners);
	tcase_add_test(tc, test_dirty_bad_ranges_fail);
	tcase_add_test(tc, test_dirty_fork_child_can_init_again);
	suite_add_tcase(s, tc);
	TCase *pre = tcase_create("uninitialized");
	tcase_add_test(pre, test_dirty_calls_before_init_fail);
	suite_add_tcase(s, pre);
	return s;
}

int main(void)
{
	/* Decide, then forget: each case inits in its own process. */
	bool ok = gr_dirty_init();
	const char *reason = gr_dirty_reason();
	if (!ok && !may_skip(reason)) {
		fprintf(stderr, "check_dirty: gr_dirty_init failed on a kernel that should support it: %s\n",
			reason);
		return EXIT_FAILURE;
	}
	if (!ok)
		fprintf(stderr, "check_dirty: SKIPPING every case: dirty tracking unavailable: %s\n",
			reason);
	gr_dirty_fork_child();
	/* Fork mode stays on (Check's default): a gr_throw fails one case. */
	SRunner *sr = srunner_create(dirty_suite(ok));
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
