/* alloc_common.h — shared by the allocator benchmarks (alloc_*.c): thread
 * start/stop, a cheap RNG, peak RSS, and the RESULT line. Each benchmark
 * is an unmodified pthread program; scripts/bench runs it with each
 * allocator preloaded (glibc = none, jemalloc, tcmalloc, mimalloc,
 * libgrun). */
#ifndef ALLOC_COMMON_H
#define ALLOC_COMMON_H

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "bench.h"

static inline uint64_t xrnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static inline long peak_rss_kb(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static inline void run_threads(int n, void *(*fn)(void *), void *args, size_t argsize)
{
	pthread_t t[64];
	for (int i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, fn, (char *)args + i * argsize) != 0) {
			fprintf(stderr, "pthread_create failed\n");
			exit(1);
		}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
}

static inline void result(const char *name, int threads, double ops, double ns, int ok)
{
	printf("RESULT name=%s threads=%d runtime=%s mops_per_s=%.2f peak_rss_kb=%ld ok=%d\n", name, threads,
	       runtime_name(), ops / ns * 1e3, peak_rss_kb(), ok);
	fflush(stdout);
}

#endif
