/* misc - thread-management calls and mutex kinds beyond lock/unlock:
 *  - pthread_setconcurrency/getconcurrency round trip (0 by default,
 *    EINVAL for a negative level);
 *  - pthread_getaffinity_np/setaffinity_np on the caller and on another
 *    thread: pin to one allowed CPU, read it back, restore the full set;
 *    sched_getcpu() then reports that CPU;
 *  - pthread_getschedparam: SCHED_OTHER, priority 0; setschedparam with
 *    SCHED_OTHER/0 and setschedprio(0) succeed; priority 1 under
 *    SCHED_OTHER and a bad policy -> EINVAL;
 *  - pthread_getattr_default_np/setattr_default_np: a new default stack
 *    size is read back and used by the next pthread_create (its
 *    pthread_getattr_np reports at least that size); a stack size below
 *    PTHREAD_STACK_MIN -> EINVAL; the old default is restored;
 *  - pthread_kill(t, 0) on a live thread == 0;
 *  - pthread_getcpuclockid: the thread's CPU clock advances while it runs;
 *  - PTHREAD_PRIO_PROTECT mutex: pthread_mutex_getprioceiling returns the
 *    ceiling set in the attribute; mutexattr protocol round trip;
 *  - robust mutex: the owner exits holding it -> the next locker gets
 *    EOWNERDEAD; pthread_mutex_consistent + unlock make it usable again;
 *    a second owner death followed by an unlock without consistent ->
 *    ENOTRECOVERABLE for every later locker (lock, also on another
 *    thread, then trylock);
 *  - pthread_mutex_destroy of a locked (normal) mutex -> EBUSY. */
#include "itest.h"

#include <signal.h>

#define EXPECT(call, want)                                                        \
    do {                                                                          \
        int rc_ = (call);                                                         \
        CHECK(rc_ == (want), "%s -> %s, want %s", #call, strerrorname_np(rc_),    \
              strerrorname_np(want));                                             \
    } while (0)

static struct gate started = GATE_INIT, release = GATE_INIT;

static void *parked(void *arg)
{
    gate_add(&started, 1);
    gate_wait(&release, 1);
    return NULL;
}

static void check_concurrency(void)
{
    CHECK(pthread_getconcurrency() == 0, "default concurrency %d", pthread_getconcurrency());
    EXPECT(pthread_setconcurrency(4), 0);
    CHECK(pthread_getconcurrency() == 4, "concurrency %d after set 4", pthread_getconcurrency());
    EXPECT(pthread_setconcurrency(-1), EINVAL);
    CHECK(pthread_getconcurrency() == 4, "concurrency changed by EINVAL");
    EXPECT(pthread_setconcurrency(0), 0);
    CHECK(pthread_getconcurrency() == 0, "concurrency %d after set 0", pthread_getconcurrency());
    printf("setconcurrency/getconcurrency round trip, EINVAL OK\n");
}

static void check_affinity_of(pthread_t t, bool self, const char *what)
{
    cpu_set_t all, one, got;
    EXPECT(pthread_getaffinity_np(t, sizeof all, &all), 0);
    CHECK(CPU_COUNT(&all) >= 1, "%s: empty affinity", what);
    int cpu = -1;
    for (int i = CPU_SETSIZE - 1; i >= 0; i--)
        if (CPU_ISSET(i, &all))
            cpu = i; /* the lowest allowed CPU */
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    EXPECT(pthread_setaffinity_np(t, sizeof one, &one), 0);
    EXPECT(pthread_getaffinity_np(t, sizeof got, &got), 0);
    CHECK(CPU_EQUAL(&got, &one), "%s: affinity not read back after pinning", what);
    if (self) {
        sched_yield();
        CHECK(sched_getcpu() == cpu, "%s: runs on CPU %d, pinned to %d", what, sched_getcpu(),
              cpu);
    }
    EXPECT(pthread_setaffinity_np(t, sizeof all, &all), 0);
    EXPECT(pthread_getaffinity_np(t, sizeof got, &got), 0);
    CHECK(CPU_EQUAL(&got, &all), "%s: affinity not restored", what);
    printf("%s: setaffinity_np/getaffinity_np round trip OK\n", what);
}

static void *affinity_self(void *arg)
{
    check_affinity_of(pthread_self(), true, "affinity (thread, self)");
    return NULL;
}

static void check_affinity(pthread_t other)
{
    pthread_t t;
    check_affinity_of(pthread_self(), true, "affinity (main, self)");
    check_affinity_of(other, false, "affinity (another thread)");
    PT(pthread_create(&t, NULL, affinity_self, NULL));
    PT(pthread_join(t, NULL));
}

static void check_sched(pthread_t t, const char *what)
{
    struct sched_param sp = {.sched_priority = 7};
    int policy = -1;
    EXPECT(pthread_getschedparam(t, &policy, &sp), 0);
    CHECK(policy == SCHED_OTHER && sp.sched_priority == 0, "%s: policy %d priority %d", what,
          policy, sp.sched_priority);
    sp.sched_priority = 0;
    EXPECT(pthread_setschedparam(t, SCHED_OTHER, &sp), 0);
    EXPECT(pthread_setschedprio(t, 0), 0);
    sp.sched_priority = 1;
    EXPECT(pthread_setschedparam(t, SCHED_OTHER, &sp), EINVAL);
    EXPECT(pthread_setschedprio(t, 1), EINVAL);
    sp.sched_priority = 0;
    EXPECT(pthread_setschedparam(t, 12345, &sp), EINVAL);
    EXPECT(pthread_getschedparam(t, &policy, &sp), 0);
    CHECK(policy == SCHED_OTHER && sp.sched_priority == 0, "%s: policy %d priority %d after",
          what, policy, sp.sched_priority);
    printf("%s: SCHED_OTHER get/set/setschedprio, EINVAL OK\n", what);
}

static size_t seen_stack;
static void *report_stack(void *arg)
{
    pthread_attr_t a;
    PT(pthread_getattr_np(pthread_self(), &a));
    PT(pthread_attr_getstacksize(&a, &seen_stack));
    PT(pthread_attr_destroy(&a));
    return NULL;
}

static void check_default_attr(void)
{
    pthread_attr_t def, set, got;
    size_t old_size, sz;
    pthread_t t;
    PT(pthread_getattr_default_np(&def));
    PT(pthread_attr_getstacksize(&def, &old_size));
    CHECK(old_size >= (size_t)PTHREAD_STACK_MIN, "default stack size %zu", old_size);

    const size_t want = 3 << 20;
    PT(pthread_attr_init(&set));
    PT(pthread_attr_setstacksize(&set, want));
    EXPECT(pthread_setattr_default_np(&set), 0);
    PT(pthread_getattr_default_np(&got));
    PT(pthread_attr_getstacksize(&got, &sz));
    CHECK(sz == want, "default stack size %zu after setting %zu", sz, want);
    PT(pthread_attr_destroy(&got));
    PT(pthread_create(&t, NULL, report_stack, NULL));
    PT(pthread_join(t, NULL));
    CHECK(seen_stack >= want, "thread created after setattr_default_np has a %zu-byte stack",
          seen_stack);

    /* A bad setting is refused and changes nothing. */
    pthread_attr_t bad;
    PT(pthread_attr_init(&bad));
    static char stack_buf[1 << 16] __attribute__((aligned(4096)));
    PT(pthread_attr_setstack(&bad, stack_buf, sizeof stack_buf));
    EXPECT(pthread_setattr_default_np(&bad), EINVAL);
    PT(pthread_attr_destroy(&bad));
    PT(pthread_getattr_default_np(&got));
    PT(pthread_attr_getstacksize(&got, &sz));
    CHECK(sz == want, "default stack size %zu after a refused setting", sz);
    PT(pthread_attr_destroy(&got));

    PT(pthread_attr_setstacksize(&set, old_size));
    EXPECT(pthread_setattr_default_np(&set), 0);
    PT(pthread_getattr_default_np(&got));
    PT(pthread_attr_getstacksize(&got, &sz));
    CHECK(sz == old_size, "default stack size %zu after restoring %zu", sz, old_size);
    PT(pthread_attr_destroy(&got));
    PT(pthread_attr_destroy(&set));
    PT(pthread_attr_destroy(&def));
    printf("getattr_default_np/setattr_default_np: stack size set, used, EINVAL, restored OK\n");
}

static volatile unsigned long sink;
static void check_cpuclock(pthread_t other)
{
    clockid_t clk;
    struct timespec a, b;
    EXPECT(pthread_getcpuclockid(pthread_self(), &clk), 0);
    CHECK(clock_gettime(clk, &a) == 0, "clock_gettime(own cpu clock): %s", strerrorname_np(errno));
    int64_t until = now_ns(CLOCK_MONOTONIC) + 30000000;
    while (now_ns(CLOCK_MONOTONIC) < until)
        for (int i = 0; i < 10000; i++)
            sink += i;
    CHECK(clock_gettime(clk, &b) == 0, "clock_gettime: %s", strerrorname_np(errno));
    CHECK(ts_to_ns(&b) > ts_to_ns(&a), "own CPU clock did not advance while busy");
    EXPECT(pthread_getcpuclockid(other, &clk), 0);
    CHECK(clock_gettime(clk, &a) == 0, "clock_gettime(other's cpu clock): %s",
          strerrorname_np(errno));
    printf("pthread_getcpuclockid: CPU clock advances OK\n");
}

static void check_prioceiling(void)
{
    pthread_mutexattr_t a;
    pthread_mutex_t m;
    int v;
    int ceiling = sched_get_priority_min(SCHED_FIFO) + 2;
    PT(pthread_mutexattr_init(&a));
    PT(pthread_mutexattr_getprotocol(&a, &v));
    CHECK(v == PTHREAD_PRIO_NONE, "default protocol %d", v);
    PT(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_PROTECT));
    PT(pthread_mutexattr_getprotocol(&a, &v));
    CHECK(v == PTHREAD_PRIO_PROTECT, "protocol %d", v);
    PT(pthread_mutexattr_setprioceiling(&a, ceiling));
    PT(pthread_mutexattr_getprioceiling(&a, &v));
    CHECK(v == ceiling, "attr ceiling %d, want %d", v, ceiling);
    PT(pthread_mutex_init(&m, &a));
    v = -1;
    EXPECT(pthread_mutex_getprioceiling(&m, &v), 0);
    CHECK(v == ceiling, "mutex ceiling %d, want %d", v, ceiling);
    PT(pthread_mutex_destroy(&m));
    PT(pthread_mutexattr_setprotocol(&a, PTHREAD_PRIO_INHERIT));
    PT(pthread_mutexattr_getprotocol(&a, &v));
    CHECK(v == PTHREAD_PRIO_INHERIT, "protocol %d", v);
    PT(pthread_mutexattr_destroy(&a));
    printf("PTHREAD_PRIO_PROTECT: getprioceiling returns the attribute's ceiling OK\n");
}

static pthread_mutex_t robust;
static void *die_holding(void *arg)
{
    PT(pthread_mutex_lock(&robust));
    return NULL; /* exits with the mutex held */
}

static int lock_rc;
static void *lock_on_other(void *arg)
{
    lock_rc = pthread_mutex_lock(&robust);
    if (lock_rc == 0 || lock_rc == EOWNERDEAD)
        FAIL("lock on another thread got %s", strerrorname_np(lock_rc));
    return NULL;
}

static void check_robust(void)
{
    pthread_mutexattr_t a;
    pthread_t t;
    int v;
    PT(pthread_mutexattr_init(&a));
    PT(pthread_mutexattr_getrobust(&a, &v));
    CHECK(v == PTHREAD_MUTEX_STALLED, "default robustness %d", v);
    PT(pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST));
    PT(pthread_mutexattr_getrobust(&a, &v));
    CHECK(v == PTHREAD_MUTEX_ROBUST, "robustness %d", v);
    PT(pthread_mutex_init(&robust, &a));
    PT(pthread_mutexattr_destroy(&a));

    PT(pthread_create(&t, NULL, die_holding, NULL));
    PT(pthread_join(t, NULL));
    EXPECT(pthread_mutex_lock(&robust), EOWNERDEAD);
    EXPECT(pthread_mutex_consistent(&robust), 0);
    EXPECT(pthread_mutex_unlock(&robust), 0);
    EXPECT(pthread_mutex_lock(&robust), 0);
    EXPECT(pthread_mutex_unlock(&robust), 0);
    EXPECT(pthread_mutex_trylock(&robust), 0);
    EXPECT(pthread_mutex_unlock(&robust), 0);
    printf("robust: EOWNERDEAD, consistent, usable again OK\n");

    PT(pthread_create(&t, NULL, die_holding, NULL));
    PT(pthread_join(t, NULL));
    EXPECT(pthread_mutex_trylock(&robust), EOWNERDEAD);
    EXPECT(pthread_mutex_unlock(&robust), 0); /* without consistent */
    EXPECT(pthread_mutex_lock(&robust), ENOTRECOVERABLE);
    EXPECT(pthread_mutex_lock(&robust), ENOTRECOVERABLE);
    PT(pthread_create(&t, NULL, lock_on_other, NULL));
    PT(pthread_join(t, NULL));
    CHECK(lock_rc == ENOTRECOVERABLE, "lock on another thread -> %s", strerrorname_np(lock_rc));
    /* trylock last: glibc 2.36's trylock returns ENOTRECOVERABLE but leaves
     * the lock word taken (later lockers would block), so nothing uses the
     * mutex after it, not even destroy. */
    EXPECT(pthread_mutex_trylock(&robust), ENOTRECOVERABLE);
    printf("robust: unlock without consistent -> ENOTRECOVERABLE for later lockers OK\n");
}

static void check_destroy_busy(void)
{
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    PT(pthread_mutex_lock(&m));
    EXPECT(pthread_mutex_destroy(&m), EBUSY);
    PT(pthread_mutex_unlock(&m));
    EXPECT(pthread_mutex_destroy(&m), 0);
    printf("pthread_mutex_destroy of a locked mutex: EBUSY OK\n");
}

int main(void)
{
    pthread_t other;
    PT(pthread_create(&other, NULL, parked, NULL));
    gate_wait(&started, 1);

    check_concurrency();
    check_affinity(other);
    check_sched(pthread_self(), "schedparam (self)");
    check_sched(other, "schedparam (another thread)");
    check_default_attr();
    EXPECT(pthread_kill(other, 0), 0);
    EXPECT(pthread_kill(pthread_self(), 0), 0);
    printf("pthread_kill(t, 0) on live threads: 0 OK\n");
    check_cpuclock(other);
    check_prioceiling();
    check_robust();
    check_destroy_busy();

    gate_add(&release, 1);
    PT(pthread_join(other, NULL));
    return 0;
}
