/* sig_altstack - alternate signal stacks are per thread.
 * SIGUSR2's handler is installed with SA_ONSTACK; it records the address
 * of one of its locals and what sigaltstack() reports inside it.
 * 4 threads each install their own 64 KiB alternate stack (malloc'd) and
 * raise(SIGUSR2): the handler's local lies inside that thread's alternate
 * stack, sigaltstack() in the handler says SS_ONSTACK, and afterwards the
 * thread's alternate stack is still its own (ss_sp, ss_size, flags 0).
 * Then each sends SIGUSR2 to the next thread with pthread_kill while that
 * one sleeps: again on the target's own alternate stack. 2 threads without
 * an alternate stack (sigaltstack says SS_DISABLE, although the others set
 * theirs) run the handler on their own thread stack (the local lies within
 * pthread_getattr_np's stack range, in no alternate stack). Main, without
 * one, too. */
#include "itest.h"

#include <signal.h>
#include <stdatomic.h>

#define NALT 4
#define NPLAIN 2
#define ALTSZ 65536

struct rec {
    uintptr_t local;
    int ss_flags;
    pthread_t self;
};

static struct rec last;   /* written by the handler, read after it ran */
static atomic_int hits;
static char *alt[NALT];
static pthread_t tid[NALT];
static struct gate phase = GATE_INIT;
static struct gate done_kill = GATE_INIT;

static void on_usr2(int sig)
{
    (void)sig;
    volatile char here = 0;
    stack_t cur;
    last.ss_flags = sigaltstack(NULL, &cur) == 0 ? cur.ss_flags : -1;
    last.local = (uintptr_t)&here;
    last.self = pthread_self();
    atomic_fetch_add(&hits, 1);
}

static bool in_alt(uintptr_t p, int i)
{
    return p >= (uintptr_t)alt[i] && p < (uintptr_t)alt[i] + ALTSZ;
}

static pthread_mutex_t one = PTHREAD_MUTEX_INITIALIZER; /* one raise at a time */

static void check_own_stack(const char *who)
{
    pthread_attr_t a;
    void *lo;
    size_t sz;
    PT(pthread_getattr_np(pthread_self(), &a));
    PT(pthread_attr_getstack(&a, &lo, &sz));
    PT(pthread_attr_destroy(&a));
    stack_t cur;
    CHECK(sigaltstack(NULL, &cur) == 0 && (cur.ss_flags & SS_DISABLE), "%s: has an alternate stack", who);
    PT(pthread_mutex_lock(&one));
    int before = atomic_load(&hits);
    CHECK(raise(SIGUSR2) == 0, "raise");
    CHECK(atomic_load(&hits) == before + 1, "%s: handler did not run before raise returned", who);
    CHECK(pthread_equal(last.self, pthread_self()), "%s: handler ran on another thread", who);
    CHECK(last.local >= (uintptr_t)lo && last.local < (uintptr_t)lo + sz,
          "%s: handler's local %#lx outside the thread's stack [%p, +%zu)", who,
          (unsigned long)last.local, lo, sz);
    for (int i = 0; i < NALT; i++)
        CHECK(!in_alt(last.local, i), "%s: handler ran on thread %d's alternate stack", who, i);
    CHECK(last.ss_flags == SS_DISABLE, "%s: sigaltstack in the handler: flags %d", who, last.ss_flags);
    PT(pthread_mutex_unlock(&one));
}

static void *with_alt(void *arg)
{
    int i = (int)(intptr_t)arg;
    stack_t ss = { .ss_sp = alt[i], .ss_size = ALTSZ, .ss_flags = 0 }, cur;
    CHECK(sigaltstack(&ss, NULL) == 0, "sigaltstack: %s", strerror(errno));
    gate_meet(&phase, NALT + NPLAIN); /* everyone has set theirs (or not) */

    PT(pthread_mutex_lock(&one));
    int before = atomic_load(&hits);
    CHECK(raise(SIGUSR2) == 0, "raise");
    CHECK(atomic_load(&hits) == before + 1, "thread %d: handler did not run before raise returned", i);
    CHECK(pthread_equal(last.self, pthread_self()), "thread %d: handler ran on another thread", i);
    CHECK(in_alt(last.local, i), "thread %d: handler's local %#lx not on its alternate stack [%p, +%d)",
          i, (unsigned long)last.local, (void *)alt[i], ALTSZ);
    CHECK(last.ss_flags == SS_ONSTACK, "thread %d: sigaltstack in the handler: flags %d, want SS_ONSTACK",
          i, last.ss_flags);
    PT(pthread_mutex_unlock(&one));
    CHECK(sigaltstack(NULL, &cur) == 0 && cur.ss_sp == alt[i] && cur.ss_size == ALTSZ && cur.ss_flags == 0,
          "thread %d: alternate stack changed: sp %p size %zu flags %d", i, cur.ss_sp, cur.ss_size,
          cur.ss_flags);

    /* Now the others send to us while we sleep; we wait for our turn. */
    gate_meet(&phase, 2 * (NALT + NPLAIN));
    gate_wait(&done_kill, NALT);
    return NULL;
}

static void *plain(void *arg)
{
    char name[32];
    snprintf(name, sizeof name, "plain thread %d", (int)(intptr_t)arg);
    gate_meet(&phase, NALT + NPLAIN);
    check_own_stack(name);
    gate_meet(&phase, 2 * (NALT + NPLAIN));
    return NULL;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR2, &sa, NULL) == 0, "sigaction");
    for (int i = 0; i < NALT; i++)
        CHECK((alt[i] = malloc(ALTSZ)) != NULL, "malloc");

    pthread_t p[NPLAIN];
    for (int i = 0; i < NALT; i++)
        PT(pthread_create(&tid[i], NULL, with_alt, (void *)(intptr_t)i));
    for (int i = 0; i < NPLAIN; i++)
        PT(pthread_create(&p[i], NULL, plain, (void *)(intptr_t)i));
    gate_wait(&phase, 2 * (NALT + NPLAIN));
    printf("%d threads: handler on their own alternate stack (SS_ONSTACK)\n", NALT);
    printf("%d threads without one: handler on their own thread stack\n", NPLAIN);

    /* pthread_kill to each alternate-stack thread, parked in gate_wait. */
    for (int i = 0; i < NALT; i++) {
        int before = atomic_load(&hits);
        PT(pthread_kill(tid[i], SIGUSR2));
        int64_t limit = now_ns(CLOCK_MONOTONIC) + 10000000000LL;
        while (atomic_load(&hits) == before) {
            CHECK(now_ns(CLOCK_MONOTONIC) < limit, "pthread_kill to thread %d: handler never ran", i);
            struct timespec d = { 0, 1000000 };
            nanosleep(&d, NULL);
        }
        CHECK(pthread_equal(last.self, tid[i]), "pthread_kill to thread %d: ran on another thread", i);
        CHECK(in_alt(last.local, i), "pthread_kill to thread %d: not on its alternate stack", i);
        CHECK(last.ss_flags == SS_ONSTACK, "pthread_kill to thread %d: flags %d", i, last.ss_flags);
        gate_add(&done_kill, 1);
    }
    printf("pthread_kill to a parked thread: handler on the target's alternate stack\n");
    for (int i = 0; i < NALT; i++)
        PT(pthread_join(tid[i], NULL));
    for (int i = 0; i < NPLAIN; i++)
        PT(pthread_join(p[i], NULL));

    check_own_stack("main");
    printf("main: handler on its own stack\n");
    return 0;
}
