/* check_timer: unit tests for core/timer (per-P 4-ary timer heaps).
 *
 * Covers the contract in timer.h: timers run in order of when, and only
 * those due at now; gr_timer_add reports whether the timer became the
 * earliest; gr_timer_del returns true when it removed a queued timer and
 * false otherwise; next_when is always the earliest when, or INT64_MAX when
 * the heap is empty; t->heap is non-NULL iff t sits in the heap at t->idx;
 * fn runs without the heap lock (it may re-arm itself); gr_timer_stop on a
 * fired timer returns false and waits for a running fn; the heap grows past
 * its first 512 slots. A randomized case adds 10000 timers, deletes some,
 * and runs the rest in steps: the run order is non-decreasing and every
 * surviving timer fires exactly once.
 */
#include <check.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "core/timer.h"

/* What fired, in order. Each test runs in its own process (fork mode). */
#define LOGMAX 20000
static struct gr_timer *fired[LOGMAX];
static int nfired;

static void record(struct gr_timer *t)
{
	if (nfired < LOGMAX)
		fired[nfired] = t;
	nfired++;
}

static struct gr_timerheap h;

static void setup(void)
{
	gr_timerheap_init(&h);
	nfired = 0;
}

static void arm(struct gr_timer *t, int64_t when)
{
	t->when = when;
	t->fn = record;
	gr_timer_add(&h, t);
}

/* Every queued timer is at its own index and no parent is later than its
 * children; next_when is the root. */
static void check_heap(void)
{
	for (uint32_t i = 0; i < h.len; i++) {
		struct gr_timer *t = h.items[i];
		ck_assert_msg(atomic_load(&t->heap) == &h, "items[%u] has heap %p", i,
			      (void *)atomic_load(&t->heap));
		ck_assert_msg(t->idx == i, "items[%u] has idx %u", i, t->idx);
		if (i > 0)
			ck_assert_msg(h.items[(i - 1) / 4]->when <= t->when,
				      "heap order broken at %u", i);
	}
	ck_assert_int_eq(gr_timers_next(&h), h.len ? h.items[0]->when : INT64_MAX);
}

START_TEST(test_timer_runs_in_when_order)
{
	static const int64_t whens[] = { 50, 10, 40, 20, 30, 35, 5, 45 };
	enum { N = sizeof whens / sizeof whens[0] };
	struct gr_timer t[N] = { 0 };
	for (int i = 0; i < N; i++)
		arm(&t[i], whens[i]);
	ck_assert_int_eq(gr_timers_run(&h, 1000), N);
	ck_assert_int_eq(nfired, N);
	for (int i = 1; i < N; i++)
		ck_assert_msg(fired[i - 1]->when <= fired[i]->when, "run %d at %lld before %lld", i,
			      (long long)fired[i - 1]->when, (long long)fired[i]->when);
	ck_assert_int_eq(fired[0]->when, 5);
	ck_assert_int_eq(fired[N - 1]->when, 50);
}
END_TEST

START_TEST(test_timer_runs_only_due)
{
	struct gr_timer t[4] = { 0 };
	arm(&t[0], 10);
	arm(&t[1], 20);
	arm(&t[2], 30);
	arm(&t[3], 40);
	ck_assert_int_eq(gr_timers_run(&h, 9), 0);
	ck_assert_int_eq(gr_timers_run(&h, 20), 2);	/* when == now is due */
	ck_assert_ptr_eq(fired[0], &t[0]);
	ck_assert_ptr_eq(fired[1], &t[1]);
	ck_assert_int_eq(gr_timers_run(&h, 25), 0);
	ck_assert_int_eq(gr_timers_next(&h), 30);
	ck_assert_ptr_null(atomic_load(&t[0].heap));
	ck_assert_ptr_eq(atomic_load(&t[2].heap), &h);
	ck_assert_int_eq(gr_timers_run(&h, INT64_MAX - 1), 2);
	ck_assert_int_eq(nfired, 4);
}
END_TEST

START_TEST(test_timer_add_reports_earliest)
{
	struct gr_timer t[4] = { 0 };
	t[0].when = 50, t[1].when = 60, t[2].when = 10, t[3].when = 10;
	for (int i = 0; i < 4; i++)
		t[i].fn = record;
	ck_assert(gr_timer_add(&h, &t[0]));
	ck_assert(!gr_timer_add(&h, &t[1]));
	ck_assert(gr_timer_add(&h, &t[2]));
	gr_timer_add(&h, &t[3]);	/* a tie: either answer fits "became the earliest" */
	ck_assert_int_eq(gr_timers_next(&h), 10);
}
END_TEST

START_TEST(test_timer_del_removes)
{
	struct gr_timer t[5] = { 0 };
	for (int i = 0; i < 5; i++)
		arm(&t[i], 10 * (i + 1));
	ck_assert(gr_timer_del(&t[2]));
	ck_assert_ptr_null(atomic_load(&t[2].heap));
	ck_assert(gr_timer_del(&t[0]));		/* the root */
	ck_assert(gr_timer_del(&t[4]));		/* the last slot */
	check_heap();
	ck_assert_int_eq(gr_timers_run(&h, 1000), 2);
	ck_assert_ptr_eq(fired[0], &t[1]);
	ck_assert_ptr_eq(fired[1], &t[3]);
}
END_TEST

START_TEST(test_timer_del_not_queued_returns_false)
{
	struct gr_timer never = { 0 }, twice = { 0 }, ran = { 0 };
	ck_assert(!gr_timer_del(&never));
	arm(&twice, 10);
	ck_assert(gr_timer_del(&twice));
	ck_assert(!gr_timer_del(&twice));
	arm(&ran, 10);
	ck_assert_int_eq(gr_timers_run(&h, 10), 1);
	ck_assert(!gr_timer_del(&ran));
	ck_assert_int_eq(nfired, 1);
}
END_TEST

START_TEST(test_timer_next_when_tracks_min)
{
	struct gr_timer a = { 0 }, b = { 0 }, c = { 0 };
	ck_assert_int_eq(gr_timers_next(&h), INT64_MAX);
	arm(&a, 30);
	ck_assert_int_eq(gr_timers_next(&h), 30);
	arm(&b, 10);
	ck_assert_int_eq(gr_timers_next(&h), 10);
	arm(&c, 20);
	ck_assert_int_eq(gr_timers_next(&h), 10);
	ck_assert(gr_timer_del(&b));
	ck_assert_int_eq(gr_timers_next(&h), 20);
	ck_assert_int_eq(gr_timers_run(&h, 25), 1);
	ck_assert_int_eq(gr_timers_next(&h), 30);
	ck_assert(gr_timer_del(&a));
	ck_assert_int_eq(gr_timers_next(&h), INT64_MAX);
}
END_TEST

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

START_TEST(test_timer_random_order_and_deletions)
{
	enum { N = 10000 };
	static struct gr_timer t[N];
	static bool deleted[N];
	static int count[N];
	int ndel = 0;

	for (int i = 0; i < N; i++) {
		t[i].when = (int64_t)(rnd() % 100000);	/* many ties */
		t[i].fn = record;
		t[i].arg = &count[i];
		gr_timer_add(&h, &t[i]);
		/* Now and then delete an earlier timer while the heap grows. */
		if (i > 0 && rnd() % 4 == 0) {
			int k = (int)(rnd() % (uint64_t)i);
			bool queued = !deleted[k];
			ck_assert_msg(gr_timer_del(&t[k]) == queued, "del of timer %d", k);
			if (queued)
				ndel++;
			deleted[k] = true;
		}
	}
	check_heap();
	ck_assert_uint_eq(h.len, (uint32_t)(N - ndel));

	/* Run in steps; in between, the heap must stay consistent. */
	for (int64_t now = 0; now <= 100000; now += 7919) {
		gr_timers_run(&h, now);
		check_heap();
		ck_assert_msg(gr_timers_next(&h) > now, "timer due at %lld left after run(%lld)",
			      (long long)gr_timers_next(&h), (long long)now);
	}
	gr_timers_run(&h, INT64_MAX - 1);
	ck_assert_int_eq(gr_timers_next(&h), INT64_MAX);
	ck_assert_int_eq(nfired, N - ndel);

	for (int i = 0; i < nfired; i++) {
		(*(int *)fired[i]->arg)++;
		if (i > 0)
			ck_assert_msg(fired[i - 1]->when <= fired[i]->when,
				      "run %d: %lld after %lld", i, (long long)fired[i]->when,
				      (long long)fired[i - 1]->when);
	}
	for (int i = 0; i < N; i++)
		ck_assert_msg(count[i] == (deleted[i] ? 0 : 1), "timer %d (deleted %d) fired %d times",
			      i, deleted[i], count[i]);
}
END_TEST

START_TEST(test_timer_stop_fired_returns_false)
{
	struct gr_timer t = { 0 }, u = { 0 };
	arm(&t, 10);
	arm(&u, 20);
	ck_assert_int_eq(gr_timers_run(&h, 10), 1);
	ck_assert(!gr_timer_stop(&t));
	ck_assert(gr_timer_stop(&u));		/* queued: removed unfired */
	ck_assert_int_eq(gr_timers_run(&h, 1000), 0);
	ck_assert_int_eq(nfired, 1);
}
END_TEST

/* gr_timer_stop while fn runs on another thread: it must return false, and
 * only after fn has returned. */
static _Atomic int slow_started, slow_finished;

static void slow_fn(struct gr_timer *t)
{
	atomic_store(&slow_started, 1);
	struct timespec ts = { 0, 200 * 1000 * 1000 };
	nanosleep(&ts, NULL);
	atomic_store(&slow_finished, 1);
}

static void *run_timers(void *arg)
{
	gr_timers_run(&h, 100);
	return NULL;
}

START_TEST(test_timer_stop_waits_for_running_fn)
{
	struct gr_timer t = { 0 };
	t.when = 10;
	t.fn = slow_fn;
	gr_timer_add(&h, &t);
	pthread_t th;
	ck_assert_int_eq(pthread_create(&th, NULL, run_timers, NULL), 0);
	while (!atomic_load(&slow_started))
		sched_yield();
	ck_assert(!gr_timer_stop(&t));
	ck_assert_msg(atomic_load(&slow_finished), "stop returned while fn was running");
	pthread_join(th, NULL);
}
END_TEST

START_TEST(test_timer_heap_grows_past_512)
{
	enum { N = 1500 };
	static struct gr_timer t[N];
	for (int i = 0; i < N; i++)
		arm(&t[i], N - i);	/* descending: each add sifts to the root */
	ck_assert_uint_eq(h.len, N);
	ck_assert_uint_ge(h.cap, N);
	check_heap();
	ck_assert_int_eq(gr_timers_next(&h), 1);
	ck_assert_int_eq(gr_timers_run(&h, INT64_MAX - 1), N);
	for (int i = 0; i < N; i++)
		ck_assert_int_eq(fired[i]->when, i + 1);
}
END_TEST

/* fn runs with no timer lock held, so it may re-arm itself (a periodic
 * timer). With the lock held this would deadlock and the case time out. */
static void rearm(struct gr_timer *t)
{
	record(t);
	if (nfired < 3) {
		t->when += 10;
		gr_timer_add(&h, t);
	}
}

START_TEST(test_timer_fn_may_rearm)
{
	struct gr_timer t = { 0 };
	t.when = 10;
	t.fn = rearm;
	gr_timer_add(&h, &t);
	ck_assert_int_eq(gr_timers_run(&h, 25), 2);	/* 10, then re-armed at 20 */
	ck_assert_int_eq(gr_timers_next(&h), 30);
	ck_assert_int_eq(gr_timers_run(&h, 1000), 1);
	ck_assert_int_eq(nfired, 3);
	ck_assert_int_eq(gr_timers_next(&h), INT64_MAX);
}
END_TEST

static Suite *timer_suite(void)
{
	Suite *s = suite_create("timer");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_timer_runs_in_when_order);
	tcase_add_test(tc, test_timer_runs_only_due);
	tcase_add_test(tc, test_timer_add_reports_earliest);
	tcase_add_test(tc, test_timer_del_removes);
	tcase_add_test(tc, test_timer_del_not_queued_returns_false);
	tcase_add_test(tc, test_timer_next_when_tracks_min);
	tcase_add_test(tc, test_timer_random_order_and_deletions);
	tcase_add_test(tc, test_timer_stop_fired_returns_false);
	tcase_add_test(tc, test_timer_stop_waits_for_running_fn);
	tcase_add_test(tc, test_timer_heap_grows_past_512);
	tcase_add_test(tc, test_timer_fn_may_rearm);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* Fork mode stays on (Check's default): a gr_throw fails one case. */
	SRunner *sr = srunner_create(timer_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
