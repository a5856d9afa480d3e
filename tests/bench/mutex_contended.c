/* mutex_contended — one mutex, 64 threads hammering it.
 *
 * 64 threads each increment a shared counter N/64 times (N default
 * 2560000) under one default pthread mutex, with a little work inside the
 * critical section (a second, dependent field). Self-check: the counter is
 * exactly N and the dependent field agrees with it (no lost update, no two
 * threads inside at once).
 * Output: RESULT name=mutex_contended runtime=native ops=N threads=64 ns_per_op=X ok=1
 * (ns_per_op = wall time / N increments.)
 * Usage: bench_mutex_contended [N]
 * Go equivalent: mutex_contended.go (sync.Mutex). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define NT 64

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t counter, shadow;
static long per_thread;
static int inside, overlaps;

static void *worker(void *arg)
{
	(void)arg;
	for (long i = 0; i < per_thread; i++) {
		pthread_mutex_lock(&mu);
		if (inside++)
			overlaps++;
		counter++;
		shadow = shadow * 31 + counter;
		inside--;
		pthread_mutex_unlock(&mu);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[NT];
	long n = argc > 1 ? atol(argv[1]) : 2560000;

	if (n < NT) {
		fprintf(stderr, "usage: bench_mutex_contended [N >= %d]\n", NT);
		return 2;
	}
	per_thread = n / NT;
	n = per_thread * NT;
	double t0 = now_ns();
	for (int i = 0; i < NT; i++) {
		int err = pthread_create(&t[i], NULL, worker, NULL);
		if (err) {
			fprintf(stderr, "mutex_contended: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	for (int i = 0; i < NT; i++)
		pthread_join(t[i], NULL);
	double t1 = now_ns();

	uint64_t want = 0;
	for (long i = 1; i <= n; i++)
		want = want * 31 + (uint64_t)i;
	int ok = counter == (uint64_t)n && shadow == want && overlaps == 0;
	if (!ok)
		fprintf(stderr, "mutex_contended: counter %llu want %ld, shadow %s, overlaps %d\n",
			(unsigned long long)counter, n, shadow == want ? "ok" : "wrong", overlaps);
	printf("RESULT name=mutex_contended runtime=%s ops=%ld threads=%d ns_per_op=%.1f ok=%d\n",
	       runtime_name(), n, NT, (t1 - t0) / n, ok);
	return ok ? 0 : 1;
}
