/* gc_leaky — peak memory of a leaky program (issue 7: "GRUN_GC=collect
 * holds at most 2x the live set; Go holds ~3x").
 *
 * A 50 MiB live set (16384 chains of 64..1024-byte nodes, reachable only
 * through heap objects from one global) is mutated by 4 threads while they
 * leak LEAK MiB in all (default 2048): objects of 256 B..32 KiB, written
 * through, linked in short chains, dropped without free; replaced nodes
 * are dropped too. Each thread owns every 4th chain and draws from its own
 * xorshift generator, so the final live set and its checksum are the same
 * natively, under libgrun and in the Go version (gc_leaky.go, which makes
 * the same draws). Natively the peak RSS is everything leaked; under
 * libgrun with GRUN_GC=collect it is what the collector lets the heap
 * grow to. At the end every live node's body is checked.
 *
 * Output: RESULT name=gc_leaky runtime=R live_mib=50 leaked_mib=L
 *   peak_rss_mib=P rss_ratio=P/50 time_ms=T checksum=X ok=1
 *
 *   bench_gc_leaky [LEAK_MiB]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "bench.h"

#define NTHREADS 4
#define NCHAINS 16384
#define LIVE_BYTES ((size_t)50 << 20)
#define LEAK_MIN 256
#define LEAK_MAX 32768
#define CHAIN_MAX 16

struct node {
	struct node *next;
	uint64_t key, val;
	uint32_t size;		/* bytes requested */
	uint32_t pad;
	uint64_t body[];	/* val ^ index */
};

static struct node **volatile g_chains;	/* NCHAINS heads, a heap array */
static size_t leak_bytes = (size_t)2 << 30;

static uint64_t xrand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static struct node *new_node(uint64_t *rng, struct node *next)
{
	uint32_t size = 64 + (uint32_t)(xrand(rng) % 961) / 8 * 8;
	struct node *n = malloc(size);
	if (!n) {
		fprintf(stderr, "gc_leaky: out of memory\n");
		exit(1);
	}
	n->next = next;
	n->key = xrand(rng);
	n->val = xrand(rng);
	n->size = size;
	n->pad = 0;
	for (size_t i = 0; i < (size - sizeof *n) / 8; i++)
		n->body[i] = n->val ^ i;
	return n;
}

static void mutate(int id, uint64_t *rng)
{
	struct node **pp = &g_chains[(xrand(rng) % (NCHAINS / NTHREADS)) * NTHREADS + (uint64_t)id];
	if (!*pp)
		return;
	for (uint64_t k = xrand(rng) % 8; k > 0 && (*pp)->next; k--)
		pp = &(*pp)->next;
	*pp = new_node(rng, (*pp)->next);	/* the old node is dropped */
}

static void *work(void *arg)
{
	int id = (int)(intptr_t)arg;
	uint64_t rng = 0xa5a5a5a5a5a5a5a5ull ^ ((uint64_t)(id + 1) * 0x9e3779b97f4a7c15ull);
	uint64_t lrng = rng ^ 0x5555;
	size_t leaked = 0;
	void *prev = NULL;
	for (uint64_t i = 0; leaked < leak_bytes / NTHREADS; i++) {
		size_t size = LEAK_MIN + (size_t)(xrand(&lrng) % (LEAK_MAX - LEAK_MIN + 1));
		void **p = malloc(size);
		if (!p) {
			fprintf(stderr, "gc_leaky: out of memory\n");
			exit(1);
		}
		memset(p, (int)(i & 0x7f), size);
		p[0] = i % CHAIN_MAX ? prev : NULL;
		prev = p;
		leaked += size;
		mutate(id, &rng);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		leak_bytes = strtoull(argv[1], NULL, 10) << 20;
	double t0 = now_ns();
	struct node **chains = calloc(NCHAINS, sizeof *chains);
	if (!chains)
		return 1;
	uint64_t rng = 0x1234567887654321ull;
	size_t bytes = 0;
	for (size_t c = 0; bytes < LIVE_BYTES; c = (c + 1) % NCHAINS) {
		chains[c] = new_node(&rng, chains[c]);
		bytes += chains[c]->size;
	}
	g_chains = chains;
	pthread_t t[NTHREADS];
	for (int i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, work, (void *)(intptr_t)i);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	double t1 = now_ns();

	uint64_t sum = 0;
	int ok = 1;
	for (size_t c = 0; c < NCHAINS; c++)
		for (struct node *n = g_chains[c]; n; n = n->next) {
			for (size_t i = 0; i < (n->size - sizeof *n) / 8; i++)
				if (n->body[i] != (n->val ^ i))
					ok = 0;
			sum = sum * 31 + (n->key * 0x9e3779b97f4a7c15ull ^ n->val ^ n->size);
		}
	if (!ok)
		fprintf(stderr, "gc_leaky: a live node changed\n");
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	long peak = ru.ru_maxrss >> 10;
	printf("RESULT name=gc_leaky runtime=%s live_mib=%zu leaked_mib=%zu peak_rss_mib=%ld rss_ratio=%.2f "
	       "time_ms=%.0f checksum=%016llx ok=%d\n", runtime_name(), LIVE_BYTES >> 20, leak_bytes >> 20, peak,
	       (double)peak / (double)(LIVE_BYTES >> 20), (t1 - t0) / 1e6, (unsigned long long)sum, ok);
	return ok ? 0 : 1;
}
