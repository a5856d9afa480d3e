/* gc_quarantine - GRUN_GC=quarantine: freed memory is not reused while
 * anything still refers to it, and is reused once nothing does (issue 7).
 *
 * Object A (64 bytes) is allocated, a copy of its pointer is kept in a
 * global (the dangling pointer) and A is freed. Then:
 *  1. four rounds of grun_debug_gc() and 16384 new 64-byte objects (kept,
 *     each filled with its own canary); under quarantine none of them may
 *     be A, and after each round the program writes through the dangling
 *     pointer (a use-after-free write): no live object's canary may change;
 *     the collector must report the dangling pointer (stats.dangling >= 1;
 *     its report goes to stderr, which is not compared);
 *  2. the dangling pointer is cleared, the phase-1 objects freed, two
 *     cycles run, and then 64-byte objects are allocated (kept, in batches
 *     of 65536, freed after each batch, at most 1M) until A's address comes
 *     back: under quarantine it must (memory is reused once no reference
 *     remains).
 * A's address is otherwise kept XOR-masked, and the helpers are noinline
 * with the stack below main scrubbed, so the global is the only reference.
 * Natively (and in the other modes) A may be reused at once: the checks
 * and the use-after-free write are made only when grun_debug_gc_stats says
 * quarantine; the same lines are printed either way. */
#include "itest.h"
#include "../../shims/grun_debug.h"

#define MASK 0x5a5a5a5a5a5a5a5aull
#define SIZE 64
#define NROUNDS 4
#define PER_ROUND 16384
#define BATCH 65536
#define MAXALLOC (1 << 20)

static void *volatile g_dangling;       /* the dangling pointer to A */
static volatile uint64_t masked_a;      /* A ^ MASK */
static uint64_t **volatile g_live;      /* phase 1's objects */

static uint64_t canary(size_t obj, size_t word)
{
    return 0xfeed000000000000ull ^ ((uint64_t)obj << 8) ^ word;
}

__attribute__((noinline)) static void scrub(void)
{
    char buf[32768];
    memset(buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");
}

__attribute__((noinline)) static void make_a(void)
{
    char *a = malloc(SIZE);
    CHECK(a, "malloc");
    memset(a, 0x41, SIZE);
    masked_a = (uint64_t)(uintptr_t)a ^ MASK;
    g_dangling = a;
}

__attribute__((noinline)) static void free_a(void)
{
    free((void *)(uintptr_t)(masked_a ^ MASK));
}

/* The use-after-free write (quarantine mode only: natively it would
 * corrupt glibc's free lists). */
__attribute__((noinline)) static void write_after_free(void)
{
    memset(g_dangling, 0xab, SIZE);
}

__attribute__((noinline)) static bool is_a(const void *p)
{
    return ((uint64_t)(uintptr_t)p ^ MASK) == masked_a;
}

/* Phase 1, one round: PER_ROUND new objects into g_live[base...]. */
__attribute__((noinline)) static void fill_round(int round, bool quarantine)
{
    for (size_t i = (size_t)round * PER_ROUND; i < (size_t)(round + 1) * PER_ROUND; i++) {
        uint64_t *p = malloc(SIZE);
        CHECK(p, "malloc");
        for (size_t w = 0; w < SIZE / 8; w++)
            p[w] = canary(i, w);
        if (quarantine)
            CHECK(!is_a(p), "round %d: malloc returned the freed object while a pointer to it remains", round);
        g_live[i] = p;
    }
}

/* The first live object whose canary changed, or -1. */
__attribute__((noinline)) static long check_live(size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t w = 0; w < SIZE / 8; w++)
            if (g_live[i][w] != canary(i, w))
                return (long)i;
    return -1;
}

/* Phase 2: allocate until A comes back; returns the allocations made. */
__attribute__((noinline)) static long find_a(bool *found)
{
    void **batch = malloc(BATCH * sizeof *batch);
    CHECK(batch, "malloc");
    long total = 0;
    *found = false;
    while (!*found && total < MAXALLOC) {
        int n = 0;
        while (n < BATCH && !*found) {
            void *p = malloc(SIZE);
            CHECK(p, "malloc");
            memset(p, 0x5c, SIZE);
            *found = is_a(p);
            batch[n++] = p;
        }
        total += n;
        for (int i = 0; i < n; i++)
            free(batch[i]);
    }
    free(batch);
    return total;
}

int main(void)
{
    long (*gc)(void) = (long (*)(void))dlsym(RTLD_DEFAULT, "grun_debug_gc");
    int (*stats)(struct grun_gc_stats *, size_t) =
        (int (*)(struct grun_gc_stats *, size_t))dlsym(RTLD_DEFAULT, "grun_debug_gc_stats");
    struct grun_gc_stats s0, s1;
    memset(&s0, 0, sizeof s0);
    int mode = -1;	/* native */
    if (stats) {
        CHECK(stats(&s0, sizeof s0) == 0, "grun_debug_gc_stats failed");
        mode = s0.mode;
    }
    bool quarantine = mode == GRUN_GC_QUARANTINE;
    bool cycles = gc && mode >= 0 && mode != GRUN_GC_OFF;

    g_live = malloc((size_t)NROUNDS * PER_ROUND * sizeof *g_live);
    CHECK(g_live, "malloc");
    make_a();
    free_a();
    scrub();

    /* Phase 1: A is referenced (by g_dangling). */
    for (int r = 0; r < NROUNDS; r++) {
        if (cycles)
            CHECK(gc() >= 0, "grun_debug_gc failed");
        fill_round(r, quarantine);
        if (quarantine)
            write_after_free();
    }
    long bad = check_live((size_t)NROUNDS * PER_ROUND);
    CHECK(bad < 0, "object %ld's canary changed: a write through the dangling pointer reached a live object", bad);
    if (cycles) {
        CHECK(stats(&s1, sizeof s1) == 0, "grun_debug_gc_stats failed");
        CHECK(s1.cycles >= s0.cycles + NROUNDS, "%llu cycles ran, want at least %d",
              (unsigned long long)(s1.cycles - s0.cycles), NROUNDS);
        if (quarantine)
            CHECK(s1.dangling > s0.dangling, "quarantine mode did not report the dangling pointer");
    }
    printf("gc_quarantine: a freed object is not reused while a pointer to it remains\n");
    printf("gc_quarantine: a write through that pointer reaches no live object\n");

    /* Phase 2: nothing refers to A any more. */
    for (size_t i = 0; i < (size_t)NROUNDS * PER_ROUND; i++) {
        free(g_live[i]);
        g_live[i] = NULL;	/* or quarantine would see it dangling */
    }
    g_dangling = NULL;
    scrub();
    if (cycles) {
        CHECK(gc() >= 0, "grun_debug_gc failed");
        CHECK(gc() >= 0, "grun_debug_gc failed");
    }
    bool found;
    long n = find_a(&found);
    if (quarantine)
        CHECK(found, "the freed object was not reused in %ld allocations after its last reference went", n);
    printf("gc_quarantine: it is reused once nothing refers to it\n");
    free(g_live);
    return 0;
}
