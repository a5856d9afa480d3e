/* alloc_prodcons: T/2 producer threads malloc objects of 16..512 bytes and
 * pass them through a bounded ring to their consumer, which checks and
 * frees them (every free is a cross-thread free). ops = objects. */
#include "alloc_common.h"
#include <stdatomic.h>

enum { RING = 1024 };
static long iters = 2000000;

struct pair {
	_Atomic(void *) ring[RING];
	int id, ok;
	char pad[64];
};
static struct pair pairs[32];
struct arg { struct pair *p; int producer; int ok; };

static void *producer(struct pair *p)
{
	uint64_t s = 0x1234567 + (uint64_t)p->id;
	for (long i = 0; i < iters; i++) {
		size_t n = 16 + xrnd(&s) % 497;
		long *o = malloc(n);
		o[0] = i;
		_Atomic(void *) *slot = &p->ring[i % RING];
		while (atomic_load_explicit(slot, memory_order_acquire))
			sched_yield();
		atomic_store_explicit(slot, o, memory_order_release);
	}
	return NULL;
}

static int consumer(struct pair *p)
{
	for (long i = 0; i < iters; i++) {
		_Atomic(void *) *slot = &p->ring[i % RING];
		long *o;
		while (!(o = atomic_load_explicit(slot, memory_order_acquire)))
			sched_yield();
		atomic_store_explicit(slot, NULL, memory_order_release);
		if (o[0] != i)
			return 0;
		free(o);
	}
	return 1;
}

static void *worker(void *v)
{
	struct arg *a = v;
	if (a->producer)
		producer(a->p);
	else
		a->ok = consumer(a->p);
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = argc > 1 ? atoi(argv[1]) : 2;
	if (nthreads < 2)
		nthreads = 2;
	if (argc > 2)
		iters = atol(argv[2]);
	struct arg args[64];
	for (int i = 0; i < nthreads; i++) {
		args[i].p = &pairs[i / 2];
		args[i].p->id = i / 2;
		args[i].producer = i % 2 == 0;
		args[i].ok = 1;
	}
	double t0 = now_ns();
	run_threads(nthreads / 2 * 2, worker, args, sizeof args[0]);
	double t1 = now_ns();
	int ok = 1;
	for (int i = 0; i < nthreads; i++)
		ok &= args[i].ok;
	char name[32];
	snprintf(name, sizeof name, "alloc_prodcons_t%d", nthreads);
	result(name, nthreads, (double)iters * (nthreads / 2), t1 - t0, ok);
	return 0;
}
