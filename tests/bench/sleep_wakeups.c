/* sleep_wakeups — many threads sleeping in short intervals: how many
 * wake-ups per second the runtime delivers, and how late.
 *
 * N threads (default 10000) wait at a start gate; once all exist, main
 * releases them and each calls usleep(1000) in a loop for 2 s, measuring
 * every call: oversleep = time the call took - 1 ms (0 if shorter). Each
 * thread keeps a histogram of its oversleeps (1 us buckets below 128 us,
 * then 16 per power of two, i.e. within 6%); main merges them.
 * Self-check: every thread woke at least once and the histograms hold
 * exactly the wake-ups counted.
 * Output: RESULT name=sleep_wakeups runtime=native threads=N ns_per_wakeup=X
 *         p50_oversleep_us=X p99_oversleep_us=X os_threads=N ok=1
 * ns_per_wakeup = wall time from release until all threads ended, divided
 * by the wake-ups of all threads (wake-ups per second = 1e9 / ns_per_wakeup);
 * os_threads = Threads in /proc/self/status at mid-run.
 * Usage: bench_sleep_wakeups [N]
 * Go equivalent: sleep_wakeups.go (time.Sleep). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define NB 512
#define SECONDS 2.0

struct sleeper {
	pthread_t t;
	long wakeups;
	uint16_t hist[NB];  /* at most 2000 wake-ups per thread: no overflow */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int released;
static double end_ns;

static int bucket(long us)
{
	if (us < 128)
		return (int)us;
	int o = 63 - __builtin_clzl((unsigned long)us);
	if (o > 30)
		return NB - 1;
	return 128 + (o - 7) * 16 + (int)((us >> (o - 4)) & 15);
}

/* The middle of bucket i, in microseconds. */
static double bucket_us(int i)
{
	if (i < 128)
		return i;
	int o = 7 + (i - 128) / 16, sub = (i - 128) % 16;
	double lo = (double)((16L + sub) << (o - 4));
	return lo + (double)(1L << (o - 4)) / 2;
}

static void *sleeper(void *arg)
{
	struct sleeper *s = arg;
	pthread_mutex_lock(&mu);
	while (!released)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	for (;;) {
		double t0 = now_ns();
		usleep(1000);
		double t1 = now_ns();
		long over = (long)((t1 - t0 - 1e6) / 1e3);
		s->hist[bucket(over < 0 ? 0 : over)]++;
		s->wakeups++;
		if (t1 >= end_ns)
			break;
	}
	return NULL;
}

static double percentile(const uint64_t *h, long total, double q)
{
	long want = (long)(total * q + 0.5), seen = 0;
	if (want < 1)
		want = 1;
	for (int i = 0; i < NB; i++) {
		seen += (long)h[i];
		if (seen >= want)
			return bucket_us(i);
	}
	return bucket_us(NB - 1);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10000;
	if (n <= 0) {
		fprintf(stderr, "usage: bench_sleep_wakeups [N]\n");
		return 2;
	}
	struct sleeper *s = calloc(n, sizeof *s);
	if (!s)
		return 1;
	for (long i = 0; i < n; i++) {
		int err = pthread_create(&s[i].t, NULL, sleeper, &s[i]);
		if (err) {
			fprintf(stderr, "sleep_wakeups: pthread_create %ld: %s\n", i, strerror(err));
			return 1;
		}
	}
	pthread_mutex_lock(&mu);
	double t0 = now_ns();
	end_ns = t0 + SECONDS * 1e9;
	released = 1;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
	usleep((useconds_t)(SECONDS * 0.5e6));
	long os_threads = proc_status("/proc/self/status", "Threads");
	for (long i = 0; i < n; i++)
		pthread_join(s[i].t, NULL);
	double wall = now_ns() - t0;

	static uint64_t h[NB];
	long total = 0, lazy = 0, in_hist = 0;
	for (long i = 0; i < n; i++) {
		total += s[i].wakeups;
		lazy += s[i].wakeups == 0;
		for (int b = 0; b < NB; b++) {
			h[b] += s[i].hist[b];
			in_hist += s[i].hist[b];
		}
	}
	int ok = lazy == 0 && total > 0 && in_hist == total;
	if (!ok)
		fprintf(stderr, "sleep_wakeups: %ld threads never woke, %ld wake-ups, %ld in histograms\n",
			lazy, total, in_hist);
	printf("RESULT name=sleep_wakeups runtime=%s threads=%ld ns_per_wakeup=%.1f p50_oversleep_us=%.1f "
	       "p99_oversleep_us=%.1f os_threads=%ld ok=%d\n", runtime_name(), n,
	       total ? wall / total : 0, percentile(h, total, 0.5), percentile(h, total, 0.99), os_threads, ok);
	fprintf(stderr, "sleep_wakeups: %.0f wake-ups/s\n", total / (wall / 1e9));
	return ok ? 0 : 1;
}
