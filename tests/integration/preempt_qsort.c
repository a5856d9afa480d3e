/* preempt_qsort - a qsort comparator that spins is never preempted inside
 * qsort (the G could hold a libc lock there), yet the other threads keep
 * running: the runtime hands the P on instead. Meant for GRUN_MAXPROCS=1.
 *
 * The sorter thread sorts 20000 records with a comparator that, every
 * 3000th call, spins call-free for about 15 ms (TSC), about 1.3 s a round.
 * Meanwhile a sleeper thread calls nanosleep(1 ms) in a loop. Checks:
 *  - the result is sorted and a permutation of the input (key sum, and
 *    every record's tag seen once);
 *  - the sleeper woke at least 20 times while qsort ran (with one P:
 *    only handing the P to another OS thread, or preemption, makes it so);
 *  - the kernel thread running the comparator never changes during one
 *    qsort, and the sleeper never runs on the sorter's kernel thread while
 *    qsort runs (either would mean the sorter was preempted and another G
 *    ran on its thread: natively both are trivially true). Kernel thread
 *    ids come from a raw syscall instruction (no libc, no shim).
 * Two rounds: qsort, then qsort_r with a context argument. */
#include "itest.h"

#include <stdatomic.h>
#include <sys/syscall.h>
#include <x86intrin.h>

#define N 20000
#define SPIN_EVERY 3000
#define SPIN_MS 15
#define MIN_WAKEUPS 20

struct rec {
    uint32_t key;
    uint32_t tag;
};

static struct rec v[N];
static uint64_t tsc_per_ms;
static atomic_int sorting;
static _Atomic long sorter_tid;     /* kernel tid of the comparator's thread */
static atomic_long tid_changes;     /* comparator saw a different kernel tid */
static long ncmp;
static long wakeups_sorting;
static atomic_long same_thread;     /* sleeper ran on the sorter's thread */
static atomic_int done;
static struct gate ready = GATE_INIT;

static long raw_gettid(void)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_gettid) : "rcx", "r11", "memory");
    return r;
}

static void maybe_spin(void)
{
    long tid = raw_gettid();
    long was = atomic_load_explicit(&sorter_tid, memory_order_relaxed);
    if (was != tid) {
        if (was != 0)
            atomic_fetch_add(&tid_changes, 1);
        atomic_store(&sorter_tid, tid);
    }
    if (++ncmp % SPIN_EVERY == 0) {
        uint64_t end = __rdtsc() + SPIN_MS * tsc_per_ms;
        while (__rdtsc() < end)
            __asm__ volatile("pause");
    }
}

static int cmp(const void *a, const void *b)
{
    const struct rec *x = a, *y = b;
    maybe_spin();
    return (x->key > y->key) - (x->key < y->key);
}

static int cmp_r(const void *a, const void *b, void *ctx)
{
    const struct rec *x = a, *y = b;
    CHECK(ctx == v, "qsort_r passed the wrong context");
    maybe_spin();
    return (x->key < y->key) - (x->key > y->key); /* descending */
}

static void *sleeper(void *arg)
{
    (void)arg;
    struct timespec ms = { 0, 1000000 };
    gate_add(&ready, 1);
    while (!atomic_load(&done)) {
        CHECK(nanosleep(&ms, NULL) == 0, "nanosleep: %s", strerror(errno));
        if (atomic_load(&sorting)) {
            wakeups_sorting++;
            long t = atomic_load(&sorter_tid);
            if (t != 0 && t == raw_gettid())
                atomic_fetch_add(&same_thread, 1);
        }
    }
    return NULL;
}

static void fill(void)
{
    uint32_t s = 12345;
    for (int i = 0; i < N; i++) {
        s = s * 1103515245 + 12345;
        v[i].key = s >> 8;
        v[i].tag = (uint32_t)i;
    }
}

static void check_sorted(bool desc, uint64_t keysum)
{
    static unsigned char seen[N];
    memset(seen, 0, sizeof seen);
    uint64_t sum = 0;
    for (int i = 0; i < N; i++) {
        sum += v[i].key;
        CHECK(v[i].tag < N && !seen[v[i].tag], "record tag %u lost or duplicated", v[i].tag);
        seen[v[i].tag] = 1;
        if (i > 0)
            CHECK(desc ? v[i - 1].key >= v[i].key : v[i - 1].key <= v[i].key,
                  "not sorted at %d", i);
    }
    CHECK(sum == keysum, "key sum changed");
}

static void *sorter(void *arg)
{
    bool r = arg != NULL;
    fill();
    uint64_t keysum = 0;
    for (int i = 0; i < N; i++)
        keysum += v[i].key;
    ncmp = 0;
    atomic_store(&sorter_tid, 0);
    atomic_store(&sorting, 1);
    if (r)
        qsort_r(v, N, sizeof v[0], cmp_r, v);
    else
        qsort(v, N, sizeof v[0], cmp);
    atomic_store(&sorting, 0);
    check_sorted(r, keysum);
    CHECK(ncmp > 4 * SPIN_EVERY, "only %ld comparisons", ncmp);
    return NULL;
}

static void calibrate_tsc(void)
{
    tsc_per_ms = tsc_ticks_per_ms();
}

int main(void)
{
    calibrate_tsc();
    for (int round = 0; round < 2; round++) {
        pthread_t sl, so;
        atomic_store(&done, 0);
        ready.count = 0;
        wakeups_sorting = 0;
        atomic_store(&same_thread, 0);
        atomic_store(&tid_changes, 0);
        PT(pthread_create(&sl, NULL, sleeper, NULL));
        gate_wait(&ready, 1);
        PT(pthread_create(&so, NULL, sorter, round ? (void *)1 : NULL));
        PT(pthread_join(so, NULL));
        atomic_store(&done, 1);
        PT(pthread_join(sl, NULL));
        const char *what = round ? "qsort_r" : "qsort";
        CHECK(atomic_load(&tid_changes) == 0,
              "%s: the comparator moved to another kernel thread %ld times (preempted inside %s)",
              what, atomic_load(&tid_changes), what);
        CHECK(atomic_load(&same_thread) == 0,
              "%s: the sleeper ran %ld times on the sorter's kernel thread during %s",
              what, atomic_load(&same_thread), what);
        CHECK(wakeups_sorting >= MIN_WAKEUPS,
              "%s: the 1 ms sleeper woke only %ld times during the sort: starved", what,
              wakeups_sorting);
        printf("%s: %d records sorted, comparator never preempted, sleeper progressed\n", what, N);
    }
    return 0;
}
