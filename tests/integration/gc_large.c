/* gc_large - large objects stay allocated while only their allocating
 * thread knows them (issue 7: "never free live memory").
 *
 * Main first allocates one 40 MiB buffer (past the collector's first goal:
 * the allocation itself starts the first cycle, and with it the
 * collector's threads), then 4 threads each keep a window of 8 large
 * buffers (256 KiB..4 MiB, past the small size classes), replacing the
 * oldest each step: a new buffer gets a header (magic, owner, sequence
 * number, size) and a tail word at once; the buffer it replaces is checked
 * and freed. A large allocation that starts a cycle or waits for one (the
 * heap past its goal) must not let that cycle free the buffer it is about
 * to return: a freed buffer shows here as a header or tail that changed
 * (its pages reused), or as free() reporting an invalid pointer. Run in
 * collect mode with a low GRUN_GCPERCENT, so that allocations wait for
 * cycles often. The output (counts and a checksum of the headers) is the
 * same natively and under libgrun. */
#include "itest.h"

#define NTHREADS 4
#define WINDOW 8
#define STEPS 400
#define MAGIC 0x6c617267652d6763ull	/* "large-gc" */

struct hdr {
    uint64_t magic, owner, seq, size;
};

static uint64_t xrand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void *fill(uint64_t owner, uint64_t seq, size_t size)
{
    struct hdr *h = malloc(size);
    CHECK(h, "malloc(%zu) failed", size);
    h->magic = MAGIC;
    h->owner = owner;
    h->seq = seq;
    h->size = size;
    ((uint64_t *)h)[size / 8 - 1] = MAGIC ^ owner ^ seq;
    return h;
}

static uint64_t check(const struct hdr *h, uint64_t owner, uint64_t seq)
{
    CHECK(h->magic == MAGIC && h->owner == owner && h->seq == seq,
          "buffer %llu of thread %llu changed: the collector freed it while its thread held it",
          (unsigned long long)seq, (unsigned long long)owner);
    CHECK(((const uint64_t *)h)[h->size / 8 - 1] == (MAGIC ^ owner ^ seq),
          "the end of buffer %llu of thread %llu changed", (unsigned long long)seq,
          (unsigned long long)owner);
    return h->size * 31 + seq;
}

static uint64_t sums[NTHREADS];

static void *run(void *arg)
{
    uint64_t id = (uint64_t)(uintptr_t)arg, rng = 0x9e3779b97f4a7c15ull + id * 7919;
    struct hdr *win[WINDOW] = { 0 };
    uint64_t seqs[WINDOW] = { 0 }, sum = 0;
    for (uint64_t seq = 1; seq <= STEPS; seq++) {
        size_t size = ((size_t)256 << 10) + (size_t)(xrand(&rng) % (15u << 18)) / 64 * 64;
        struct hdr *b = fill(id, seq, size);
        int k = (int)(seq % WINDOW);
        if (win[k]) {
            sum += check(win[k], id, seqs[k]);
            free(win[k]);
        }
        win[k] = b;
        seqs[k] = seq;
    }
    for (int k = 0; k < WINDOW; k++) {
        sum += check(win[k], id, seqs[k]);
        free(win[k]);
    }
    sums[id] = sum;
    return NULL;
}

int main(void)
{
    struct hdr *first = fill(99, 1, (size_t)40 << 20);
    pthread_t t[NTHREADS];
    for (int i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&t[i], NULL, run, (void *)(uintptr_t)i) == 0, "pthread_create");
    uint64_t total = check(first, 99, 1);
    for (int i = 0; i < NTHREADS; i++) {
        CHECK(pthread_join(t[i], NULL) == 0, "pthread_join");
        total = total * 1000003 + sums[i];
    }
    total = total * 1000003 + check(first, 99, 1);
    free(first);
    printf("gc_large: %d threads, %d buffers each, checksum %016llx\n", NTHREADS, STEPS,
           (unsigned long long)total);
    return 0;
}
