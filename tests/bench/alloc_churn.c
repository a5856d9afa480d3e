/* alloc_churn: T threads repeatedly create a short-lived thread that
 * allocates 200 small objects, frees half of them and returns the rest to
 * its creator, which frees them (thread caches born and dying). ops =
 * threads created. */
#include "alloc_common.h"

static long iters = 5000;
struct arg { int id; int ok; };

static void *child(void *v)
{
	void **keep = malloc(100 * sizeof *keep);
	for (int i = 0; i < 200; i++) {
		void *p = malloc(16 + (size_t)i * 5);
		memset(p, i, 16);
		if (i % 2)
			keep[i / 2] = p;
		else
			free(p);
	}
	return keep;
}

static void *worker(void *v)
{
	struct arg *a = v;
	a->ok = 1;
	for (long i = 0; i < iters; i++) {
		pthread_t t;
		void **keep;
		if (pthread_create(&t, NULL, child, NULL) != 0 || pthread_join(t, (void **)&keep) != 0) {
			a->ok = 0;
			return NULL;
		}
		for (int k = 0; k < 100; k++) {
			if (((unsigned char *)keep[k])[0] != (unsigned char)(2 * k + 1))
				a->ok = 0;
			free(keep[k]);
		}
		free(keep);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = argc > 1 ? atoi(argv[1]) : 1;
	if (argc > 2)
		iters = atol(argv[2]);
	struct arg args[64] = { 0 };
	double t0 = now_ns();
	run_threads(nthreads, worker, args, sizeof args[0]);
	double t1 = now_ns();
	int ok = 1;
	for (int i = 0; i < nthreads; i++)
		ok &= args[i].ok;
	char name[32];
	snprintf(name, sizeof name, "alloc_churn_t%d", nthreads);
	result(name, nthreads, (double)iters * nthreads, t1 - t0, ok);
	return 0;
}
