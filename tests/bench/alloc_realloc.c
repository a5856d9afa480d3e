/* alloc_realloc: T threads each grow buffers with realloc from 16 bytes to
 * 1 MiB in steps of 1.25x + 16 (a string builder), checking the contents,
 * then free them. ops = reallocs. */
#include "alloc_common.h"

static long rounds = 2000;
struct arg { int id; int ok; long ops; };

static void *worker(void *v)
{
	struct arg *a = v;
	a->ok = 1;
	for (long r = 0; r < rounds; r++) {
		char *b = NULL;
		size_t n = 16, have = 0;
		while (n < (1u << 20)) {
			b = realloc(b, n);
			if (have && (b[0] != (char)r || b[have - 1] != (char)(r + 1)))
				a->ok = 0;
			b[0] = (char)r;
			b[n - 1] = (char)(r + 1);
			have = n;
			n = n + n / 4 + 16;
			a->ops++;
		}
		free(b);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = argc > 1 ? atoi(argv[1]) : 1;
	if (argc > 2)
		rounds = atol(argv[2]);
	struct arg args[64] = { 0 };
	double t0 = now_ns();
	run_threads(nthreads, worker, args, sizeof args[0]);
	double t1 = now_ns();
	int ok = 1;
	long ops = 0;
	for (int i = 0; i < nthreads; i++)
		ok &= args[i].ok, ops += args[i].ops;
	char name[32];
	snprintf(name, sizeof name, "alloc_realloc_t%d", nthreads);
	result(name, nthreads, (double)ops, t1 - t0, ok);
	return 0;
}
