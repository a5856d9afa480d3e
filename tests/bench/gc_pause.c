/* gc_pause — collector pauses and mutator throughput on a big
 * pointer-dense heap (issue 7).
 *
 * Builds a forest of binary trees of 64..256-byte nodes (three pointers
 * each: left, right and a cross pointer to a grandchild; the rest of the
 * node is a pattern derived from its key) totalling about MiB of live
 * heap, reachable from one global. Then THREADS threads mutate it for SECS
 * seconds: each owns every THREADS-th tree and repeatedly replaces a
 * random depth-4 subtree (63 nodes) with a new one. The old subtree is
 * dropped without free when GRUN_GC=collect (grun_debug_gc_stats says so:
 * garbage for the collector), and freed otherwise (natively, and in leak
 * mode, where nothing would reclaim it). Under libgrun a separate thread
 * also calls grun_debug_gc() every 500 ms, so cycles run whatever the
 * pacer does. At the end every tree is walked and checked (shape, keys,
 * patterns: a node the collector freed while reachable fails it).
 *
 * Output: RESULT name=gc_pause_<MiB>m runtime=R gc=MODE threads=T
 *   nodes_per_s=... mutation_max_ms=... peak_rss_mib=... [cycles= pauses= pause_max_ms=
 *   pause_total_ms=] ok=1
 * The per-cycle pauses come from GRUN_DEBUG=gctrace=1 on stderr
 * (scripts/bench -k gc parses them: p50/p99/max of the STW phases).
 * The process ends with _exit after printing, skipping libgrun's
 * exit-time cycle over a heap of several GiB.
 *
 *   bench_gc_pause [MiB] [secs] [threads]
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "bench.h"
#include "../../shims/grun_debug.h"

#define DEPTH 10		/* a tree: 1023 nodes */
#define SUBDEPTH 6		/* a replaced subtree: 63 nodes, at depth 4 */
#define KEYTAG 0xbeef000000000000ull
#define MAXTHREADS 64

struct node {
	struct node *l, *r, *x;	/* x: a grandchild, or NULL */
	uint64_t key;		/* KEYTAG | random; low byte: words of pat[] */
	uint64_t pat[];		/* key ^ i */
};

struct forest {
	size_t ntrees;
	struct node *tree[];
};

static struct forest *volatile g_forest;
static bool drop_garbage;	/* collect mode: replaced subtrees are dropped */
static atomic_bool stop;
static int nthreads;

static uint64_t xrnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void set_cross(struct node *n)
{
	n->x = n->l ? ((n->key >> 8) & 1 ? n->l->l : n->l->r) : NULL;
}

static struct node *build(int depth, uint64_t *rng)
{
	if (depth == 0)
		return NULL;
	uint64_t r = xrnd(rng);
	size_t words = (r % 25) + 4;		/* 4..28: 64..256 bytes in all */
	struct node *n = malloc(sizeof *n + words * 8);
	if (!n) {
		fprintf(stderr, "gc_pause: out of memory\n");
		exit(1);
	}
	n->key = KEYTAG | (r & 0xffffffffff00ull) | words;
	for (size_t i = 0; i < words; i++)
		n->pat[i] = n->key ^ i;
	n->l = build(depth - 1, rng);
	n->r = build(depth - 1, rng);
	set_cross(n);
	return n;
}

static void destroy(struct node *n)
{
	if (!n)
		return;
	destroy(n->l);
	destroy(n->r);
	free(n);
}

/* Nodes of a tree if it is intact, else -1. */
static long check(const struct node *n, int depth)
{
	if (depth == 0)
		return n ? -1 : 0;
	if (!n || (n->key & 0xffff000000000000ull) != KEYTAG)
		return -1;
	size_t words = n->key & 0xff;
	if (words < 4 || words > 28)
		return -1;
	for (size_t i = 0; i < words; i++)
		if (n->pat[i] != (n->key ^ i))
			return -1;
	long a = check(n->l, depth - 1), b = check(n->r, depth - 1);
	if (a < 0 || b < 0)
		return -1;
	return a + b + 1;
}

struct worker {
	int id;
	pthread_t thread;
	uint64_t nodes;		/* allocated by mutations */
	double worst_ns;	/* the longest single mutation: what the
				 * program sees of pauses and of waits for
				 * the collector (assists) */
};

static void mutate(struct forest *f, int id, uint64_t *rng)
{
	size_t mine = (f->ntrees - (size_t)id + (size_t)nthreads - 1) / (size_t)nthreads;
	size_t t = (size_t)(xrnd(rng) % mine) * (size_t)nthreads + (size_t)id;
	struct node *path[DEPTH - SUBDEPTH + 1];
	struct node **slot = &f->tree[t];
	int d = 0;
	path[d] = *slot;
	while (d < DEPTH - SUBDEPTH) {
		slot = xrnd(rng) & 1 ? &path[d]->l : &path[d]->r;
		path[++d] = *slot;
	}
	struct node *old = *slot;
	*slot = build(SUBDEPTH, rng);
	/* The cross pointers of the parent and grandparent may point into
	 * the old subtree: point them at the new one. */
	set_cross(path[d - 1]);
	if (d >= 2)
		set_cross(path[d - 2]);
	if (!drop_garbage)
		destroy(old);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t rng = 0x9e3779b97f4a7c15ull * (uint64_t)(w->id + 1);
	struct forest *f = g_forest;
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int i = 0; i < 64; i++) {
			double t = now_ns();
			mutate(f, w->id, &rng);
			t = now_ns() - t;
			if (t > w->worst_ns)
				w->worst_ns = t;
		}
		w->nodes += 64 * ((1u << SUBDEPTH) - 1);
	}
	return NULL;
}

struct builder {
	int id;
	pthread_t thread;
	size_t from, to;
};

static void *build_part(void *arg)
{
	struct builder *b = arg;
	uint64_t rng = 0x1234567887654321ull ^ (uint64_t)(b->id + 1) * 0x9e3779b97f4a7c15ull;
	for (size_t t = b->from; t < b->to; t++)
		g_forest->tree[t] = build(DEPTH, &rng);
	return NULL;
}

static long (*gc_fn)(void);

static void *gc_loop(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		usleep(500000);
		if (!atomic_load(&stop))
			gc_fn();
	}
	return NULL;
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
	double secs = argc > 2 ? atof(argv[2]) : 10;
	nthreads = argc > 3 ? atoi(argv[3]) : 4;
	if (mib == 0 || secs <= 0 || nthreads < 1 || nthreads > MAXTHREADS) {
		fprintf(stderr, "usage: bench_gc_pause [MiB] [secs] [threads<=%d]\n", MAXTHREADS);
		return 2;
	}
	int (*stats)(struct grun_gc_stats *, size_t) =
		(int (*)(struct grun_gc_stats *, size_t))dlsym(RTLD_DEFAULT, "grun_debug_gc_stats");
	gc_fn = (long (*)(void))dlsym(RTLD_DEFAULT, "grun_debug_gc");
	struct grun_gc_stats s0, s1;
	memset(&s0, 0, sizeof s0);
	const char *mode = "none";
	if (stats && stats(&s0, sizeof s0) == 0) {
		static const char *const names[] = { "leak", "collect", "quarantine", "off" };
		mode = s0.mode >= 0 && s0.mode <= 3 ? names[s0.mode] : "?";
		drop_garbage = s0.mode == GRUN_GC_COLLECT;
	}

	/* Mean node: 32 + 8 * 16 = 160 bytes; a tree 1023 of them. */
	size_t ntrees = (mib << 20) / (1023 * 160);
	if (ntrees < (size_t)nthreads)
		ntrees = (size_t)nthreads;
	struct forest *f = calloc(1, sizeof *f + ntrees * sizeof f->tree[0]);
	if (!f)
		return 1;
	f->ntrees = ntrees;
	g_forest = f;
	double t0 = now_ns();
	struct builder b[MAXTHREADS];
	for (int i = 0; i < nthreads; i++) {
		b[i].id = i;
		b[i].from = ntrees * (size_t)i / (size_t)nthreads;
		b[i].to = ntrees * (size_t)(i + 1) / (size_t)nthreads;
		pthread_create(&b[i].thread, NULL, build_part, &b[i]);
	}
	for (int i = 0; i < nthreads; i++)
		pthread_join(b[i].thread, NULL);
	double t_built = now_ns();
	fprintf(stderr, "gc_pause: built %zu trees (%zu nodes) in %.1f s\n", ntrees, ntrees * 1023,
		(t_built - t0) / 1e9);
	if (stats)
		stats(&s0, sizeof s0);	/* the mutation phase only */

	pthread_t gct;
	bool gc_thread = gc_fn && stats && s0.mode != GRUN_GC_OFF;
	if (gc_thread)
		pthread_create(&gct, NULL, gc_loop, NULL);
	struct worker w[MAXTHREADS];
	double t1 = now_ns();
	for (int i = 0; i < nthreads; i++) {
		w[i].id = i;
		w[i].nodes = 0;
		w[i].worst_ns = 0;
		pthread_create(&w[i].thread, NULL, work, &w[i]);
	}
	struct timespec d = { (time_t)secs, (long)((secs - (double)(time_t)secs) * 1e9) };
	nanosleep(&d, NULL);
	atomic_store(&stop, true);
	uint64_t nodes = 0;
	double worst = 0;
	for (int i = 0; i < nthreads; i++) {
		pthread_join(w[i].thread, NULL);
		nodes += w[i].nodes;
		if (w[i].worst_ns > worst)
			worst = w[i].worst_ns;
	}
	double t2 = now_ns();
	if (gc_thread)
		pthread_join(gct, NULL);

	int ok = 1;
	for (size_t t = 0; t < ntrees; t++)
		if (check(f->tree[t], DEPTH) != 1023) {
			fprintf(stderr, "gc_pause: tree %zu is damaged\n", t);
			ok = 0;
			break;
		}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("RESULT name=gc_pause_%zum runtime=%s gc=%s threads=%d nodes_per_s=%.0f mutation_max_ms=%.3f "
	       "peak_rss_mib=%ld", mib, runtime_name(), mode, nthreads, (double)nodes / ((t2 - t1) / 1e9),
	       worst / 1e6, ru.ru_maxrss >> 10);
	if (stats && stats(&s1, sizeof s1) == 0)
		printf(" cycles=%llu pauses=%llu pause_max_ms=%.3f pause_total_ms=%.3f",
		       (unsigned long long)(s1.cycles - s0.cycles), (unsigned long long)(s1.pauses - s0.pauses),
		       s1.pause_max_ns / 1e6, (s1.pause_total_ns - s0.pause_total_ns) / 1e6);
	printf(" ok=%d\n", ok);
	fflush(stdout);
	_exit(ok ? 0 : 1);
}
