/* gc_collect_rss - GRUN_GC=collect bounds the memory of a leaky program
 * (issue 7).
 *
 * A 50 MiB live set (16384 chains of 64..1024-byte nodes, reachable only
 * through heap objects from one global) is mutated by 4 threads while the
 * same threads leak 2 GiB in all: objects of 256 B..32 KiB, written
 * through, some linked to the previous one (short garbage chains), and
 * dropped without free. Every thread owns every 4th chain and draws from
 * its own generator, so the final live set, and its checksum, do not
 * depend on the interleaving. Replaced nodes are dropped without free too.
 *
 * At the end the live set's checksum is printed (the same natively and
 * under libgrun: the collector freed nothing that was reachable, or the
 * checksum would differ or the walk crash). Under libgrun in collect mode
 * (grun_debug_gc_stats says so) the peak RSS (VmHWM) must stay under 5x
 * the live set's payload (its objects take ~85 MiB in size classes; the
 * pacer's goal is twice that, GOGC=100): without a collector it would
 * exceed 2 GiB; cycles must
 * have run and freed at least 1 GiB. Nothing calls grun_debug_gc: the
 * pacer starts the cycles. Natively it only prints the checksum (and uses
 * 2 GiB+ of memory). */
#include "itest.h"
#include "../../shims/grun_debug.h"

#define NTHREADS 4
#define NCHAINS 16384
#define LIVE_BYTES ((size_t)50 << 20)
#define LEAK_BYTES ((size_t)2 << 30)
#define LEAK_MIN 256
#define LEAK_MAX 32768
#define CHAIN_MAX 16            /* leaked objects linked to each other */

struct node {
    struct node *next;
    uint64_t key, val;
    uint32_t size;              /* bytes requested */
    uint32_t pad;
    uint64_t body[];            /* val ^ index, to the end */
};

struct table {
    uint64_t nchains;
    struct node *chain[];
};

static struct table *volatile g_table;

static uint64_t xrand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static struct node *new_node(uint64_t *rng, struct node *next)
{
    uint32_t size = 64 + (uint32_t)(xrand(rng) % 961) / 8 * 8;	/* 64..1024 */
    struct node *n = malloc(size);
    CHECK(n, "malloc(%u) failed", size);
    n->next = next;
    n->key = xrand(rng);
    n->val = xrand(rng);
    n->size = size;
    n->pad = 0;
    for (size_t i = 0; i < (size - sizeof *n) / 8; i++)
        n->body[i] = n->val ^ i;
    return n;
}

static uint64_t node_sum(const struct node *n)
{
    uint64_t h = n->key * 0x9e3779b97f4a7c15ull ^ n->val ^ n->size;
    for (size_t i = 0; i < (n->size - sizeof *n) / 8; i++)
        CHECK(n->body[i] == (n->val ^ i), "a live node's body changed: the collector freed it");
    return h;
}

/* The live set: about LIVE_BYTES of nodes, built by one thread. */
static void build(void)
{
    struct table *t = malloc(sizeof *t + NCHAINS * sizeof t->chain[0]);
    CHECK(t, "malloc");
    t->nchains = NCHAINS;
    uint64_t rng = 0x1234567887654321ull;
    size_t bytes = 0;
    for (size_t c = 0; c < NCHAINS; c++)
        t->chain[c] = NULL;
    for (size_t c = 0; bytes < LIVE_BYTES; c = (c + 1) % NCHAINS) {
        t->chain[c] = new_node(&rng, t->chain[c]);
        bytes += t->chain[c]->size;
    }
    g_table = t;
}

struct worker {
    int id;
    pthread_t thread;
};

/* Replace a random node of one of this thread's chains with a new one of
 * its own size; the old node is dropped without free. */
static void mutate(int id, uint64_t *rng)
{
    struct table *t = g_table;
    size_t c = (size_t)(xrand(rng) % (NCHAINS / NTHREADS)) * NTHREADS + (size_t)id;
    struct node **pp = &t->chain[c];
    if (!*pp)
        return;
    for (uint64_t k = xrand(rng) % 8; k > 0 && (*pp)->next; k--)
        pp = &(*pp)->next;
    struct node *old = *pp;
    struct node *n = new_node(rng, old->next);
    *pp = n;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    uint64_t rng = 0xa5a5a5a5a5a5a5a5ull ^ ((uint64_t)(w->id + 1) * 0x9e3779b97f4a7c15ull);
    uint64_t lrng = rng ^ 0x5555;	/* sizes of the leaks: its own stream */
    size_t leaked = 0;
    void *prev = NULL;
    for (uint64_t i = 0; leaked < LEAK_BYTES / NTHREADS; i++) {
        size_t size = LEAK_MIN + (size_t)(xrand(&lrng) % (LEAK_MAX - LEAK_MIN + 1));
        void **p = malloc(size);
        CHECK(p, "malloc(%zu) failed after %zu MiB leaked", size, leaked >> 20);
        memset(p, (int)(i & 0x7f), size);
        p[0] = i % CHAIN_MAX ? prev : NULL;	/* a garbage chain */
        prev = p;
        leaked += size;
        mutate(w->id, &rng);
    }
    return NULL;
}

static long hwm_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    CHECK(f, "/proc/self/status");
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmHWM: %ld kB", &v) == 1)
            break;
    fclose(f);
    return v;
}

int main(void)
{
    int (*stats)(struct grun_gc_stats *, size_t) =
        (int (*)(struct grun_gc_stats *, size_t))dlsym(RTLD_DEFAULT, "grun_debug_gc_stats");
    struct grun_gc_stats s0, s1;
    memset(&s0, 0, sizeof s0);
    int mode = -1;	/* native */
    if (stats) {
        CHECK(stats(&s0, sizeof s0) == 0, "grun_debug_gc_stats failed");
        mode = s0.mode;
    }

    build();
    struct worker w[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        w[i].id = i;
        PT(pthread_create(&w[i].thread, NULL, work, &w[i]));
    }
    for (int i = 0; i < NTHREADS; i++)
        PT(pthread_join(w[i].thread, NULL));

    uint64_t sum = 0, nodes = 0, bytes = 0;
    struct table *t = g_table;
    for (size_t c = 0; c < t->nchains; c++)
        for (struct node *n = t->chain[c]; n; n = n->next) {
            sum = sum * 31 + node_sum(n);
            nodes++;
            bytes += n->size;
        }
    printf("gc_collect_rss: %d threads leaked %zu MiB\n", NTHREADS, LEAK_BYTES >> 20);
    printf("gc_collect_rss: live set %llu nodes, %llu MiB, checksum %016llx\n", (unsigned long long)nodes,
           (unsigned long long)(bytes >> 20), (unsigned long long)sum);

    if (mode == GRUN_GC_COLLECT) {
        long hwm = hwm_kb();
        CHECK(stats(&s1, sizeof s1) == 0, "grun_debug_gc_stats failed");
        CHECK(s1.cycles > s0.cycles, "no collector cycle ran");
        CHECK(s1.freed_bytes - s0.freed_bytes >= ((uint64_t)1 << 30),
              "collect mode freed %llu MiB of the %zu MiB leaked",
              (unsigned long long)((s1.freed_bytes - s0.freed_bytes) >> 20), LEAK_BYTES >> 20);
        CHECK((size_t)hwm * 1024 < 5 * LIVE_BYTES,
              "peak RSS %ld MiB with a %zu MiB live set: over 5x (%llu cycles, %llu MiB freed)", hwm >> 10,
              LIVE_BYTES >> 20, (unsigned long long)(s1.cycles - s0.cycles),
              (unsigned long long)((s1.freed_bytes - s0.freed_bytes) >> 20));
    }
    return 0;
}
