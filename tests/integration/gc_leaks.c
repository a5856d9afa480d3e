/* gc_leaks - the collector's leak count is exact (issue 7, phase 1).
 *
 * The program drops 1000 objects of 48 bytes and 10 of 100000 bytes (no
 * free, no reference left) and keeps objects reachable only through:
 *   a global; a __thread variable of a thread blocked in read(); a
 *   register (r12) of a thread spinning in a call-free asm loop; the stack
 *   of a thread blocked in read(); an anonymous mmap'd page; interior
 *   pointers (into a small and into a large object); a chain of heap
 *   objects hanging from a global.
 * Pointers held by the threads are stored XOR-masked in memory and
 * unmasked only where they are meant to be found. Under libgrun,
 * grun_debug_gc_leaked() runs a cycle before (baseline: libc's own
 * leaks) and after; the difference must be exactly the dropped objects and
 * their usable bytes: a missed root would add a kept object, a stale copy
 * of a dropped pointer would subtract one. Natively the program prints the
 * same lines without the check. */
#include "itest.h"

#include <dlfcn.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

#define MASK 0x5a5a5a5a5a5a5a5aull
#define NSMALL 1000
#define NLARGE 10

/* volatile: the program never reads most of them, and the compiler would
 * drop the stores (and with them the roots) otherwise. */
static void *volatile g_global;
static void **volatile g_chain;
static char *volatile g_interior_small, *volatile g_interior_large;
static void **volatile g_page;
static __thread void *volatile t_tls;
static volatile uint64_t masked_reg, masked_stk;
static volatile int stop;
static atomic_int ready;
static int pfd[2], tfd[2];

__attribute__((noinline)) static void touch(void *p, size_t n)
{
    memset(p, 0x11, n);
}

/* Allocation helpers that leave the pointer only where they store it. */
__attribute__((noinline)) static void make_masked(volatile uint64_t *dst, size_t n)
{
    void *p = malloc(n);
    touch(p, n);
    *dst = (uint64_t)(uintptr_t)p ^ MASK;
}

__attribute__((noinline)) static void make_tls(void)
{
    t_tls = malloc(72);
    touch(t_tls, 72);
}

/* Overwrite the stack below the caller's frame: stale copies of dropped
 * pointers in dead frames must not be found by the scan of this thread. */
__attribute__((noinline)) static void scrub(void)
{
    char buf[32768];
    memset(buf, 0, sizeof buf);
    __asm__ volatile("" : : "r"(buf) : "memory");	/* keep the memset */
}

static void *reg_spin(void *arg)
{
    (void)arg;
    make_masked(&masked_reg, 56);
    scrub();
    atomic_fetch_add(&ready, 1);
    __asm__ volatile(
        "movq %0, %%r12\n\t"
        "xorq %1, %%r12\n\t"
        "1: pause\n\t"
        "cmpl $0, %2\n\t"
        "je 1b\n\t"
        "xorq %%r12, %%r12\n\t"
        :
        : "m"(masked_reg), "r"(MASK), "m"(stop)
        : "r12", "memory", "cc");
    return NULL;
}

static void *stack_reader(void *arg)
{
    (void)arg;
    make_masked(&masked_stk, 88);
    scrub();
    volatile uint64_t local = masked_stk ^ MASK;
    (void)local;
    atomic_fetch_add(&ready, 1);
    char c;
    CHECK(read(pfd[0], &c, 1) == 1, "read: %s", strerror(errno));
    local = 0;
    return NULL;
}

static void *tls_reader(void *arg)
{
    (void)arg;
    make_tls();
    scrub();
    atomic_fetch_add(&ready, 1);
    char c;
    CHECK(read(tfd[0], &c, 1) == 1, "read: %s", strerror(errno));
    free((void *)t_tls);
    t_tls = NULL;
    return NULL;
}

/* The kept objects of the main thread. */
__attribute__((noinline)) static void keep(void)
{
    g_global = malloc(200);
    touch(g_global, 200);
    g_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(g_page != MAP_FAILED, "mmap");
    g_page[0] = malloc(300);
    touch(g_page[0], 300);
    char *s = malloc(48);
    touch(s, 48);
    g_interior_small = s + 24;
    char *l = malloc(70000);
    touch(l, 70000);
    g_interior_large = l + 50000;
    void **a = malloc(64), **b = malloc(64), **c = malloc(64);
    touch(c, 64);
    memset(a, 0, 64);
    memset(b, 0, 64);
    b[3] = c;
    a[5] = b;
    g_chain = a;
}

/* The dropped objects; returns their usable bytes. */
__attribute__((noinline)) static long drop(void)
{
    long bytes = 0;
    for (int i = 0; i < NSMALL; i++) {
        void *p = malloc(48);
        touch(p, 48);
        bytes += (long)malloc_usable_size(p);
    }
    for (int i = 0; i < NLARGE; i++) {
        void *p = malloc(100000);
        touch(p, 100000);
        bytes += (long)malloc_usable_size(p);
    }
    return bytes;
}

int main(void)
{
    long (*leaked)(long *) = (long (*)(long *))dlsym(RTLD_DEFAULT, "grun_debug_gc_leaked");
    bool grun = under_grun();
    printf("gc_leaks: %d small and %d large objects dropped\n", NSMALL, NLARGE);
    fflush(stdout);
    CHECK(pipe(pfd) == 0 && pipe(tfd) == 0, "pipe");
    pthread_t t[3];
    PT(pthread_create(&t[0], NULL, stack_reader, NULL));
    PT(pthread_create(&t[1], NULL, tls_reader, NULL));
    PT(pthread_create(&t[2], NULL, reg_spin, NULL));
    while (atomic_load(&ready) < 3)
        usleep(1000);
    usleep(20000);	/* the readers are in read() */

    long b0 = 0, n0 = 0, b1 = 0, n1 = 0, want = 0;
    if (grun && leaked) {
        n0 = leaked(&b0);
        CHECK(n0 >= 0, "grun_debug_gc_leaked failed");
    }
    keep();
    want = drop();
    scrub();
    if (grun && leaked) {
        n1 = leaked(&b1);
        CHECK(n1 >= 0, "grun_debug_gc_leaked failed");
        CHECK(n1 - n0 == NSMALL + NLARGE && b1 - b0 == want,
              "leaked %ld objects, %ld bytes; want %d, %ld (baseline %ld, %ld)", n1 - n0, b1 - b0,
              NSMALL + NLARGE, want, n0, b0);
        /* Dropping a kept object now makes it count: the roots were real. */
        g_chain[5] = NULL;	/* b and c */
        long b2;
        long n2 = leaked(&b2);
        CHECK(n2 - n1 == 2, "after dropping the chain's tail: %ld more, want 2", n2 - n1);
    }
    printf("gc_leaks: kept by a global, a __thread variable, a register, a blocked thread's stack,\n");
    printf("gc_leaks: an mmap'd page, interior pointers and a heap chain\n");

    stop = 1;
    CHECK(write(pfd[1], "x", 1) == 1 && write(tfd[1], "x", 1) == 1, "write");
    for (int i = 0; i < 3; i++)
        PT(pthread_join(t[i], NULL));
    printf("gc_leaks: ok\n");
    return 0;
}
