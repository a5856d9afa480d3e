/* preempt_latency — how late a sleeping thread wakes up when the only CPU
 * slot is taken by a thread that spins without ever calling anything.
 * Run with one P: scripts/bench sets GRUN_MAXPROCS=1 (libgrun) and
 * GOMAXPROCS=1 (Go) for it; the native run is ordinary kernel threads.
 * A spinner thread runs a call-free loop (it only reads a flag); a sleeper
 * calls nanosleep(1 ms) in a loop for SECONDS (default 3) and measures each
 * call: delay = time the call took - 1 ms. With one P the sleeper can only
 * run again when the spinner is preempted, so the delays are the
 * preemption latency. Self-check: the sleeper woke at least 10 times and
 * the spinner did work.
 * Output: RESULT name=preempt_latency runtime=R ops=WAKEUPS p50_delay_ms=X
 *         p99_delay_ms=X worst_delay_ms=X ok=1
 * Usage: bench_preempt_latency [SECONDS]
 * Go equivalent: preempt_latency.go. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bench.h"

static atomic_int stop, started;
static uint64_t spun;

static void *spinner(void *arg)
{
	(void)arg;
	uint64_t x = 1;
	atomic_store(&started, 1);
	while (!atomic_load_explicit(&stop, memory_order_relaxed))
		for (int i = 0; i < 1000; i++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
	spun = x | 1;
	return NULL;
}

static int cmpd(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 3.0;
	if (secs <= 0) {
		fprintf(stderr, "usage: bench_preempt_latency [SECONDS]\n");
		return 2;
	}
	size_t cap = (size_t)(secs * 1000) + 16, n = 0;
	double *d = malloc(cap * sizeof *d);
	if (!d)
		return 1;
	pthread_t t;
	if (pthread_create(&t, NULL, spinner, NULL) != 0)
		return 1;
	struct timespec ms = { 0, 1000000 };
	while (!atomic_load(&started))
		nanosleep(&ms, NULL);
	double end = now_ns() + secs * 1e9;
	for (;;) {
		double t0 = now_ns();
		nanosleep(&ms, NULL);
		double t1 = now_ns();
		if (n < cap)
			d[n++] = (t1 - t0 - 1e6) / 1e6;
		if (t1 >= end)
			break;
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	qsort(d, n, sizeof *d, cmpd);
	int ok = n >= 10 && spun != 0;
	if (!ok)
		fprintf(stderr, "preempt_latency: %zu wake-ups, spinner %s\n", n, spun ? "ran" : "did not run");
	printf("RESULT name=preempt_latency runtime=%s ops=%zu p50_delay_ms=%.3f p99_delay_ms=%.3f "
	       "worst_delay_ms=%.3f ok=%d\n", runtime_name(), n, n ? d[n / 2] : 0,
	       n ? d[(size_t)(n * 0.99)] : 0, n ? d[n - 1] : 0, ok);
	return ok ? 0 : 1;
}
