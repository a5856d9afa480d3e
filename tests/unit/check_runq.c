/* check_runq: unit tests for core/runq (a P's local run queue).
 *
 * Covers the contract in runq.h: FIFO order of the ring; runnext (a put
 * with next=true runs first and kicks the old runnext to the tail); a full
 * ring makes put fail and gr_runq_put_slow move half of the ring plus the
 * overflowing G into a batch; get on an empty queue returns NULL; steal
 * moves about half of the victim into the thief's queue and returns one,
 * and takes runnext only when asked to and the ring is empty. The last two
 * cases run one owner and two thieves concurrently (racing on the ring's
 * head, then on runnext) and check that every G is seen exactly once.
 *
 * Gs are opaque to the queue, so the tests use fake pointers (never
 * dereferenced) that encode an index: fake(i) and id(g).
 */
#include <check.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/runq.h"

static struct gr_g *fake(uint32_t i)
{
	return (struct gr_g *)(uintptr_t)(i * 16 + 16);
}

static uint32_t id(struct gr_g *g)
{
	ck_assert_msg(g != NULL && (uintptr_t)g % 16 == 0, "not a fake G: %p", (void *)g);
	return (uint32_t)((uintptr_t)g / 16 - 1);
}

/* Owner put that must succeed. */
static void put_ok(struct gr_runq *q, uint32_t i, bool next)
{
	struct gr_g *over = NULL;
	ck_assert_msg(gr_runq_put(q, fake(i), next, &over), "put of G %u failed", i);
}

static void expect_get(struct gr_runq *q, uint32_t i)
{
	struct gr_g *g = gr_runq_get(q);
	ck_assert_msg(g != NULL, "get returned NULL, expected G %u", i);
	ck_assert_uint_eq(id(g), i);
}

static struct gr_runq q, q2;	/* large (2 KiB): keep them off the stack */

static void setup(void)
{
	gr_runq_init(&q);
	gr_runq_init(&q2);
}

/* --- basic order --------------------------------------------------------- */

START_TEST(test_runq_init_is_empty)
{
	memset(&q, 0xff, sizeof q);
	gr_runq_init(&q);
	ck_assert_uint_eq(gr_runq_len(&q), 0);
	ck_assert(gr_runq_empty(&q));
	ck_assert_ptr_null(gr_runq_get(&q));
}
END_TEST

START_TEST(test_runq_get_empty_returns_null)
{
	ck_assert_ptr_null(gr_runq_get(&q));
	put_ok(&q, 1, false);
	put_ok(&q, 2, true);
	ck_assert_ptr_nonnull(gr_runq_get(&q));
	ck_assert_ptr_nonnull(gr_runq_get(&q));
	ck_assert_ptr_null(gr_runq_get(&q));
	ck_assert_ptr_null(gr_runq_get(&q));
	ck_assert(gr_runq_empty(&q));
}
END_TEST

START_TEST(test_runq_fifo_order)
{
	for (uint32_t i = 0; i < 200; i++)
		put_ok(&q, i, false);
	ck_assert_uint_eq(gr_runq_len(&q), 200);
	for (uint32_t i = 0; i < 200; i++)
		expect_get(&q, i);
	ck_assert_ptr_null(gr_runq_get(&q));
}
END_TEST

/* head and tail run far past GR_RUNQ_SIZE: slots are used modulo the size. */
START_TEST(test_runq_fifo_order_wraps)
{
	uint32_t in = 0, out = 0;
	for (int round = 0; round < 1000; round++) {
		for (int k = 0; k < 5; k++)
			put_ok(&q, in++, false);
		for (int k = 0; k < 3; k++)
			expect_get(&q, out++);
		if (gr_runq_len(&q) > 200)
			while (out < in)
				expect_get(&q, out++);
	}
	while (out < in)
		expect_get(&q, out++);
	ck_assert_ptr_null(gr_runq_get(&q));
}
END_TEST

/* --- runnext ------------------------------------------------------------- */

START_TEST(test_runq_runnext_runs_first)
{
	put_ok(&q, 1, false);
	put_ok(&q, 2, false);
	put_ok(&q, 3, true);
	ck_assert_uint_eq(gr_runq_len(&q), 2);	/* runnext is not in the ring */
	expect_get(&q, 3);
	expect_get(&q, 1);
	expect_get(&q, 2);
	ck_assert_ptr_null(gr_runq_get(&q));
}
END_TEST

START_TEST(test_runq_runnext_kicks_old_to_tail)
{
	put_ok(&q, 1, true);	/* runnext = 1 */
	put_ok(&q, 2, false);	/* ring: 2 */
	put_ok(&q, 3, true);	/* runnext = 3, ring: 2 1 */
	ck_assert_uint_eq(gr_runq_len(&q), 2);
	expect_get(&q, 3);
	expect_get(&q, 2);
	expect_get(&q, 1);
	ck_assert_ptr_null(gr_runq_get(&q));
}
END_TEST

START_TEST(test_runq_empty_sees_runnext)
{
	put_ok(&q, 7, true);
	ck_assert_uint_eq(gr_runq_len(&q), 0);
	ck_assert(!gr_runq_empty(&q));
	expect_get(&q, 7);
	ck_assert(gr_runq_empty(&q));
}
END_TEST

/* --- overflow ------------------------------------------------------------ */

static void fill(struct gr_runq *rq)
{
	for (uint32_t i = 0; i < GR_RUNQ_SIZE; i++)
		put_ok(rq, i, false);
}

START_TEST(test_runq_put_full_returns_false)
{
	fill(&q);
	ck_assert_uint_eq(gr_runq_len(&q), GR_RUNQ_SIZE);
	struct gr_g *over = NULL;
	ck_assert(!gr_runq_put(&q, fake(1000), false, &over));
	ck_assert_ptr_eq(over, fake(1000));
	ck_assert_uint_eq(gr_runq_len(&q), GR_RUNQ_SIZE);
	/* Nothing was lost or overwritten. */
	for (uint32_t i = 0; i < GR_RUNQ_SIZE; i++)
		expect_get(&q, i);
	ck_assert_ptr_null(gr_runq_get(&q));
}
END_TEST

/* With next, the new G becomes runnext and the kicked one is the overflow. */
START_TEST(test_runq_put_full_next_overflows_old_runnext)
{
	fill(&q);
	put_ok(&q, 500, true);
	struct gr_g *over = NULL;
	ck_assert(!gr_runq_put(&q, fake(501), true, &over));
	ck_assert_ptr_eq(over, fake(500));
	expect_get(&q, 501);
	ck_assert_uint_eq(gr_runq_len(&q), GR_RUNQ_SIZE);
}
END_TEST

START_TEST(test_runq_put_slow_moves_half_plus_one)
{
	struct gr_g *batch[GR_RUNQ_SIZE / 2 + 1];
	bool seen[GR_RUNQ_SIZE + 1] = { false };

	fill(&q);
	struct gr_g *over = NULL;
	ck_assert(!gr_runq_put(&q, fake(GR_RUNQ_SIZE), false, &over));
	uint32_t n = gr_runq_put_slow(&q, over, batch);
	ck_assert_uint_eq(n, GR_RUNQ_SIZE / 2 + 1);
	ck_assert_uint_eq(gr_runq_len(&q), GR_RUNQ_SIZE / 2);

	/* The batch holds the overflow G and ring Gs in queue order... */
	int64_t last = -1;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = id(batch[i]);
		ck_assert_uint_le(k, GR_RUNQ_SIZE);
		ck_assert_msg(!seen[k], "G %u twice in the batch", k);
		seen[k] = true;
		if (k != GR_RUNQ_SIZE) {
			ck_assert_msg((int64_t)k > last, "batch out of order at %u", k);
			last = k;
		}
	}
	ck_assert_msg(seen[GR_RUNQ_SIZE], "overflow G missing from the batch");
	/* ...and the ring keeps the rest, still in order: every G exactly once. */
	last = -1;
	struct gr_g *g;
	while ((g = gr_runq_get(&q)) != NULL) {
		uint32_t k = id(g);
		ck_assert_uint_lt(k, GR_RUNQ_SIZE);
		ck_assert_msg(!seen[k], "G %u both in the batch and the ring", k);
		ck_assert_msg((int64_t)k > last, "ring out of order at %u", k);
		seen[k] = true;
		last = k;
	}
	for (uint32_t k = 0; k <= GR_RUNQ_SIZE; k++)
		ck_assert_msg(seen[k], "G %u lost", k);
}
END_TEST

START_TEST(test_runq_put_slow_not_full_returns_zero)
{
	struct gr_g *batch[GR_RUNQ_SIZE / 2 + 1];
	for (uint32_t i = 0; i < 10; i++)
		put_ok(&q, i, false);
	ck_assert_uint_eq(gr_runq_put_slow(&q, fake(99), batch), 0);
	ck_assert_uint_eq(gr_runq_len(&q), 10);
	for (uint32_t i = 0; i < 10; i++)
		expect_get(&q, i);
}
END_TEST

START_TEST(test_runq_put_after_put_slow)
{
	struct gr_g *batch[GR_RUNQ_SIZE / 2 + 1];
	fill(&q);
	ck_assert_uint_eq(gr_runq_put_slow(&q, fake(1000), batch), GR_RUNQ_SIZE / 2 + 1);
	for (uint32_t i = 0; i < GR_RUNQ_SIZE / 2; i++)
		put_ok(&q, 2000 + i, false);
	ck_assert_uint_eq(gr_runq_len(&q), GR_RUNQ_SIZE);
	struct gr_g *over;
	ck_assert(!gr_runq_put(&q, fake(3000), false, &over));
}
END_TEST

/* --- steal --------------------------------------------------------------- */

/* Steal from a queue of n Gs and check the split: about half moves. */
static void check_steal_half(uint32_t n)
{
	gr_runq_init(&q);
	gr_runq_init(&q2);
	bool *seen = calloc(n, sizeof *seen);
	ck_assert_ptr_nonnull(seen);
	for (uint32_t i = 0; i < n; i++)
		put_ok(&q, i, false);

	struct gr_g *g = gr_runq_steal(&q2, &q, false);
	ck_assert_msg(g != NULL, "nothing stolen from %u", n);
	uint32_t moved = gr_runq_len(&q2) + 1;
	ck_assert_msg(moved >= n / 2 && moved <= n / 2 + 1,
		      "stole %u of %u, expected about half", moved, n);
	ck_assert_uint_eq(gr_runq_len(&q), n - moved);

	seen[id(g)] = true;
	while ((g = gr_runq_get(&q2)) != NULL) {
		ck_assert_msg(!seen[id(g)], "G %u stolen twice", id(g));
		seen[id(g)] = true;
	}
	while ((g = gr_runq_get(&q)) != NULL) {
		ck_assert_msg(!seen[id(g)], "G %u both stolen and left", id(g));
		seen[id(g)] = true;
	}
	for (uint32_t i = 0; i < n; i++)
		ck_assert_msg(seen[i], "G %u lost by steal of %u", i, n);
	free(seen);
}

START_TEST(test_runq_steal_takes_half)
{
	check_steal_half(100);
	check_steal_half(101);
	check_steal_half(2);
	check_steal_half(GR_RUNQ_SIZE);
}
END_TEST

START_TEST(test_runq_steal_returns_one)
{
	put_ok(&q, 42, false);
	struct gr_g *g = gr_runq_steal(&q2, &q, false);
	ck_assert_ptr_eq(g, fake(42));
	ck_assert(gr_runq_empty(&q));
	ck_assert(gr_runq_empty(&q2));
}
END_TEST

START_TEST(test_runq_steal_empty_returns_null)
{
	ck_assert_ptr_null(gr_runq_steal(&q2, &q, false));
	ck_assert_ptr_null(gr_runq_steal(&q2, &q, true));
	ck_assert(gr_runq_empty(&q2));
}
END_TEST

START_TEST(test_runq_steal_next_only_when_asked)
{
	put_ok(&q, 9, true);
	ck_assert_ptr_null(gr_runq_steal(&q2, &q, false));
	ck_assert(!gr_runq_empty(&q));	/* runnext still there */
	ck_assert_ptr_eq(gr_runq_steal(&q2, &q, true), fake(9));
	ck_assert(gr_runq_empty(&q));
	ck_assert(gr_runq_empty(&q2));
}
END_TEST

START_TEST(test_runq_steal_next_not_while_ring_nonempty)
{
	put_ok(&q, 9, true);
	put_ok(&q, 1, false);
	ck_assert_ptr_eq(gr_runq_steal(&q2, &q, true), fake(1));
	expect_get(&q, 9);	/* runnext stayed with its owner */
	ck_assert(gr_runq_empty(&q));
}
END_TEST

/* --- concurrency --------------------------------------------------------- */

/* One owner pushes Gs and pops some itself; two thieves steal into their
 * own queues and drain them. Every G must be seen exactly once, by someone.
 * The owner keeps going until the thieves have stolen `steals` Gs (on a
 * loaded machine they may get little CPU at first), up to CONC_MAX Gs.
 *   ring mode: every 7th put is a runnext, the owner pops every other G,
 *     and a full ring mostly waits for the thieves, sometimes spills half
 *     to a batch: thieves race the owner (get, put_slow) on head.
 *   runnext mode: every put is a runnext and the owner pops it right away:
 *     thieves (steal_next) race the owner on runnext. */
#define CONC_MIN 200000u
#define CONC_MAX 4000000u
#define NTHIEF 2

static _Atomic uint8_t conc_seen[CONC_MAX];
static _Atomic bool conc_done;
static _Atomic uint32_t conc_stolen;

static void see(struct gr_g *g)
{
	uint32_t k = (uint32_t)((uintptr_t)g / 16 - 1);
	if (k < CONC_MAX)
		atomic_fetch_add_explicit(&conc_seen[k], 1, memory_order_relaxed);
}

static void *thief(void *arg)
{
	struct gr_runq *mine = arg;
	for (uint32_t spin = 0;; spin++) {
		bool done = atomic_load(&conc_done);
		struct gr_g *g = gr_runq_steal(mine, &q, spin & 1);
		if (!g) {
			if (done)
				break;
			if (spin % 64 == 0)
				sched_yield();
			continue;
		}
		uint32_t n = 1;
		see(g);
		while ((g = gr_runq_get(mine)) != NULL) {
			n++;
			see(g);
		}
		atomic_fetch_add_explicit(&conc_stolen, n, memory_order_relaxed);
	}
	return NULL;
}

static void run_concurrent(bool runnext_mode, uint32_t steals)
{
	static struct gr_runq tq[NTHIEF];
	pthread_t th[NTHIEF];
	struct gr_g *batch[GR_RUNQ_SIZE / 2 + 1];
	uint32_t spilled = 0, i;

	for (int k = 0; k < NTHIEF; k++) {
		gr_runq_init(&tq[k]);
		ck_assert_int_eq(pthread_create(&th[k], NULL, thief, &tq[k]), 0);
	}
	for (i = 0; i < CONC_MAX; i++) {
		if (i >= CONC_MIN && atomic_load_explicit(&conc_stolen, memory_order_relaxed) >= steals)
			break;
		struct gr_g *over;
		if (!gr_runq_put(&q, fake(i), runnext_mode || i % 7 == 0, &over)) {
			/* Full: mostly give the thieves a turn, sometimes spill. */
			if (i % 8 != 0) {
				sched_yield();
				if (gr_runq_put(&q, over, false, &over))
					goto popped;
			}
			for (;;) {
				uint32_t n = gr_runq_put_slow(&q, over, batch);
				if (n) {
					for (uint32_t k = 0; k < n; k++)
						see(batch[k]);
					spilled += n;
					break;
				}
				if (gr_runq_put(&q, over, false, &over))
					break;
			}
		}
	popped:
		/* Let the thieves in while the queue holds work (and runnext
		 * is set): with fewer CPUs than threads they would otherwise
		 * only ever see it empty. */
		if (i % 64 == 0)
			sched_yield();
		if (runnext_mode || i % 2 == 0) {
			struct gr_g *g = gr_runq_get(&q);
			if (g)
				see(g);
		}
	}
	uint32_t pushed = i;
	struct gr_g *g;
	while ((g = gr_runq_get(&q)) != NULL)
		see(g);
	atomic_store(&conc_done, true);
	for (int k = 0; k < NTHIEF; k++)
		ck_assert_int_eq(pthread_join(th[k], NULL), 0);

	ck_assert(gr_runq_empty(&q));
	for (int k = 0; k < NTHIEF; k++)
		ck_assert(gr_runq_empty(&tq[k]));
	for (uint32_t k = 0; k < CONC_MAX; k++) {
		uint8_t n = atomic_load_explicit(&conc_seen[k], memory_order_relaxed);
		if (n != (k < pushed ? 1 : 0))
			ck_abort_msg("G %u seen %u times (pushed %u, stolen %u, spilled %u)", k, n,
				     pushed, atomic_load(&conc_stolen), spilled);
	}
	/* Not a correctness condition, but the test means little without it. */
	ck_assert_msg(atomic_load(&conc_stolen) > 0, "thieves never stole (pushed %u)", pushed);
}

START_TEST(test_runq_concurrent_steal_sees_each_once)
{
	run_concurrent(false, 1000000);
}
END_TEST

START_TEST(test_runq_concurrent_steal_next_sees_each_once)
{
	run_concurrent(true, 20000);
}
END_TEST

static Suite *runq_suite(void)
{
	Suite *s = suite_create("runq");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_runq_init_is_empty);
	tcase_add_test(tc, test_runq_get_empty_returns_null);
	tcase_add_test(tc, test_runq_fifo_order);
	tcase_add_test(tc, test_runq_fifo_order_wraps);
	tcase_add_test(tc, test_runq_runnext_runs_first);
	tcase_add_test(tc, test_runq_runnext_kicks_old_to_tail);
	tcase_add_test(tc, test_runq_empty_sees_runnext);
	tcase_add_test(tc, test_runq_put_full_returns_false);
	tcase_add_test(tc, test_runq_put_full_next_overflows_old_runnext);
	tcase_add_test(tc, test_runq_put_slow_moves_half_plus_one);
	tcase_add_test(tc, test_runq_put_slow_not_full_returns_zero);
	tcase_add_test(tc, test_runq_put_after_put_slow);
	tcase_add_test(tc, test_runq_steal_takes_half);
	tcase_add_test(tc, test_runq_steal_returns_one);
	tcase_add_test(tc, test_runq_steal_empty_returns_null);
	tcase_add_test(tc, test_runq_steal_next_only_when_asked);
	tcase_add_test(tc, test_runq_steal_next_not_while_ring_nonempty);
	suite_add_tcase(s, tc);

	TCase *tcc = tcase_create("concurrent");
	tcase_add_checked_fixture(tcc, setup, NULL);
	tcase_set_timeout(tcc, 60);
	tcase_add_test(tcc, test_runq_concurrent_steal_sees_each_once);
	tcase_add_test(tcc, test_runq_concurrent_steal_next_sees_each_once);
	suite_add_tcase(s, tcc);
	return s;
}

int main(void)
{
	/* Fork mode stays on (Check's default): a gr_throw fails one case. */
	SRunner *sr = srunner_create(runq_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
