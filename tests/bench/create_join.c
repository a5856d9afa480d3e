/* create_join — what pthread_create + pthread_join cost.
 *
 * Two shapes, N threads each (default 100000):
 *   batch: create BATCH (100) threads, then join them, repeat;
 *   seq:   create one thread and join it before creating the next.
 * Every thread returns a small value computed from its index; main sums the
 * joined values and checks the sum, so a lost or doubled thread fails.
 * Output, one line per shape:
 *   RESULT name=create_join_batch runtime=native ops=N ns_per_op=X ok=1
 * Usage: bench_create_join [N]
 * Go equivalent: create_join.go. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define BATCH 100

static uint64_t value(uint64_t i)
{
	return (i * i + 7) % 1000003;
}

static void *work(void *arg)
{
	return (void *)(uintptr_t)value((uintptr_t)arg);
}

/* Creates and joins n threads, `batch` at a time; returns 0 and adds the
 * joined values to *sum, or returns the failing call's error number. */
static int run(long n, int batch, uint64_t *sum)
{
	pthread_t t[BATCH];

	for (long i = 0; i < n; i += batch) {
		int k = n - i < batch ? (int)(n - i) : batch;
		for (int j = 0; j < k; j++) {
			int err = pthread_create(&t[j], NULL, work, (void *)(uintptr_t)(i + j));
			if (err) {
				fprintf(stderr, "create_join: pthread_create: %s\n", strerror(err));
				return err;
			}
		}
		for (int j = 0; j < k; j++) {
			void *ret;
			int err = pthread_join(t[j], &ret);
			if (err) {
				fprintf(stderr, "create_join: pthread_join: %s\n", strerror(err));
				return err;
			}
			*sum += (uintptr_t)ret;
		}
	}
	return 0;
}

static int measure(const char *name, long n, int batch)
{
	uint64_t want = 0, sum = 0;

	for (long i = 0; i < n; i++)
		want += value(i);
	double t0 = now_ns();
	int err = run(n, batch, &sum);
	double t1 = now_ns();
	int ok = !err && sum == want;
	if (!err && !ok)
		fprintf(stderr, "create_join: %s: sum %llu, want %llu\n", name,
			(unsigned long long)sum, (unsigned long long)want);
	printf("RESULT name=%s runtime=%s ops=%ld ns_per_op=%.1f ok=%d\n",
	       name, runtime_name(), n, (t1 - t0) / n, ok);
	fflush(stdout);
	return ok;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;

	if (n <= 0) {
		fprintf(stderr, "usage: bench_create_join [N]\n");
		return 2;
	}
	int ok = measure("create_join_batch", n, BATCH);
	ok &= measure("create_join_seq", n, 1);
	return ok ? 0 : 1;
}
