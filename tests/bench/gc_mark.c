/* gc_mark - mark throughput of the collector (issue 7).
 *
 * Builds a pointer-dense heap (default 200 MiB: 64-byte nodes with eight
 * pointers each, all reachable from one global array). Shape "random"
 * (the default): each pointer to a random node, the worst case (every
 * pointer a cache miss on its span and its object). Shape "tree": an
 * 8-ary tree in allocation order (node i points to nodes 8i+1..8i+8),
 * children side by side as a program that builds its structures in
 * order has them. Then runs collector cycles through grun_debug_gc_leaked
 * (libgrun only: natively it prints that it has nothing to measure) with
 * the program idle, and prints the best cycle's wall time (one thread
 * marks; the pauses are a small part of it: GRUN_DEBUG=gctrace=1) and
 * live MB / that time as the mark throughput per core.
 *
 * Output ends with a RESULT line (scripts/bench -k gc):
 *   RESULT name=gc_mark shape=S mib=M objects=N cycle_best_ms=... mark_mb_s=...
 *
 *   bench_gc_mark [MiB] [cycles] [random|tree]
 */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
	const char *shape = argc > 3 ? argv[3] : "random";
	if (mib == 0 || cycles < 1 || (strcmp(shape, "random") && strcmp(shape, "tree"))) {
		fprintf(stderr, "usage: bench_gc_mark [MiB] [cycles] [random|tree]\n");
		return 2;
	}
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
	bool tree = !strcmp(shape, "tree");
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < 8; k++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			size_t c = 8 * i + (size_t)k + 1;
			a[i]->p[k] = !tree ? a[x % n] : c < n ? a[c] : NULL;
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
	printf("gc_mark: %zu MiB heap (%s), %zu objects: cycle best %.1f ms, mean %.1f ms; mark %.0f MB/s (best)\n",
	       mib, shape, n, best * 1e3, sum / cycles * 1e3, live / best);
	printf("RESULT name=gc_mark shape=%s mib=%zu objects=%zu cycle_best_ms=%.1f mark_mb_s=%.0f\n", shape, mib, n,
	       best * 1e3, live / best);
	return 0;
}
