/* parked — what a thread blocked on a condition variable costs.
 *
 * Starts N threads (default 10000) with default attributes. Each counts
 * itself under the mutex and waits on one shared condvar; the last one to
 * arrive wakes main. Because pthread_cond_wait releases the mutex only once
 * the waiter is queued, main holding the mutex with parked == N means all N
 * are really waiting. Main then reads /proc/self/status:
 *   os_threads            Threads (kernel threads in the process)
 *   rss_per_thread_bytes  (VmRSS parked - VmRSS before any thread) / N
 * then broadcasts, joins every thread and checks that each one woke.
 * Also reported: start_ns_per_thread (create until all parked, / N) and
 * wake_ns_per_thread (broadcast until all joined, / N).
 * Output: RESULT name=parked runtime=native threads=N os_threads=... ok=1
 * Usage: bench_parked [N]
 * Go equivalent: parked.go. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER;    /* parked threads wait here */
static pthread_cond_t arrived = PTHREAD_COND_INITIALIZER; /* main waits here */
static long nthreads;  /* threads to wait for; written before they start, then only under mu */
static long parked;    /* threads that reached the wait; protected by mu */
static long woken;     /* threads that got past the wait; protected by mu */
static int go;         /* set by main to release everyone; protected by mu */

static void *waiter(void *arg)
{
	pthread_mutex_lock(&mu);
	if (++parked == nthreads)
		pthread_cond_signal(&arrived);
	while (!go)
		pthread_cond_wait(&wake, &mu);
	woken++;
	pthread_mutex_unlock(&mu);
	return NULL;
}

int main(int argc, char **argv)
{
	long want = argc > 1 ? atol(argv[1]) : 10000;
	if (want <= 0) {
		fprintf(stderr, "usage: bench_parked [N]\n");
		return 2;
	}
	nthreads = want;
	pthread_t *t = calloc(want, sizeof *t);
	if (!t)
		return 1;
	long rss_before = proc_status("/proc/self/status", "VmRSS");

	double t0 = now_ns();
	long started = 0;
	for (; started < want; started++) {
		int err = pthread_create(&t[started], NULL, waiter, NULL);
		if (err) {
			fprintf(stderr, "parked: pthread_create #%ld: %s\n", started, strerror(err));
			break;
		}
	}
	pthread_mutex_lock(&mu);
	nthreads = started; /* fewer if a create failed: wait for those we have */
	while (parked < nthreads)
		pthread_cond_wait(&arrived, &mu);
	double t1 = now_ns();
	long os_threads = proc_status("/proc/self/status", "Threads");
	long rss_parked = proc_status("/proc/self/status", "VmRSS");
	go = 1;
	pthread_cond_broadcast(&wake);
	pthread_mutex_unlock(&mu);

	for (long i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	double t2 = now_ns();

	int ok = started == want && parked == want && woken == want;
	if (!ok)
		fprintf(stderr, "parked: started %ld, parked %ld, woken %ld, want %ld\n",
			started, parked, woken, want);
	printf("RESULT name=parked runtime=%s threads=%ld os_threads=%ld "
	       "rss_per_thread_bytes=%.0f start_ns_per_thread=%.1f wake_ns_per_thread=%.1f ok=%d\n",
	       runtime_name(), want, os_threads, (rss_parked - rss_before) * 1024.0 / want,
	       (t1 - t0) / want, (t2 - t1) / want, ok);
	free(t);
	return ok ? 0 : 1;
}
