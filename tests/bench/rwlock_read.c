/* rwlock_read — a read-mostly rwlock: 32 readers and 1 writer.
 *
 * 32 reader threads each take the read lock N times (N default 100000) and
 * check a pair of fields the writer keeps equal; one writer takes the write
 * lock N/100 times, updating the pair in two steps. Self-check: no reader
 * ever sees the pair unequal (a torn write), every reader made N reads, and
 * the pair ends at N/100.
 * Output: RESULT name=rwlock_read runtime=native ops=32*N threads=33 ns_per_op=X ok=1
 * (ns_per_op = wall time / (32*N reads); the writes ride along.)
 * Usage: bench_rwlock_read [N]
 * Go equivalent: rwlock_read.go (sync.RWMutex). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define NR 32

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static volatile uint64_t field_a, field_b;
static long reads_per, writes;
static long done_reads[NR], torn[NR];

static void *reader(void *arg)
{
	int id = (int)(intptr_t)arg;
	for (long i = 0; i < reads_per; i++) {
		pthread_rwlock_rdlock(&rw);
		if (field_a != field_b)
			torn[id]++;
		done_reads[id]++;
		pthread_rwlock_unlock(&rw);
	}
	return NULL;
}

static void *writer(void *arg)
{
	(void)arg;
	for (long i = 0; i < writes; i++) {
		pthread_rwlock_wrlock(&rw);
		field_a = field_a + 1;
		field_b = field_b + 1;
		pthread_rwlock_unlock(&rw);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t[NR + 1];

	reads_per = argc > 1 ? atol(argv[1]) : 100000;
	if (reads_per < 100) {
		fprintf(stderr, "usage: bench_rwlock_read [N >= 100]\n");
		return 2;
	}
	writes = reads_per / 100;
	double t0 = now_ns();
	for (int i = 0; i <= NR; i++) {
		int err = i < NR ? pthread_create(&t[i], NULL, reader, (void *)(intptr_t)i)
				 : pthread_create(&t[i], NULL, writer, NULL);
		if (err) {
			fprintf(stderr, "rwlock_read: pthread_create: %s\n", strerror(err));
			return 1;
		}
	}
	for (int i = 0; i <= NR; i++)
		pthread_join(t[i], NULL);
	double t1 = now_ns();

	long reads = 0, torn_reads = 0;
	for (int i = 0; i < NR; i++) {
		reads += done_reads[i];
		torn_reads += torn[i];
	}
	long ops = (long)NR * reads_per;
	int ok = reads == ops && torn_reads == 0 && field_a == (uint64_t)writes && field_b == field_a;
	if (!ok)
		fprintf(stderr, "rwlock_read: reads %ld want %ld, torn %ld, fields %llu/%llu want %ld\n",
			reads, ops, torn_reads, (unsigned long long)field_a,
			(unsigned long long)field_b, writes);
	printf("RESULT name=rwlock_read runtime=%s ops=%ld threads=%d ns_per_op=%.1f ok=%d\n",
	       runtime_name(), ops, NR + 1, (t1 - t0) / ops, ok);
	return ok ? 0 : 1;
}
