/* gc_mark - mark throughput and pause of the collector (issue 7).
 *
 * Builds a pointer-dense heap (default 200 MiB: 64-byte nodes with eight
 * pointers each, to random other nodes, all reachable from one global
 * array) and runs collector cycles through grun_debug_gc_leaked (libgrun
 * only: natively it prints that it has nothing to measure). Prints the
 * pause of each cycle (the call's wall time: the world is stopped for
 * nearly all of it) and live MB / pause as the mark throughput. With
 * GRUN_DEBUG=gctrace=1 the gctrace line splits the pause into stop, mark
 * and termination.
 *
 *   bench_gc_mark [MiB] [cycles]
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

struct node {
	struct node *p[8];
};

static struct node **volatile roots;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 200;
	int cycles = argc > 2 ? atoi(argv[2]) : 5;
	long (*leaked)(long *) = (long (*)(long *))dlsym(RTLD_DEFAULT, "grun_debug_gc_leaked");
	if (!leaked) {
		printf("gc_mark: not under libgrun; nothing to measure\n");
		return 0;
	}
	size_t n = (mib << 20) / sizeof(struct node);
	struct node **a = malloc(n * sizeof *a);
	for (size_t i = 0; i < n; i++)
		a[i] = malloc(sizeof(struct node));
	uint64_t x = 88172645463325252ull;
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 8; k++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			a[i]->p[k] = a[x % n];
		}
	roots = a;
	double best = 1e9, sum = 0;
	for (int c = 0; c < cycles; c++) {
		long bytes;
		double t0 = now();
		long nl = leaked(&bytes);
		double dt = now() - t0;
		if (nl < 0) {
			printf("gc_mark: cycle failed\n");
			return 1;
		}
		sum += dt;
		if (dt < best)
			best = dt;
	}
	double live = (double)(n * (sizeof(struct node) + sizeof(void *))) / 1e6;
	printf("gc_mark: %zu MiB heap, %zu objects: pause best %.1f ms, mean %.1f ms; mark %.0f MB/s (best)\n",
	       mib, n, best * 1e3, sum / cycles * 1e3, live / best);
	return 0;
}
