/* alloc_large: T threads allocate buffers of 1..8 MiB, touch one byte per
 * 4 KiB page, keep a window of 8, free the oldest. ops = mallocs. */
#include "alloc_common.h"

static long iters = 5000;
struct arg { int id; int ok; };

static void *worker(void *v)
{
	struct arg *a = v;
	uint64_t s = 777 + (uint64_t)a->id;
	char *win[8] = { 0 };
	for (long i = 0; i < iters; i++) {
		size_t n = (1u << 20) + xrnd(&s) % (7u << 20);
		char *b = malloc(n);
		for (size_t k = 0; k < n; k += 4096)
			b[k] = (char)k;
		__asm__ volatile("" : : "r"(b) : "memory");	/* the stores and the malloc must happen */
		free(win[i % 8]);
		win[i % 8] = b;
	}
	for (int k = 0; k < 8; k++)
		free(win[k]);
	a->ok = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = argc > 1 ? atoi(argv[1]) : 1;
	if (argc > 2)
		iters = atol(argv[2]);
	struct arg args[64] = { 0 };
	for (int i = 0; i < nthreads; i++)
		args[i].id = i;
	double t0 = now_ns();
	run_threads(nthreads, worker, args, sizeof args[0]);
	double t1 = now_ns();
	int ok = 1;
	for (int i = 0; i < nthreads; i++)
		ok &= args[i].ok;
	char name[32];
	snprintf(name, sizeof name, "alloc_large_t%d", nthreads);
	result(name, nthreads, (double)iters * nthreads * 1000, t1 - t0, ok);	/* kops */
	return 0;
}
