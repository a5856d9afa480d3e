/* sig_pthread_kill - thread-directed signals reach exactly the target.
 * SIGUSR1's handler (no SA_RESTART) records pthread_self() and counts.
 * pthread_kill(t, SIGUSR1) to a thread parked in:
 *  a. sleep(10): returns early with the seconds left (> 0);
 *  b. read() on an empty pipe: -1 EINTR;
 *  c. pthread_cond_wait(): returns 0 (spuriously, or when signalled after
 *     the handler ran); the waiter loops on its predicate;
 *  d. sigsuspend() with SIGUSR1 unblocked (blocked outside it, so there is
 *     no race): -1 EINTR, the mask restored afterwards;
 *  e. pause(): -1 EINTR;
 * and in each case the handler ran once, on the target. A target announces
 * itself and main waits 100 ms before sending, so the call is in progress.
 * Also: pthread_kill to self and raise() run the handler before they
 * return, on the caller; a thread that blocks SIGUSR1 does not get it
 * (sigpending shows it pending), and gets it, on itself, before its
 * pthread_sigmask(SIG_UNBLOCK) returns; pthread_kill with signal 0 checks
 * a live thread. Other threads run busy loops meanwhile. */
#include "itest.h"

#include <signal.h>
#include <stdatomic.h>

static atomic_int hits;
static _Atomic(pthread_t) handler_thread;
static struct gate ready = GATE_INIT;
static int fds[2];
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int pred;
static char result[160];
static atomic_int stop;

static void on_usr1(int sig)
{
    (void)sig;
    atomic_store(&handler_thread, pthread_self());
    atomic_fetch_add(&hits, 1);
}

static void unblock_usr1(void)
{
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    PT(pthread_sigmask(SIG_UNBLOCK, &s, NULL));
}

static void *target(void *arg)
{
    char what = (char)(intptr_t)arg;
    int r, e;
    switch (what) {
    case 'a':
        unblock_usr1();
        gate_add(&ready, 1);
        r = (int)sleep(10);
        CHECK(r > 0 && r <= 10, "sleep returned %d, want the seconds left", r);
        snprintf(result, sizeof result, "sleep returned early with time left");
        break;
    case 'b': {
        char c;
        unblock_usr1();
        gate_add(&ready, 1);
        ssize_t n = read(fds[0], &c, 1);
        e = errno;
        CHECK(n == -1 && e == EINTR, "read returned %zd (%s), want -1 EINTR", n,
              n < 0 ? strerrorname_np(e) : "data");
        snprintf(result, sizeof result, "read -1 EINTR");
        break;
    }
    case 'c':
        unblock_usr1();
        PT(pthread_mutex_lock(&mu));
        gate_add(&ready, 1);
        while (!pred)
            PT(pthread_cond_wait(&cv, &mu));
        PT(pthread_mutex_unlock(&mu));
        snprintf(result, sizeof result, "pthread_cond_wait returned 0");
        break;
    case 'd': {
        sigset_t wait_mask, now;
        PT(pthread_sigmask(SIG_BLOCK, NULL, &wait_mask));
        CHECK(sigismember(&wait_mask, SIGUSR1) == 1, "SIGUSR1 not blocked in the target");
        sigdelset(&wait_mask, SIGUSR1);
        gate_add(&ready, 1);
        r = sigsuspend(&wait_mask);
        e = errno;
        CHECK(r == -1 && e == EINTR, "sigsuspend returned %d (%s)", r, strerrorname_np(e));
        PT(pthread_sigmask(SIG_BLOCK, NULL, &now));
        CHECK(sigismember(&now, SIGUSR1) == 1, "sigsuspend did not restore the mask");
        snprintf(result, sizeof result, "sigsuspend -1 EINTR, mask restored");
        break;
    }
    case 'e':
        unblock_usr1();
        gate_add(&ready, 1);
        r = pause();
        e = errno;
        CHECK(r == -1 && e == EINTR, "pause returned %d (%s)", r, strerrorname_np(e));
        snprintf(result, sizeof result, "pause -1 EINTR");
        break;
    }
    return NULL;
}

static void parked(char what, const char *name)
{
    pthread_t t;
    atomic_store(&hits, 0);
    ready.count = 0;
    pred = 0;
    CHECK(pipe(fds) == 0, "pipe");
    PT(pthread_create(&t, NULL, target, (void *)(intptr_t)what));
    gate_wait(&ready, 1);
    struct timespec d = { 0, 100000000 };
    nanosleep(&d, NULL);
    PT(pthread_kill(t, 0));
    PT(pthread_kill(t, SIGUSR1));
    int64_t limit = now_ns(CLOCK_MONOTONIC) + 10000000000LL;
    while (atomic_load(&hits) == 0) {
        CHECK(now_ns(CLOCK_MONOTONIC) < limit, "%s: the handler never ran", name);
        struct timespec ms = { 0, 2000000 };
        nanosleep(&ms, NULL);
    }
    CHECK(pthread_equal(atomic_load(&handler_thread), t), "%s: the handler ran on another thread",
          name);
    if (what == 'c') {
        PT(pthread_mutex_lock(&mu));
        pred = 1;
        PT(pthread_cond_signal(&cv));
        PT(pthread_mutex_unlock(&mu));
    }
    PT(pthread_join(t, NULL));
    CHECK(atomic_load(&hits) == 1, "%s: the handler ran %d times", name, atomic_load(&hits));
    close(fds[0]);
    close(fds[1]);
    printf("%c. target in %-18s %s; handler ran once, on the target\n", what, name, result);
}

static void *busy(void *arg)
{
    (void)arg;
    volatile unsigned long x = 0;
    while (!atomic_load(&stop)) {
        for (int i = 0; i < 100000; i++)
            x += i;
        sched_yield();
    }
    return NULL;
}

static struct gate masked_step = GATE_INIT;

static void *masked(void *arg)
{
    (void)arg;
    sigset_t s, p;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    PT(pthread_sigmask(SIG_BLOCK, &s, NULL));
    gate_add(&masked_step, 1);  /* 1: blocked */
    gate_wait(&masked_step, 2); /* 2: main sent it */
    struct timespec d = { 0, 50000000 };
    nanosleep(&d, NULL);
    CHECK(atomic_load(&hits) == 0, "a blocked SIGUSR1 ran the handler");
    CHECK(sigpending(&p) == 0 && sigismember(&p, SIGUSR1) == 1,
          "SIGUSR1 sent to a thread blocking it is not pending");
    PT(pthread_sigmask(SIG_UNBLOCK, &s, NULL));
    CHECK(atomic_load(&hits) == 1, "unblocking: handler ran %d times before pthread_sigmask returned",
          atomic_load(&hits));
    CHECK(pthread_equal(atomic_load(&handler_thread), pthread_self()),
          "the pending SIGUSR1 ran on another thread");
    CHECK(sigpending(&p) == 0 && sigismember(&p, SIGUSR1) == 0, "SIGUSR1 still pending");
    return NULL;
}

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
    /* Block SIGUSR1 in main (and so by default in every thread it creates):
     * only the thread aimed at may take it. */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR1);
    PT(pthread_sigmask(SIG_BLOCK, &s, NULL));

    pthread_t b[2];
    for (int i = 0; i < 2; i++)
        PT(pthread_create(&b[i], NULL, busy, NULL));

    parked('a', "sleep:");
    parked('b', "read:");
    parked('c', "pthread_cond_wait:");
    parked('d', "sigsuspend:");
    parked('e', "pause:");

    /* To self: synchronous. */
    PT(pthread_sigmask(SIG_UNBLOCK, &s, NULL));
    atomic_store(&hits, 0);
    PT(pthread_kill(pthread_self(), SIGUSR1));
    CHECK(atomic_load(&hits) == 1, "pthread_kill(self): handler ran %d times before it returned",
          atomic_load(&hits));
    CHECK(pthread_equal(atomic_load(&handler_thread), pthread_self()), "pthread_kill(self): other thread");
    CHECK(raise(SIGUSR1) == 0, "raise");
    CHECK(atomic_load(&hits) == 2, "raise: handler ran %d times in all before it returned",
          atomic_load(&hits));
    CHECK(pthread_equal(atomic_load(&handler_thread), pthread_self()), "raise: other thread");
    printf("pthread_kill(self) and raise: handler ran before returning, on the caller\n");
    PT(pthread_sigmask(SIG_BLOCK, &s, NULL));

    /* A thread that blocks it. */
    pthread_t m;
    atomic_store(&hits, 0);
    PT(pthread_create(&m, NULL, masked, NULL));
    gate_wait(&masked_step, 1);
    PT(pthread_kill(m, SIGUSR1));
    gate_add(&masked_step, 1);
    PT(pthread_join(m, NULL));
    printf("blocked in the target: pending, delivered to it when it unblocks\n");

    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        PT(pthread_join(b[i], NULL));
    return 0;
}
