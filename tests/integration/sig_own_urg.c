/* sig_own_urg - a program with its own SIGURG handler gets exactly the
 * SIGURGs it sent itself, however many the runtime uses for preemption.
 * Meant for GRUN_MAXPROCS=1, where libgrun must preempt the spinners
 * (with SIGURG by default) for main to run at all.
 * Three threads spin call-free for about 1.5 s (TSC time) each while main
 * sends SIGURG to itself: 300 raise(), 300 pthread_kill(self) and 300
 * kill(getpid()) (main is the only thread that does not block SIGURG, so
 * the process-directed ones must land on it), each followed by a check that
 * the handler ran once more (raise and pthread_kill to self deliver before
 * they return; for kill main waits for it, up to 10 s). A helper thread
 * then sends 100 pthread_kill(main) while main sleeps, waiting for each to
 * arrive before the next (standard signals do not queue). Checks: the
 * handler ran exactly 1000 times, always on main, every siginfo says
 * SI_TKILL (raise, pthread_kill) or SI_USER with our pid (kill), and after
 * the spinners finish and everything is quiet for 200 ms the count is
 * still exactly 1000. */
#include "itest.h"

#include <signal.h>
#include <stdatomic.h>
#include <x86intrin.h>

#define NSPIN 3

static atomic_long hits;
static atomic_long wrong_thread;
static atomic_long wrong_info;
static pthread_t main_thread;
static uint64_t tsc_per_ms;
static atomic_int spinning;

static void on_urg(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    int saved = errno;
    if (sig != SIGURG || !((si->si_code == SI_TKILL || si->si_code == SI_USER) && si->si_pid == getpid()))
        atomic_fetch_add(&wrong_info, 1);
    if (!pthread_equal(pthread_self(), main_thread))
        atomic_fetch_add(&wrong_thread, 1);
    atomic_fetch_add(&hits, 1);
    errno = saved;
}

static void *spinner(void *arg)
{
    uint64_t x = (uint64_t)(intptr_t)arg + 1, end = __rdtsc() + 1500 * tsc_per_ms;
    atomic_fetch_add(&spinning, 1);
    while (__rdtsc() < end)
        for (int i = 0; i < 1000; i++)
            x = x * 6364136223846793005ull + 1442695040888963407ull;
    atomic_fetch_sub(&spinning, 1);
    return (void *)(uintptr_t)(x | 1);
}

static void wait_hits(long want, const char *what)
{
    int64_t limit = now_ns(CLOCK_MONOTONIC) + 10000000000LL;
    while (atomic_load(&hits) < want) {
        CHECK(now_ns(CLOCK_MONOTONIC) < limit, "%s: %ld handler runs, want %ld", what,
              atomic_load(&hits), want);
        struct timespec d = { 0, 200000 };
        nanosleep(&d, NULL);
    }
    CHECK(atomic_load(&hits) == want, "%s: %ld handler runs, want %ld", what, atomic_load(&hits), want);
}

static void *helper(void *arg)
{
    (void)arg;
    for (int i = 0; i < 100; i++) {
        long before = atomic_load(&hits);
        PT(pthread_kill(main_thread, SIGURG));
        int64_t limit = now_ns(CLOCK_MONOTONIC) + 10000000000LL;
        while (atomic_load(&hits) == before) {
            CHECK(now_ns(CLOCK_MONOTONIC) < limit, "pthread_kill(main) #%d never arrived", i);
            struct timespec d = { 0, 100000 };
            nanosleep(&d, NULL);
        }
    }
    return NULL;
}

int main(void)
{
    main_thread = pthread_self();
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    uint64_t c0 = __rdtsc();
    struct timespec cal = { 0, 50000000 };
    nanosleep(&cal, NULL);
    tsc_per_ms = (__rdtsc() - c0) * 1000000 / (uint64_t)(now_ns(CLOCK_MONOTONIC) - t0);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_urg;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGURG, &sa, NULL) == 0, "sigaction");

    /* Every other thread blocks SIGURG (the program's view). */
    sigset_t s;
    sigemptyset(&s);
    sigaddset(&s, SIGURG);
    PT(pthread_sigmask(SIG_BLOCK, &s, NULL));
    pthread_t sp[NSPIN], h;
    for (int i = 0; i < NSPIN; i++)
        PT(pthread_create(&sp[i], NULL, spinner, (void *)(intptr_t)i));
    PT(pthread_sigmask(SIG_UNBLOCK, &s, NULL));

    long want = 0;
    for (int i = 0; i < 300; i++) {
        CHECK(raise(SIGURG) == 0, "raise");
        want++;
        CHECK(atomic_load(&hits) == want, "raise #%d: %ld handler runs, want %ld", i,
              atomic_load(&hits), want);
        PT(pthread_kill(pthread_self(), SIGURG));
        want++;
        CHECK(atomic_load(&hits) == want, "pthread_kill(self) #%d: %ld handler runs, want %ld", i,
              atomic_load(&hits), want);
        CHECK(kill(getpid(), SIGURG) == 0, "kill");
        want++;
        wait_hits(want, "kill(getpid())");
    }
    printf("900 SIGURGs sent by raise, pthread_kill(self) and kill(getpid()): 900 handler runs\n");

    /* The helper blocks SIGURG (inherited from main's mask at creation). */
    PT(pthread_sigmask(SIG_BLOCK, &s, NULL));
    PT(pthread_create(&h, NULL, helper, NULL));
    PT(pthread_sigmask(SIG_UNBLOCK, &s, NULL));
    PT(pthread_join(h, NULL));
    want += 100;
    printf("100 pthread_kill(main) from a thread: 100 more handler runs\n");

    for (int i = 0; i < NSPIN; i++) {
        void *r;
        PT(pthread_join(sp[i], &r));
        CHECK(r != NULL, "spinner result");
    }
    struct timespec quiet = { 0, 200000000 };
    while (nanosleep(&quiet, &quiet) != 0)
        CHECK(errno == EINTR, "nanosleep");
    CHECK(atomic_load(&hits) == want, "%ld handler runs in all, want exactly %ld", atomic_load(&hits),
          want);
    CHECK(atomic_load(&wrong_thread) == 0, "%ld runs on a thread other than main",
          atomic_load(&wrong_thread));
    CHECK(atomic_load(&wrong_info) == 0, "%ld runs with a siginfo the program did not send",
          atomic_load(&wrong_info));
    printf("handler ran exactly %ld times, on main, with the program's own siginfo\n", want);
    return 0;
}
