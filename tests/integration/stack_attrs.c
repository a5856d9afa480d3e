/* stack_attrs - thread stack attributes are honoured:
 *  - pthread_attr_setstacksize(64 KiB): the thread runs a 16 KiB frame, and
 *    pthread_getattr_np reports a stack >= 64 KiB that contains a local;
 *  - pthread_attr_setstacksize(16 MiB): a recursion needing ~12 MiB (more
 *    than the 8 MiB default) completes with the right result;
 *  - pthread_attr_setguardsize(64 KiB) round trip, and the thread's
 *    pthread_getattr_np reports a guard >= 64 KiB;
 *  - pthread_attr_setstack with a program-provided buffer: the thread runs
 *    on that very buffer (getattr_np reports it; a local lies inside);
 *  - default threads and main: getattr_np's stack contains a local;
 *  - detached threads (pthread_attr_setdetachstate and pthread_detach) run
 *    to completion, and getattr_np reports them detached. */
#include "itest.h"

#define KiB 1024UL
#define MiB (1024 * KiB)
#define NDETACHED 50

struct report {
    void *addr;
    size_t size, guard;
    int detach;
    uintptr_t local;
    long result;
};

static void get_report(struct report *r)
{
    pthread_attr_t a;
    volatile int local = 1;
    r->local = (uintptr_t)&local;
    PT(pthread_getattr_np(pthread_self(), &a));
    PT(pthread_attr_getstack(&a, &r->addr, &r->size));
    PT(pthread_attr_getguardsize(&a, &r->guard));
    PT(pthread_attr_getdetachstate(&a, &r->detach));
    PT(pthread_attr_destroy(&a));
}

static bool contains(const struct report *r, uintptr_t p)
{
    return p >= (uintptr_t)r->addr && p < (uintptr_t)r->addr + r->size;
}

static __attribute__((noipa)) long touch_frame(size_t n)
{
    volatile char buf[16 * 1024];
    long sum = 0;
    for (size_t i = 0; i < n && i < sizeof buf; i++)
        buf[i] = (char)i;
    for (size_t i = 0; i < n && i < sizeof buf; i++)
        sum += buf[i];
    return sum;
}

/* ~1 KiB per level, kept live across the call so it cannot become a loop. */
static __attribute__((noipa)) long deep(int n)
{
    volatile char buf[1000];
    buf[0] = (char)n;
    buf[999] = 1;
    if (n == 0)
        return 0;
    long r = deep(n - 1);
    return r + buf[999] + (buf[0] == (char)n ? 0 : 1000000);
}

static void *small_main(void *arg)
{
    struct report *r = arg;
    get_report(r);
    r->result = touch_frame(16 * 1024);
    return NULL;
}

static void *deep_main(void *arg)
{
    struct report *r = arg;
    get_report(r);
    r->result = deep(12 * 1024);
    return NULL;
}

static void *plain_main(void *arg)
{
    get_report(arg);
    return NULL;
}

static pthread_mutex_t det_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t det_cv = PTHREAD_COND_INITIALIZER;
static int det_done, det_bad;

static void *detached_main(void *arg)
{
    struct report r;
    get_report(&r);
    usleep(100);
    PT(pthread_mutex_lock(&det_mu));
    if (r.detach != PTHREAD_CREATE_DETACHED && arg == NULL)
        det_bad++;
    det_done++;
    PT(pthread_cond_signal(&det_cv));
    PT(pthread_mutex_unlock(&det_mu));
    return NULL;
}

static void run(pthread_attr_t *a, void *(*fn)(void *), struct report *r)
{
    pthread_t t;
    PT(pthread_create(&t, a, fn, r));
    PT(pthread_join(t, NULL));
    CHECK(contains(r, r->local), "local %#lx outside reported stack %p+%zu",
          (unsigned long)r->local, r->addr, r->size);
}

int main(void)
{
    pthread_attr_t a;
    struct report r;
    size_t sz;

    /* 64 KiB stack */
    PT(pthread_attr_init(&a));
    PT(pthread_attr_setstacksize(&a, 64 * KiB));
    PT(pthread_attr_getstacksize(&a, &sz));
    CHECK(sz == 64 * KiB, "getstacksize %zu", sz);
    run(&a, small_main, &r);
    CHECK(r.size >= 64 * KiB, "64 KiB thread reports %zu", r.size);
    CHECK(r.result == touch_frame(16 * 1024), "16 KiB frame result");
    PT(pthread_attr_destroy(&a));
    printf("stacksize 64 KiB: OK\n");

    /* 16 MiB stack, deep recursion */
    PT(pthread_attr_init(&a));
    PT(pthread_attr_setstacksize(&a, 16 * MiB));
    run(&a, deep_main, &r);
    CHECK(r.size >= 16 * MiB, "16 MiB thread reports %zu", r.size);
    CHECK(r.result == 12 * 1024, "deep recursion result %ld", r.result);
    PT(pthread_attr_destroy(&a));
    printf("stacksize 16 MiB, 12 MiB of recursion: OK\n");

    /* guard size */
    PT(pthread_attr_init(&a));
    PT(pthread_attr_setguardsize(&a, 64 * KiB));
    PT(pthread_attr_getguardsize(&a, &sz));
    CHECK(sz == 64 * KiB, "getguardsize %zu", sz);
    run(&a, plain_main, &r);
    CHECK(r.guard >= 64 * KiB, "thread reports guard %zu", r.guard);
    PT(pthread_attr_destroy(&a));
    printf("guardsize 64 KiB: OK\n");

    /* program-provided stack */
    size_t usz = 256 * KiB;
    void *ubuf = aligned_alloc(4096, usz);
    void *got;
    CHECK(ubuf, "aligned_alloc");
    PT(pthread_attr_init(&a));
    PT(pthread_attr_setstack(&a, ubuf, usz));
    PT(pthread_attr_getstack(&a, &got, &sz));
    CHECK(got == ubuf && sz == usz, "getstack round trip");
    run(&a, small_main, &r);
    CHECK(r.local >= (uintptr_t)ubuf && r.local < (uintptr_t)ubuf + usz,
          "thread did not run on the provided stack");
    CHECK(r.addr == ubuf && r.size == usz, "getattr_np reports %p+%zu, not the buffer", r.addr,
          r.size);
    PT(pthread_attr_destroy(&a));
    free(ubuf);
    printf("setstack with a program buffer: OK\n");

    /* defaults, and main */
    run(NULL, plain_main, &r);
    CHECK(r.detach == PTHREAD_CREATE_JOINABLE, "default thread detached");
    get_report(&r);
    CHECK(contains(&r, r.local), "main: local outside reported stack");
    printf("default thread and main: stack contains locals OK\n");

    /* detached threads */
    PT(pthread_attr_init(&a));
    PT(pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED));
    int ds;
    PT(pthread_attr_getdetachstate(&a, &ds));
    CHECK(ds == PTHREAD_CREATE_DETACHED, "getdetachstate");
    for (int i = 0; i < NDETACHED; i++) {
        pthread_t t;
        if (i % 2) {
            PT(pthread_create(&t, &a, detached_main, NULL));
        } else {
            PT(pthread_create(&t, NULL, detached_main, (void *)1));
            PT(pthread_detach(t));
        }
    }
    PT(pthread_attr_destroy(&a));
    PT(pthread_mutex_lock(&det_mu));
    while (det_done < NDETACHED)
        PT(pthread_cond_wait(&det_cv, &det_mu));
    CHECK(det_bad == 0, "%d threads created detached report joinable", det_bad);
    PT(pthread_mutex_unlock(&det_mu));
    printf("%d detached threads ran: OK\n", NDETACHED);
    return 0;
}
