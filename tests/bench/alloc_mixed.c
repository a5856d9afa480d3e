/* alloc_mixed: T threads (argv[1]) allocate and free small objects of mixed
 * sizes 8..4096 (skewed to small), keeping a window of 1000 live objects
 * each; about 10% of the objects are freed by another thread (passed
 * through a per-thread lock-free exchange slot array). ops = mallocs. */
#include "alloc_common.h"
#include <stdatomic.h>

enum { WIN = 1000, XCH = 256 };
static long iters = 2000000;
static int nthreads;
static _Atomic(void *) xch[64][XCH];

struct arg { int id; int ok; };

static size_t pick_size(uint64_t r)
{
	unsigned k = (unsigned)(r % 100);
	if (k < 60) return 8 + (r >> 8) % 120;
	if (k < 90) return 128 + (r >> 8) % 896;
	return 1024 + (r >> 8) % 3073;
}

static void *worker(void *p)
{
	struct arg *a = p;
	uint64_t s = 88172645463325252ull + (uint64_t)a->id * 7919;
	void *win[WIN] = { 0 };
	for (long i = 0; i < iters; i++) {
		uint64_t r = xrnd(&s);
		size_t n = pick_size(r);
		char *o = malloc(n);
		o[0] = (char)i;
		o[n - 1] = (char)i;
		unsigned k = (unsigned)((r >> 32) % WIN);
		void *old = win[k];
		win[k] = o;
		if (!old)
			continue;
		if (nthreads > 1 && (r >> 48) % 10 == 0) {
			/* hand it to a neighbour, free what was there */
			int to = (a->id + 1 + (int)((r >> 20) % (unsigned)(nthreads - 1))) % nthreads;
			old = atomic_exchange_explicit(&xch[to][(r >> 40) % XCH], old, memory_order_acq_rel);
		}
		free(old);
	}
	for (int k = 0; k < WIN; k++)
		free(win[k]);
	a->ok = 1;
	return NULL;
}

int main(int argc, char **argv)
{
	nthreads = argc > 1 ? atoi(argv[1]) : 1;
	if (argc > 2)
		iters = atol(argv[2]);
	struct arg args[64] = { 0 };
	for (int i = 0; i < nthreads; i++)
		args[i].id = i;
	double t0 = now_ns();
	run_threads(nthreads, worker, args, sizeof args[0]);
	double t1 = now_ns();
	for (int i = 0; i < 64; i++)
		for (int k = 0; k < XCH; k++)
			free(atomic_load(&xch[i][k]));
	int ok = 1;
	for (int i = 0; i < nthreads; i++)
		ok &= args[i].ok;
	char name[32];
	snprintf(name, sizeof name, "alloc_mixed_t%d", nthreads);
	result(name, nthreads, (double)iters * nthreads, t1 - t0, ok);
	return 0;
}
